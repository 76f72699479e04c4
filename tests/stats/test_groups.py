"""The random groups of visitors one replication's intervals are made from."""

from __future__ import annotations

import math

import numpy as np
from support.bias_factories import two_devices
from support.running import run

from simulator.model.collector import CONTEXT, DELIVERED, VALUE_DELIVERED, VALUE_SQ_DELIVERED
from simulator.model.engine import simulate
from simulator.model.outcome_counts import count, count_measures
from simulator.model.population import layout_of
from simulator.model.streams import replication_seeds
from simulator.model.tally import DIMENSIONS, GROUPS, M, group_of
from simulator.model.tally_buffer import GROUPED, TallyBuffer


def test_groups_split_the_counts_without_changing_them():
    result = run(two_devices(users=2000), seed=4)
    tally = result.tallies[0]
    kept = [M[m] for m in GROUPED]
    groups = tally.group_totals()
    assert groups.shape == (GROUPS, *tally.totals().shape)
    assert np.array_equal(groups.sum(axis=0)[..., kept], tally.totals()[..., kept])
    for dim in DIMENSIONS:
        split = tally.group_marginal(dim).sum(axis=0)
        assert np.allclose(split[..., kept], tally.marginal(dim)[..., kept]), dim
    # One session per visitor: each group holds about a tenth of the visitors (binomial).
    e = tally.layout.events.index("session_started")
    sessions = groups[:, 0, e, M["truth"]]
    p = 1 / GROUPS
    assert (np.abs(sessions - 2000 * p) <= 3 * math.sqrt(2000 * p * (1 - p))).all(), sessions


def test_a_visitor_keeps_its_group_and_consecutive_visitors_spread_over_all():
    visitors = np.arange(10_000)
    g = group_of(visitors)
    assert g.min() == 0 and g.max() == GROUPS - 1
    assert group_of(1234) == g[1234]
    counts = np.bincount(g, minlength=GROUPS)
    assert (np.abs(counts - 1000) < 100).all(), counts
    assert (np.bincount(g[:100], minlength=GROUPS) > 0).all()  # a short user range too


def test_merged_tallies_add_their_groups():
    sc = two_devices(users=300)
    a, _ = simulate(sc, replication_seeds(5, 2)[0])
    b, _ = simulate(sc, replication_seeds(5, 2)[1])
    both = a + b
    assert np.array_equal(both.group_totals(), a.group_totals() + b.group_totals())


def test_several_measures_counted_at_once_add_what_one_count_each_adds():
    # Events of random types, cells and visitors (so groups); a measure kept by group, one
    # kept on a subset, and two on another, one of them not kept by group.
    layout = layout_of(two_devices(users=10))
    rng = np.random.default_rng(2)
    n = 5000
    base = TallyBuffer(layout).offset(
        rng.integers(0, len(layout.events), n), rng.integers(0, layout.shape[2], n),
        rng.integers(0, 10_000, n),
    )  # fmt: skip
    context, value = rng.random(n) < 0.5, np.where(rng.random(n) < 0.3, rng.random(n), 0.0)
    priced = value != 0
    selections = [
        (None, [(DELIVERED, 1.0)]), (context, [(CONTEXT, 1.0)]),
        (priced, [(VALUE_DELIVERED, value[priced]), (VALUE_SQ_DELIVERED, value[priced] ** 2)]),
    ]  # fmt: skip
    one, many = TallyBuffer(layout), TallyBuffer(layout)
    for which, measures in selections:
        for measure, amount in measures:
            count(one.shared, (base if which is None else base[which]) + measure, amount)
    count_measures(many.shared, base, selections)
    assert np.asarray(one.shared).tobytes() == np.asarray(many.shared).tobytes()
    assert one.shared.grouped.tobytes() == many.shared.grouped.tobytes()
    assert one.shared.grouped.any()
