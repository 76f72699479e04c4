"""Freezing a replication's counters into a tally: each plan's counts, and what all plans share."""

from __future__ import annotations

import numpy as np
import pytest
from support.bias_factories import two_devices

from simulator.model.outcome_counts import count, count_measures
from simulator.model.population import layout_of
from simulator.model.tally import DIMENSIONS, GROUPS, M, group_of
from simulator.model.tally_buffer import GROUP_SHIFT, GROUPED, POSITION, TallyBuffer


def filled(seed: int) -> tuple[TallyBuffer, dict[str, np.ndarray], np.ndarray]:
    """A buffer with counts in a few cells of each array, and the same counts kept by group.

    Counted three ways (many offsets at once, several measures of one set of events, one at a
    time). Amounts are whole numbers, so every sum below is exact whatever its order.
    """
    rng = np.random.default_rng(seed)
    plans = [{"name": n, "default_path": n} for n in ("client", "server", "dual")]
    layout = layout_of(two_devices(plans=plans))
    buf = TallyBuffer(layout)
    n_plans, n_events, n_cells, n_measures = layout.shape
    by_group = {}
    for name, plans in (("data", n_plans), ("shared", 1), ("client", 1)):
        counters = getattr(buf, name)
        dense = np.zeros((GROUPS, plans * buf.plan_stride))
        for way in ("count", "count_measures", "add"):  # some landing on the same offsets
            n = 400
            cells = rng.choice(n_cells, 6, replace=False)[rng.integers(0, 6, n)]
            visitor = rng.integers(0, 10_000, n)
            base = buf.offset(rng.integers(0, n_events, n), cells, visitor)
            base += rng.integers(0, plans, n) * buf.plan_stride
            measure = rng.integers(0, n_measures, n)
            amount = rng.integers(1, 4, n).astype(float)
            if way == "count_measures":  # a measure counted by row for all, another for some
                measure[:] = M["delivered"]
                some = rng.random(n) < 0.5
                other = int(rng.integers(0, n_measures))
                count_measures(counters, base, [
                    (None, [(M["delivered"], amount)]), (some, [(other, amount[some])])
                ])  # fmt: skip
                np.add.at(dense, (base >> GROUP_SHIFT, (base & POSITION) + other), amount * some)
            offset = base + measure
            if way == "count":
                count(counters, offset, amount)
            elif way == "add":
                for o, a in zip(offset.tolist(), amount.tolist(), strict=True):
                    counters.add(o, a)
            np.add.at(dense, (offset >> GROUP_SHIFT, offset & POSITION), amount)
        by_group[name] = dense.reshape(GROUPS, plans, *layout.shape[1:])
    routes = rng.random((n_plans, n_events)) < 0.5
    return buf, by_group, routes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_tally_holds_each_plans_counts_the_shared_ones_and_the_routed_client_ones(seed):
    buf, by_group, routes = filled(seed)
    expected = (
        by_group["data"] + by_group["shared"] + routes[None, :, :, None, None] * by_group["client"]
    )
    tally = buf.to_tally(routes)
    assert np.array_equal(tally.counts, expected.sum(axis=0))
    kept = [M[m] for m in GROUPED]
    others = np.setdiff1d(np.arange(len(M)), kept)
    groups = tally.group_totals()
    assert np.array_equal(groups[..., kept], expected.sum(axis=3)[..., kept])
    assert not groups[..., others].any()
    layout = tally.layout
    for dim in DIMENSIONS:  # each from one of the two joint blocks, or from the segment
        category = layout.cell_category(dim)
        n = len(layout.categories(dim))
        by_category = np.stack([expected[:, :, :, category == c].sum(axis=3) for c in range(n)], 3)
        marginal = tally.group_marginal(dim)
        assert np.array_equal(marginal[..., kept], by_category[..., kept]), dim
        assert not marginal[..., others].any()


def test_a_buffer_is_frozen_once():
    buf, _, routes = filled(4)
    buf.to_tally(routes)
    with pytest.raises(RuntimeError, match="frozen once"):
        buf.to_tally(routes)


def test_group_of_is_what_the_offsets_carry():
    buf = TallyBuffer(layout_of(two_devices()))
    visitors = np.arange(50)
    offsets = buf.offset(np.zeros(50, np.int64), np.zeros(50, np.int64), visitors)
    assert np.array_equal(offsets >> GROUP_SHIFT, group_of(visitors))
    # Events of the same visitors, by index into them: each visitor's group is found once.
    at = np.random.default_rng(0).integers(0, 50, 400)
    zeros = np.zeros(400, np.int64)
    by_index = buf.offset(zeros, zeros, visitors, at=at)
    assert np.array_equal(by_index, buf.offset(zeros, zeros, visitors[at]))
