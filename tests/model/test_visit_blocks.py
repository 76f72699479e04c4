"""Visit blocks: structural invariants, and the same distribution as VisitGenerator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.factories import const, scenario, segment
from support.reference_visits import VisitGenerator

from simulator.config.loading import load_scenario
from simulator.config.scenario import Scenario
from simulator.model.pages import BACKGROUND, CLOSE, NAVIGATE
from simulator.model.visits import VisitBlock, VisitBlocks

BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.toml"
Z_LIMIT = 4.0  # two-sided, about 6e-5 per statistic; a failing statistic is redrawn once
N_COMPARE = 30000  # visits per side of each distribution comparison
N_GAPS = 200_000  # visitors per side of the return-gap comparison (cheap, and heavy-tailed)
PER_VISIT = ("pages", "duration", "background", "returns")  # also compared segment by segment


def mixed_scenario() -> Scenario:
    """Three segments with different behaviour, and every kind of event placement."""
    events = [
        {"name": "session_started", "kind": "session_start"},
        {"name": "first_visit", "kind": "first_visit"},
        {"name": "page_viewed", "kind": "page_view"},
        # per_page unset: the segment's ui_events_per_page, below and above 1.
        {"name": "link_clicked", "kind": "ui", "timing": "before_unload"},
        {"name": "menu_opened", "kind": "ui", "per_page": 1.7},
        {"name": "tab_tapped", "kind": "ui", "timing": "before_unload", "per_page": 0.3},
        {"name": "hovered", "kind": "ui"},
        {"name": "replay_chunk", "kind": "client_only", "timing": "load", "per_page": 0.6},
        {"name": "product_viewed", "kind": "funnel", "timing": "uniform"},
        {"name": "added_to_cart", "kind": "funnel", "timing": "before_unload"},
        {"name": "order_completed", "kind": "funnel", "has_value": True},
        {"name": "signed_up", "kind": "signup"},
        {"name": "newsletter_joined", "kind": "signup", "timing": "uniform", "has_value": True},
        {"name": "usage_reported", "kind": "offsite"},
    ]
    desk = segment("desk", "desktop", "chrome", share=0.5)
    desk["behaviour"] = {
        "pages_per_visit": {"kind": "uniform", "low": 0.0, "high": 5.0},
        "funnel": [0.8, 0.7, 0.9],
        "ui_events_per_page": 0.4,
        "last_page_exit": {"close": 0.8, "background": 0.2},
        "signup_probability": 0.1,
        "dwell_seconds": {"kind": "exponential", "mean": 20.0},
    }
    mob = segment("mob", "mobile", "safari", share=0.3)
    mob["behaviour"] = {
        "pages_per_visit": {"kind": "lognormal", "median": 2.0, "sigma": 0.8},
        "funnel": [0.9, 0.8, 0.95],
        "ui_events_per_page": 1.3,
        "last_page_exit": {"close": 0.4, "background": 0.6},
        "signup_probability": 0.05,
        "time_to_unload_seconds": {"kind": "uniform", "low": 0.1, "high": 3.0},
        "order_value": {"kind": "gamma", "shape": 2.0, "scale": 30.0},
        "return_probability": 0.5,
        "return_gap_hours": {"kind": "gamma", "shape": 2.0, "scale": 5.0},
    }
    tab = segment("tab", "tablet", "safari", share=0.2)  # inherits the scenario's behaviour
    population = {"segments": [desk, mob, tab]}
    behaviour = {"funnel": [0.5, 0.5, 0.5], "dwell_seconds": {"kind": "exponential", "mean": 4.0}}
    return scenario(events=events, population=population, behaviour=behaviour)


SCENARIOS = {"baseline": lambda: load_scenario(BASELINE), "mixed": mixed_scenario}


def visitors(sc: Scenario, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Segments by their shares, and about 60% first visits."""
    rng = np.random.default_rng(seed)
    shares = np.array([s.share for s in sc.population.segments])
    return rng.choice(shares.size, n, p=shares / shares.sum()), rng.random(n) < 0.6


# --- structure ------------------------------------------------------------------------------


