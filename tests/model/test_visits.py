"""Visit blocks (VisitBlocks, the engine's visits): funnel depth, pages and events, returns.

Each test draws one block of many visits at once and checks it against the model: exact
properties on every visit, frequencies by exact binomial tests, a distribution by a
Kolmogorov-Smirnov test, each at the level ``P_LIMIT``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from support.factories import const, scenario

from simulator.model.pages import BACKGROUND, CLOSE, NAVIGATE
from simulator.model.visits import VisitBlock, VisitBlocks

P_LIMIT = 0.001


def blocks(**behaviour) -> tuple:
    sc = scenario(behaviour=behaviour)
    return sc, VisitBlocks(sc, np.random.default_rng(4))


def segments(n: int) -> np.ndarray:
    """Visitors of both segments (the behaviour is the scenario's, the same for both)."""
    return np.arange(n) % 2


def draw(gen: VisitBlocks, n: int) -> VisitBlock:
    """``n`` visits, none a visitor's first."""
    return gen.draw(segments(n), np.zeros(n, dtype=bool))


def test_funnel_depth_is_the_product_of_step_probabilities():
    funnel = [0.5, 0.4, 0.5, 0.8]
    sc, gen = blocks(funnel=funnel)
    names = [e.name for e in sc.events]
    order = names.index("order_completed")
    cart = names.index("added_to_cart")
    n = 20000
    b = draw(gen, n)
    orders = int((b.event_type == order).sum())
    carts = int((b.event_type == cart).sum())
    # At most one of each per visit, so each count is binomial over the visits.
    for i in (order, cart):
        assert np.bincount(b.page_visit[b.event_page[b.event_type == i]], minlength=n).max() <= 1
    assert stats.binomtest(orders, n, float(np.prod(funnel))).pvalue > P_LIMIT
    assert stats.binomtest(carts, n, 0.5 * 0.4).pvalue > P_LIMIT


def test_order_is_on_the_last_page_with_its_value():
    sc, gen = blocks(funnel=[1.0, 1.0, 1.0, 1.0], order_value=const(42.0))
    order = [e.name for e in sc.events].index("order_completed")
    n = 200
    b = draw(gen, n)
    orders = np.flatnonzero(b.event_type == order)
    visit = b.page_visit[b.event_page[orders]]
    assert (np.sort(visit) == np.arange(n)).all()  # one order in every visit
    last = b.first_page + b.n_pages - 1
    assert (b.event_page[orders] == last[visit]).all()
    assert (b.event_value[orders] == 42.0).all()
    assert (b.n_pages >= 4).all()


def test_pages_end_in_navigation_except_the_last():
    sc, gen = blocks(last_page_exit={"close": 0.6, "background": 0.4})
    n = 5000
    b = draw(gen, n)
    last = b.first_page + b.n_pages - 1
    not_last = np.ones(b.page_visit.size, dtype=bool)
    not_last[last] = False
    assert (b.page_end[not_last] == NAVIGATE).all()
    ends = b.page_end[last]
    assert set(ends.tolist()) <= {CLOSE, BACKGROUND}
    assert stats.binomtest(int((ends == BACKGROUND).sum()), n, 0.4).pvalue > P_LIMIT


def test_navigating_click_happens_time_to_unload_before_the_page_ends():
    sc, gen = blocks(time_to_unload_seconds=const(0.3), dwell_seconds=const(20.0))
    click = [e.name for e in sc.events].index("link_clicked")
    b = draw(gen, 300)
    clicks = b.event_type == click
    assert clicks.sum() > 0
    assert (b.page_end[b.event_page[clicks]] == NAVIGATE).all()
    assert (b.event_offset[clicks] == 20.0 - 0.3).all()


def test_return_gap_and_probability():
    sc, gen = blocks(
        return_probability=0.25, return_gap_hours={"kind": "exponential", "mean": 10.0}
    )
    n = 8000
    gaps = gen.return_gaps(segments(n))
    back = gaps[np.isfinite(gaps)]
    assert np.isinf(gaps[~np.isfinite(gaps)]).all()  # never back: inf, nothing else
    assert stats.binomtest(len(back), n, 0.25).pvalue > P_LIMIT
    assert stats.kstest(back / 3600.0, "expon", args=(0, 10.0)).pvalue > P_LIMIT
