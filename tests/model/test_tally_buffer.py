"""Freezing a replication's counters into a tally: each plan's counts, and what all plans share."""

from __future__ import annotations

import numpy as np
import pytest
from support.bias_factories import two_devices

from simulator.model.outcome_counts import count
from simulator.model.population import layout_of
from simulator.model.tally import GROUPS, M, group_of
from simulator.model.tally_buffer import GROUP_SHIFT, GROUPED, POSITION, TallyBuffer


def filled(seed: int) -> tuple[TallyBuffer, dict[str, np.ndarray], np.ndarray]:
    """A buffer with counts in a few cells of each array, and the same counts kept by group.

    Amounts are whole numbers, so every sum below is exact whatever its order.
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
        for _ in range(3):  # several counts, some landing on the same offsets
            n = 400
            cells = rng.choice(n_cells, 6, replace=False)[rng.integers(0, 6, n)]
            visitor = rng.integers(0, 10_000, n)
            offset = buf.offset(rng.integers(0, n_events, n), cells, visitor)
            offset += rng.integers(0, plans, n) * buf.plan_stride + rng.integers(0, n_measures, n)
            amount = rng.integers(1, 4, n).astype(float)
            count(counters, offset, amount)
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
    groups = tally.group_totals()
    assert np.array_equal(groups[..., kept], expected.sum(axis=3)[..., kept])
    others = np.setdiff1d(np.arange(len(M)), kept)
    assert not groups[..., others].any()


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