def check_structure(sc: Scenario, b: VisitBlock, first: np.ndarray) -> None:
    n = first.size
    kinds = np.array([e.kind for e in sc.events])
    timing = np.array([e.resolved_timing for e in sc.events])
    has_value = np.array([e.has_value for e in sc.events])
    for name in ("first_page", "n_pages", "page_visit", "event_page", "event_type"):
        assert getattr(b, name).dtype == np.int64, name
    for name in ("duration", "page_start", "page_dwell", "event_offset", "event_value"):
        assert getattr(b, name).dtype == np.float64, name
    assert b.page_end.dtype == np.int8
    assert b.event_page.shape == b.event_type.shape == b.event_offset.shape == b.event_value.shape

    # Pages: contiguous per visit, in order, starting at the cumulative dwell.
    assert (b.n_pages >= 1).all()
    assert (b.first_page == np.concatenate([[0], np.cumsum(b.n_pages)[:-1]])).all()
    assert (b.page_visit == np.repeat(np.arange(n), b.n_pages)).all()
    rank = np.arange(b.page_visit.size) - b.first_page[b.page_visit]
    last = b.first_page + b.n_pages - 1
    assert (b.page_start[b.first_page] == 0.0).all()
    later = np.flatnonzero(rank > 0)
    tolerance = 64 * np.finfo(float).eps * b.page_dwell.sum()  # running sums over the block
    np.testing.assert_allclose(
        b.page_start[later], b.page_start[later - 1] + b.page_dwell[later - 1], atol=tolerance
    )
    assert (b.duration == b.page_start[last] + b.page_dwell[last]).all()
    np.testing.assert_allclose(b.duration, np.add.reduceat(b.page_dwell, b.first_page))
    assert (b.page_end[rank < b.n_pages[b.page_visit] - 1] == NAVIGATE).all()
    assert np.isin(b.page_end[last], [CLOSE, BACKGROUND]).all()

    # Events: on valid pages, within the page, placed by kind and timing.
    page, kind = b.event_page, kinds[b.event_type]
    assert ((page >= 0) & (page < b.page_visit.size)).all()
    assert ((b.event_type >= 0) & (b.event_type < len(sc.events))).all()
    assert ((b.event_offset >= 0) & (b.event_offset <= b.page_dwell[page])).all()
    assert (b.event_offset[timing[b.event_type] == "load"] == 0.0).all()
    assert "offsite" not in kind
    visit = b.page_visit[page]
    for i, e in enumerate(sc.events):
        mine = b.event_type == i
        if e.kind == "session_start":
            assert (np.sort(page[mine]) == b.first_page).all()
        if e.kind == "first_visit":
            assert (np.sort(page[mine]) == b.first_page[first]).all()
        if e.kind == "page_view":
            assert (np.sort(page[mine]) == np.arange(b.page_visit.size)).all()
        if e.kind in ("ui", "client_only") and e.resolved_timing == "before_unload":
            assert (b.page_end[page[mine]] == NAVIGATE).all()
        if e.kind == "signup":
            assert np.bincount(visit[mine], minlength=n).max(initial=0) <= 1
    assert (b.event_value[~has_value[b.event_type]] == 0.0).all()
    assert (b.event_value[has_value[b.event_type]] > 0.0).all()

    # Funnel: the first `reached` steps once each, on the visit's last pages in order.
    funnel = [i for i, e in enumerate(sc.events) if e.kind == "funnel"]
    step_of = np.full(len(sc.events), -1)
    step_of[funnel] = np.arange(len(funnel))
    is_step = step_of[b.event_type] >= 0
    step, step_visit = step_of[b.event_type[is_step]], visit[is_step]
    counts = np.zeros((n, len(funnel)), dtype=int)
    np.add.at(counts, (step_visit, step), 1)
    reached = counts.sum(axis=1)
    assert (counts == (np.arange(len(funnel)) < reached[:, None])).all()
    assert (b.n_pages >= reached).all()
    expected = b.n_pages[step_visit] - reached[step_visit] + step
    assert (rank[page[is_step]] == expected).all()
    if funnel:
        order = b.event_type == funnel[-1]
        assert (page[order] == last[visit[order]]).all()


@pytest.mark.parametrize("name", SCENARIOS)
def test_block_structure(name):
    sc = SCENARIOS[name]()
    segment, first = visitors(sc, 4000, seed=1)
    b = VisitBlocks(sc, np.random.default_rng(2)).draw(segment, first)
    check_structure(sc, b, first)
    assert b.event_type.size > 4000


