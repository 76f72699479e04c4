"""The compiled request race settles every message as the rounds on arrays do, to the last bit.

:class:`~simulator.model.client.arrays.OneRequestClient` races one request per event against its
page's teardown, round after round of retries: in the compiled request race where it was built,
on arrays where it was not. On the same visits and the same draws, both must settle every
message the same way, in the same order, and leave the same state (arrivals, first arrival,
late copies, attempts, last failure), with every store, retries to exhaustion, collector
outages, cancelling and background pages, and a dedupe window that late copies cross.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.factories import scenario
from support.page_reference import Windows, settled_on_arrays, synthetic_visits

from simulator.model.client import arrays
from simulator.model.client.arrays import OneRequestClient
from simulator.model.client.settler import DELIVERED_STATUS, MessageState
from simulator.model.collector import LOST
from simulator.model.streams import Streams

built = pytest.mark.skipif(arrays.request_race is None, reason="the race was not built")
PAGES = 4
STORES = {
    "local_storage": {"store": "local_storage", "max_attempts": 3, "max_items": 2},
    "on_add": {"store": "local_storage", "persist": "on_add", "max_attempts": 4},
    "memory": {"store": "memory", "max_attempts": 5},
    "none": {"store": "none"},
    "one_attempt": {"store": "memory", "max_attempts": 1},
}


def _events(rng: np.random.Generator, dwell: float) -> list[tuple[float, int]]:
    """Two events a page at uniform times: with the page view and click, retries crowd it."""
    return [(rng.random() * dwell, 2), (rng.random() * dwell, 2)]


def _settle(name: str, compiled: bool, monkeypatch) -> tuple:
    sc = scenario(
        client={
            "transport": "xhr",
            "failure_probability": 0.3,  # many failures: rounds of retries
            "upload_latency_seconds": {"kind": "lognormal", "median": 0.3, "sigma": 1.0},
            "retry": {**STORES[name], "backoff_initial_seconds": 0.2},
        },
        collector={"dedupe_window_hours": 0.0002},  # 0.72 s: some resent copies cross it
    )
    outages = Windows([(40.0 * i, 40.0 * i + 6.0) for i in range(1, 2000)])
    data = synthetic_visits(np.random.default_rng(3), 1500, PAGES, _events)
    with monkeypatch.context() as mp:
        if not compiled:
            mp.setattr(arrays, "request_race", None)
        client = OneRequestClient(sc, outages, Streams(np.random.SeedSequence(4)))
        return settled_on_arrays(client, data, PAGES, 0.7), client.requests


@built
@pytest.mark.parametrize("name", list(STORES))
def test_the_compiled_race_settles_as_the_rounds_on_arrays(name, monkeypatch):
    (rows, status, _, _, state), requests = _settle(name, True, monkeypatch)
    (rows_a, status_a, _, _, state_a), requests_a = _settle(name, False, monkeypatch)
    assert requests == requests_a
    assert rows.tobytes() == rows_a.tobytes() and status.tobytes() == status_a.tobytes()
    for field in MessageState.FIELDS:
        assert getattr(state, field).tobytes() == getattr(state_a, field).tobytes(), field


def test_the_visits_take_every_path_of_the_race(monkeypatch):
    """What the comparison above covers: retries, late copies, each way a message settles."""
    settled = {name: _settle(name, True, monkeypatch)[0] for name in STORES}
    state = settled["local_storage"][4]
    assert (state.attempts > 1).any() and (state.late > 0).any()
    codes = np.unique(np.concatenate([status for _, status, *_ in settled.values()]))
    assert {DELIVERED_STATUS, LOST["network"], LOST["retries_exhausted"]} <= set(codes.tolist())
