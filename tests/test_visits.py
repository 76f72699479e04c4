"""Visits: pages, funnel depth and event placement against closed forms."""

from __future__ import annotations

import numpy as np
from factories import const, scenario
from reference_visits import VisitGenerator
from scipy import stats

from simulator.visits import BACKGROUND, CLOSE, NAVIGATE

P_LIMIT = 0.001


def generator(**behaviour):
    sc = scenario(behaviour=behaviour)
    return sc, VisitGenerator(sc, np.random.default_rng(4))


def test_funnel_depth_is_the_product_of_step_probabilities():
    funnel = [0.5, 0.4, 0.5, 0.8]
    sc, gen = generator(funnel=funnel)
    names = [e.name for e in sc.events]
    order = names.index("order_completed")
    cart = names.index("added_to_cart")
    n = 20000
    orders = carts = 0
    for _ in range(n):
        events = [e for p in gen.visit(0) for _, e, _ in p.events]
        orders += events.count(order)
        carts += events.count(cart)
    assert stats.binomtest(orders, n, float(np.prod(funnel))).pvalue > P_LIMIT
    assert stats.binomtest(carts, n, 0.5 * 0.4).pvalue > P_LIMIT


def test_order_is_on_the_last_page_with_its_value():
    sc, gen = generator(funnel=[1.0, 1.0, 1.0, 1.0], order_value=const(42.0))
    order = [e.name for e in sc.events].index("order_completed")
    for _ in range(200):
        pages = gen.visit(0)
        last = [(e, v) for _, e, v in pages[-1].events]
        assert (order, 42.0) in last
        assert len(pages) >= 4


def test_pages_end_in_navigation_except_the_last():
    sc, gen = generator(last_page_exit={"close": 0.6, "background": 0.4})
    ends = []
    for _ in range(5000):
        pages = gen.visit(0)
        assert all(p.end == NAVIGATE for p in pages[:-1])
        ends.append(pages[-1].end)
    ends = np.array(ends)
    assert set(ends) <= {CLOSE, BACKGROUND}
    assert stats.binomtest(int((ends == BACKGROUND).sum()), 5000, 0.4).pvalue > P_LIMIT


def test_navigating_click_happens_time_to_unload_before_the_page_ends():
    sc, gen = generator(time_to_unload_seconds=const(0.3), dwell_seconds=const(20.0))
    click = [e.name for e in sc.events].index("link_clicked")
    seen = 0
    for _ in range(300):
        for page in gen.visit(0):
            for offset, e, _ in page.events:
                if e == click:
                    seen += 1
                    assert page.end == NAVIGATE
                    assert offset == 20.0 - 0.3
    assert seen > 0


def test_return_gap_and_probability():
    sc, gen = generator(
        return_probability=0.25, return_gap_hours={"kind": "exponential", "mean": 10.0}
    )
    gaps = [gen.returns(0) for _ in range(8000)]
    back = [g for g in gaps if g is not None]
    assert stats.binomtest(len(back), 8000, 0.25).pvalue > P_LIMIT
    assert stats.kstest(np.array(back) / 3600.0, "expon", args=(0, 10.0)).pvalue > P_LIMIT