def test_without_funnel_events_and_single_page_visits():
    events = [
        {"name": "page_viewed", "kind": "page_view"},
        {"name": "link_clicked", "kind": "ui", "timing": "before_unload", "per_page": 1.0},
        {"name": "signed_up", "kind": "signup", "has_value": True},
    ]
    sc = scenario(events=events, behaviour={"pages_per_visit": const(1.0)})
    segment, first = visitors(sc, 2000, seed=3)
    b = VisitBlocks(sc, np.random.default_rng(4)).draw(segment, first)
    check_structure(sc, b, first)
    assert (b.n_pages == 1).all()
    assert not (b.event_type == 1).any()  # no page navigates, so no navigating click


def test_empty_block_and_return_gaps():
    sc = mixed_scenario()
    blocks = VisitBlocks(sc, np.random.default_rng(7))
    b = blocks.draw(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))
    assert b.n_pages.size == b.page_visit.size == b.event_type.size == 0
    assert blocks.return_gaps(np.zeros(0, dtype=np.int64)).shape == (0,)
    gaps = blocks.return_gaps(visitors(sc, 5000, seed=8)[0])
    assert gaps.dtype == np.float64
    assert (gaps > 0).all() and np.isinf(gaps).any() and np.isfinite(gaps).any()


# --- distribution agreement with VisitGenerator ---------------------------------------------
#
# Each statistic is a mean over samples (visits, pages, events or visitors) of one side. Samples
# of one visit are correlated (a long visit has many late pages, each page's events share its
# dwell), so every sample carries its cluster, the visit, and the standard error is the
# cluster-robust one of a ratio estimator.

Sample = tuple[np.ndarray, np.ndarray, np.ndarray]  # values, cluster, segment of each value


def sample(values, cluster: np.ndarray, segment: np.ndarray) -> Sample:
    return np.asarray(values, dtype=float), np.asarray(cluster), np.asarray(segment)


def block_samples(sc: Scenario, segment: np.ndarray, first: np.ndarray, seed: int) -> dict:
    """Samples of every compared statistic, from VisitBlocks."""
    blocks = VisitBlocks(sc, np.random.default_rng(seed))
    b = blocks.draw(segment, first)
    visitors_ = np.arange(N_GAPS)
    gap_segment = np.resize(segment, N_GAPS)
    gaps = blocks.return_gaps(gap_segment)
    back = np.isfinite(gaps)
    visits = np.arange(segment.size)
    last = b.first_page + b.n_pages - 1
    out = {
        "pages": sample(b.n_pages, visits, segment),
        "duration": sample(b.duration, visits, segment),
        "background": sample(b.page_end[last] == BACKGROUND, visits, segment),
        "returns": sample(back, visitors_, gap_segment),
        "gap_hours": sample(gaps[back] / 3600.0, visitors_[back], gap_segment[back]),
    }
    visit = b.page_visit[b.event_page]
    rank = b.event_page - b.first_page[visit]
    for i, e in enumerate(sc.events):
        mine = b.event_type == i
        on, at = visit[mine], segment[visit[mine]]
        per_page = np.bincount(b.event_page[mine], minlength=b.page_visit.size)
        out[f"count {e.name}"] = sample(np.bincount(on, minlength=segment.size), visits, segment)
        out[f"per page {e.name}"] = sample(per_page, b.page_visit, segment[b.page_visit])
        out[f"page rank {e.name}"] = sample(rank[mine], on, at)
        out[f"offset {e.name}"] = sample(b.event_offset[mine], on, at)
        out[f"value {e.name}"] = sample(b.event_value[mine], on, at)
    return out


