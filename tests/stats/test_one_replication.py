"""Do the intervals and tests of a single replication hold when a visitor's events share a fate?

The default run has one replication, so its intervals come from the random groups of visitors
(:mod:`simulator.stats.intervals`). The scenarios are thinning ones (``bias_factories``):
nothing is lost except by script blocking, and a blocked visitor loses every event at once.
Visitors browse many pages, so page views are strongly clustered: an interval that treats
events as independent covers the true loss far less than 95% of the time.

Every count of covering intervals or rejections is binomial: the tolerance is three of its
standard deviations, and each check may redraw once with a fresh seed before failing.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats
from support.bias_factories import VISIT_EVENTS, expected_received_share, segment
from support.factories import scenario
from support.running import run

from simulator.config.scenario import Scenario
from simulator.replications.result import RunResult
from simulator.stats.summary import summarise

USERS = 300
PAGES = 8.0  # mean pages per visit
BLOCKED = 0.31  # both devices: loss is independent of device and country (the null holds)
SEEDS = (11, 22)
FAST, SLOW = 150, 2000  # single-replication runs


def thinning(desktop_blocked: float = BLOCKED, desktop_pages: float | None = None) -> Scenario:
    """Desktop and mobile visitors, one visit each of many pages (geometric, mean 8).

    Desktop visitors may be blocked more often, or browse more deeply (``desktop_pages``).
    """
    desk = segment("desk", "desktop", "chrome", 0.5, desktop_blocked)
    if desktop_pages is not None:
        desk["behaviour"] = {"pages_per_visit": {"kind": "geometric", "mean": desktop_pages}}
    pages = {"kind": "geometric", "mean": PAGES}
    return scenario(
        users=USERS,
        population={"segments": [desk, segment("mob", "mobile", "safari", 0.5, BLOCKED)]},
        events=VISIT_EVENTS,
        behaviour={"return_probability": 0.0, "funnel": [], "pages_per_visit": pages},
        simulation={"horizon_hours": 24, "drain_hours": 1, "replications": 1, "seed": 1},
    )


@dataclass(frozen=True)
class Draw:
    runs: int
    covered: dict[str, int]  # figure -> runs whose interval holds the true value
    p_device: np.ndarray  # independence test of page_viewed by device, per run
    tvd_zero: int  # runs whose country TVD interval holds 0 (no country shift)
    tvd_raw: float  # mean uncorrected country TVD
    tvd: float  # mean corrected country TVD


@functools.cache
def draw(runs: int, seed: int, desktop_blocked: float = BLOCKED, desktop_pages=None) -> Draw:
    sc = thinning(desktop_blocked, desktop_pages)
    result = run(sc, replications=runs, seed=seed)
    true_diff = expected_received_share(0.5, desktop_blocked, BLOCKED) - 0.5
    pages = PAGES if desktop_pages is None else desktop_pages  # desktop's; mobile's is PAGES
    true_loss = {
        "page_viewed": (pages * desktop_blocked + PAGES * BLOCKED) / (pages + PAGES),
        "session_started": (desktop_blocked + BLOCKED) / 2,
    }
    covered = dict.fromkeys(("page_viewed", "session_started", "desktop_shift", "tvd"), 0)
    p_device, tvd_zero, raw, tvd = [], 0, [], []
    for i in range(runs):
        one = RunResult(sc, result.tallies[i : i + 1], result.metas[i : i + 1], 0.0)
        rows = {r["event"]: r for r in summarise(one)["results"]}
        for event, loss in true_loss.items():
            lo, hi = rows[event]["loss_ci"]
            covered[event] += lo <= loss <= hi
        pv = rows["page_viewed"]["bias"]
        lo, hi = pv["device"]["shares"]["desktop"]["diff_ci"]
        covered["desktop_shift"] += lo <= true_diff <= hi
        lo, hi = pv["device"]["tvd_ci"]  # two categories: the true TVD is |true_diff|
        covered["tvd"] += lo <= abs(true_diff) <= hi
        p_device.append(pv["device"]["p_value"])
        tvd_zero += pv["country"]["tvd_ci"][0] == 0.0
        shares = pv["country"]["shares"].values()
        raw.append(0.5 * sum(abs(s["diff"]) for s in shares))
        tvd.append(pv["country"]["tvd"])
    return Draw(runs, covered, np.array(p_device), tvd_zero, float(np.mean(raw)), np.mean(tvd))


def within(count: int, n: int, p: float, sigmas: float = 3.0) -> bool:
    """Is a binomial count within ``sigmas`` standard deviations of ``n p``?"""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def redraw_once(check, *args):
    """Run ``check(draw)`` on the first seed, and on the second if it fails."""
    ok, message = check(draw(args[0], SEEDS[0], *args[1:]))
    if not ok:
        ok, message = check(draw(args[0], SEEDS[1], *args[1:]))
    assert ok, message


def _coverage(d: Draw) -> tuple[bool, str]:
    # The TVD interval is conservative by construction (its ends use the corrected and the
    # uncorrected TVD): it must cover at least at the nominal rate.
    intervals = {k: c for k, c in d.covered.items() if k != "tvd"}
    ok = all(within(c, d.runs, 0.95) for c in intervals.values())
    ok &= d.covered["tvd"] >= d.runs * 0.95 - 3 * math.sqrt(d.runs * 0.95 * 0.05)
    return ok, f"covered of {d.runs}: {d.covered}"


def _uniform(d: Draw) -> tuple[bool, str]:
    p = stats.kstest(d.p_device, "uniform").pvalue
    below = float(np.mean(d.p_device < 0.05))
    return p > 0.001, f"KS p = {p:.4g}, share below 0.05 = {below:.3f}"


def _tvd_covers_zero(d: Draw) -> tuple[bool, str]:
    # The interval holds 0 at least at the nominal rate, and the correction removes most of
    # the plain TVD's upward bias (its mean is several standard errors of a share).
    ok = d.tvd_zero >= d.runs * 0.95 - 3 * math.sqrt(d.runs * 0.95 * 0.05)
    ok &= d.tvd < 0.5 * d.tvd_raw
    return ok, f"0 in {d.tvd_zero}/{d.runs}; mean TVD {d.tvd:.4f}, uncorrected {d.tvd_raw:.4f}"


def test_one_replication_intervals_cover_clustered_losses():
    redraw_once(_coverage, FAST)


def test_independence_p_values_are_uniform_when_segments_browse_alike():
    redraw_once(_uniform, FAST)


def test_independence_p_values_are_uniform_when_desktop_browses_more_deeply():
    redraw_once(_uniform, FAST, BLOCKED, 20.0)


def test_independence_test_detects_a_different_blocker_mix_and_intervals_cover_the_shift():
    def rejects(d: Draw) -> tuple[bool, str]:
        rate = float(np.mean(d.p_device < 0.05))
        ok, message = _coverage(d)
        return ok and rate > 0.5, f"rejection rate {rate:.3f}; {message}"

    redraw_once(rejects, FAST, 0.6)


def test_tvd_is_corrected_and_its_interval_holds_zero_without_a_shift():
    redraw_once(_tvd_covers_zero, FAST)


@pytest.mark.slow
def test_independence_p_values_are_uniform_across_replications_when_browsing_differs():
    sc = thinning(BLOCKED, 20.0)

    def check(seed: int) -> tuple[bool, str]:
        result = run(sc, replications=3 * FAST, seed=seed)
        p = []
        for i in range(FAST):
            part = slice(3 * i, 3 * i + 3)
            record = summarise(RunResult(sc, result.tallies[part], result.metas[part], 0.0))
            row = next(r for r in record["results"] if r["event"] == "page_viewed")
            p.append(row["bias"]["device"]["p_value"])
        return _uniform(Draw(FAST, {}, np.array(p), 0, 0.0, 0.0))

    ok, message = check(SEEDS[0])
    if not ok:
        ok, message = check(SEEDS[1])
    assert ok, message


@pytest.mark.slow
def test_one_replication_intervals_cover_93_to_97_percent_over_2000_runs():
    redraw_once(_coverage, SLOW)
    d = draw(SLOW, SEEDS[0])
    assert all(0.93 <= c / d.runs <= 0.97 for k, c in d.covered.items() if k != "tvd"), d.covered
