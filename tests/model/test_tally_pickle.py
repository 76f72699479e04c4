"""A tally as it travels from a worker to the parent: pickled by its nonzero entries, exactly."""

from __future__ import annotations

import pickle

import numpy as np
from support.bias_factories import two_devices
from support.scenarios import SCENARIO_DIR

from simulator.config.loading import load_scenario
from simulator.model.engine import simulate
from simulator.model.streams import replication_seeds
from simulator.model.tally import Tally


def _same(a: Tally, b: Tally) -> None:
    assert a.layout == b.layout
    assert a.counts.shape == b.counts.shape and a.counts.dtype == b.counts.dtype
    assert a.counts.tobytes() == b.counts.tobytes()
    assert (a.groups is None) == (b.groups is None)
    for name, array in (a.groups or {}).items():
        other = b.groups[name]
        assert array.shape == other.shape and array.dtype == other.dtype, name
        assert array.tobytes() == other.tobytes(), name


def test_a_replications_tally_comes_back_bit_for_bit_and_smaller():
    scenario = load_scenario(SCENARIO_DIR / "baseline.toml", ["population.users=2000"])
    tally, _ = simulate(scenario, replication_seeds(3, 1)[0])
    data = pickle.dumps(tally, protocol=pickle.HIGHEST_PROTOCOL)
    _same(tally, pickle.loads(data))
    # What is sent: a position (4 bytes) and a value (8) per nonzero entry, plus the layout.
    arrays = [tally.counts, *tally.groups.values()]
    nonzero = sum(int(np.count_nonzero(a)) for a in arrays)
    layout = len(pickle.dumps(tally.layout, protocol=pickle.HIGHEST_PROTOCOL))
    assert len(data) <= 12 * nonzero + layout + 4096 * len(arrays)
    assert len(data) < tally.counts.nbytes / 5  # most cells see no event


def test_negative_zeros_nan_and_a_tally_without_groups_survive():
    tally, _ = simulate(two_devices(users=200), replication_seeds(1, 1)[0])
    counts = tally.counts.copy()
    flat = counts.reshape(-1)
    flat[0], flat[1], flat[-1] = -0.0, np.nan, 7.5
    bare = Tally(tally.layout, counts)
    back = pickle.loads(pickle.dumps(bare))
    _same(bare, back)
    assert np.signbit(back.counts.reshape(-1)[0]) and np.isnan(back.counts.reshape(-1)[1])
    _same(tally, pickle.loads(pickle.dumps(tally)))