def generator_samples(sc: Scenario, segment: np.ndarray, first: np.ndarray, seed: int) -> dict:
    """The same samples as :func:`block_samples`, from VisitGenerator one visit at a time."""
    gen = VisitGenerator(sc, np.random.default_rng(seed))
    n_events = len(sc.events)
    counts = np.zeros((segment.size, n_events), dtype=np.int64)
    per_page, page_visit = [], []
    events: list[list[tuple]] = [[] for _ in range(n_events)]  # (visit, rank, offset, value)
    pages, duration, background = [], [], []
    for v, (s, f) in enumerate(zip(segment.tolist(), first.tolist(), strict=True)):
        visit = gen.visit(s, f)
        pages.append(len(visit))
        duration.append(visit[-1].start + visit[-1].dwell)
        background.append(visit[-1].end == BACKGROUND)
        for rank, page in enumerate(visit):
            on_page = [0] * n_events
            for offset, i, value in page.events:
                counts[v, i] += 1
                on_page[i] += 1
                events[i].append((v, rank, offset, value))
            per_page.append(on_page)
            page_visit.append(v)
    visitors_ = np.arange(N_GAPS)
    gap_segment = np.resize(segment, N_GAPS)
    gaps = np.array([gen.returns(s) for s in gap_segment.tolist()], dtype=float)  # None -> nan
    back = ~np.isnan(gaps)
    visits = np.arange(segment.size)
    per_page, page_visit = np.array(per_page), np.array(page_visit)
    out = {
        "pages": sample(pages, visits, segment),
        "duration": sample(duration, visits, segment),
        "background": sample(background, visits, segment),
        "returns": sample(back, visitors_, gap_segment),
        "gap_hours": sample(gaps[back] / 3600.0, visitors_[back], gap_segment[back]),
    }
    for i, e in enumerate(sc.events):
        on, rank, offset, value = np.array(events[i], dtype=float).reshape(-1, 4).T
        on = on.astype(np.int64)
        out[f"count {e.name}"] = sample(counts[:, i], visits, segment)
        out[f"per page {e.name}"] = sample(per_page[:, i], page_visit, segment[page_visit])
        out[f"page rank {e.name}"] = sample(rank, on, segment[on])
        out[f"offset {e.name}"] = sample(offset, on, segment[on])
        out[f"value {e.name}"] = sample(value, on, segment[on])
    return out


def mean_and_se(values: np.ndarray, cluster: np.ndarray) -> tuple[float, float, int]:
    """Mean over samples, its cluster-robust standard error, and the number of clusters."""
    _, c = np.unique(cluster, return_inverse=True)
    total, size = np.bincount(c, weights=values), np.bincount(c).astype(float)
    n, mean = total.size, values.mean()
    residual = total - mean * size
    return mean, np.sqrt(n / (n - 1) * (residual**2).sum()) / size.sum(), n


def z_scores(a: dict, b: dict) -> dict[str, float]:
    """Two-sample z statistic of each mean, overall and per segment for per-visit samples."""
    pairs = {}
    for key in a:
        pairs[key] = (a[key], b[key])
        if key in PER_VISIT or key.startswith("count "):
            for s in np.unique(a[key][2]):
                pairs[f"{key} | segment {s}"] = tuple(
                    (x[seg == s], c[seg == s], seg[seg == s]) for x, c, seg in (a[key], b[key])
                )
    z = {}
    for key, ((x, cx, _), (y, cy, _)) in pairs.items():
        if min(np.unique(cx).size, np.unique(cy).size) < 30:  # too rare to compare
            assert max(x.size, y.size) < 100, f"{key}: {x.size} against {y.size} samples"
            continue
        (mx, sx, _), (my, sy, _) = mean_and_se(x, cx), mean_and_se(y, cy)
        se = np.hypot(sx, sy)
        if se == 0.0:  # constant on both sides (session starts per visit): must be equal
            z[key] = 0.0 if mx == my else np.inf
        else:
            z[key] = (mx - my) / se
    return z


def failing(sc: Scenario, seed: int) -> dict[str, float]:
    segment, first = visitors(sc, N_COMPARE, seed)
    a = block_samples(sc, segment, first, seed + 1)
    b = generator_samples(sc, segment, first, seed + 2)
    z = z_scores(a, b)
    assert len(z) > 20
    return {k: v for k, v in z.items() if not abs(v) < Z_LIMIT}


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_distribution_as_visit_generator(name):
    sc = SCENARIOS[name]()
    first_try = failing(sc, seed=11)
    if first_try:
        # Redraw once with new seeds; a statistic must fail twice to fail the test.
        again = failing(sc, seed=101)
        still = {k: (first_try[k], again[k]) for k in first_try if k in again}
        assert not still, f"z beyond {Z_LIMIT} twice: {still}"
