"""Population: arrival times and attribute mixes against their stated distributions."""

from __future__ import annotations

import numpy as np
from scipy import stats
from support.factories import scenario

from simulator.model.population import PopulationSampler, arrival_times, layout_of

P_LIMIT = 0.001


def test_arrivals_are_sorted_uniform_order_statistics():
    def pvalue(seed):
        times = np.fromiter(
            arrival_times(5000, 10.0, np.random.default_rng(seed), block=700), dtype=float
        )
        assert times.size == 5000
        assert (np.diff(times) >= 0).all() and 0 <= times[0] and times[-1] < 10.0
        return stats.kstest(times / 10.0, "uniform").pvalue

    p = pvalue(1)
    if p < P_LIMIT:
        p = pvalue(2)
    assert p >= P_LIMIT


def test_arrivals_do_not_depend_on_block_size():
    a = list(arrival_times(1000, 5.0, np.random.default_rng(3), block=1000))
    b = list(arrival_times(1000, 5.0, np.random.default_rng(3), block=1000))
    assert a == b


def sampler(**overrides):
    sc = scenario(**overrides)
    layout = layout_of(sc)
    return (
        sc,
        layout,
        PopulationSampler(sc, layout, np.random.default_rng(5), np.random.default_rng(6)),
    )


SEGMENTS = [
    {
        "name": "a",
        "share": 0.7,
        "device": "desktop",
        "browser": "chrome",
        "countries": {"us": 0.25, "de": 0.75},
        "channels": {"direct": 1.0},
        "blockers": {"none": 0.5, "extension_privacy": 0.5},
    },
    {
        "name": "b",
        "share": 0.3,
        "device": "mobile",
        "browser": "safari",
        "countries": {"us": 1.0},
        "channels": {"direct": 1.0},
        "blockers": {"none": 0.9, "extension_default": 0.1},
    },
]


def test_segment_country_and_blocker_mixes_follow_the_scenario():
    sc, layout, pop = sampler(population={"segments": SEGMENTS})
    visitors = pop.draw(20000)
    seg = np.array([v.segment for v in visitors])
    counts = np.bincount(seg, minlength=2)
    assert stats.chisquare(counts, 20000 * np.array([0.7, 0.3])).pvalue > P_LIMIT
    cells = layout._cells[:, [v.cell for v in visitors]]
    in_a = cells[0] == 0
    de = layout.countries.index("de")
    n_de = int((cells[1][in_a] == de).sum())
    assert stats.binomtest(n_de, int(in_a.sum()), 0.75).pvalue > P_LIMIT
    # Blocking is drawn per visitor from the blocker kind's rule: privacy lists block the
    # vendor's domain always, Adblock Plus defaults never.
    blocked = np.array([v.blocked for v in visitors])
    kinds = np.array(layout.blockers)[cells[3]]
    assert blocked[kinds == "extension_privacy"].all()
    assert not blocked[kinds == "extension_default"].any()
    assert not blocked[kinds == "none"].any()


def test_javascript_disabled_share_and_context_forwarding():
    sc, layout, pop = sampler(population={"javascript_disabled": 0.2})
    visitors = pop.draw(10000)
    js_off = sum(not v.javascript for v in visitors)
    assert stats.binomtest(js_off, 10000, 0.2).pvalue > P_LIMIT
    # Hybrid forwarding needs JavaScript.
    assert not any(v.context_forwarded for v in visitors if not v.javascript)


def test_bots_have_no_javascript_and_sit_in_bot_cells():
    sc, layout, pop = sampler()
    bots = pop.draw_bots(500, np.random.default_rng(1))
    assert not any(v.javascript for v in bots)
    assert all(layout._cells[4, v.cell] == 1 for v in bots)
