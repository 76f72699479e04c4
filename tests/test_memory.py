"""Memory does not grow with the number of simulated events (counters, not event lists)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from lossy_factory import lossy

from simulator import block_engine
from simulator.engine import simulate


def _peak(users: int, engine: str) -> tuple[int, int]:
    """Peak traced bytes of one replication, and the true events it simulated."""
    sc = lossy(users=users, replications=1)
    tracemalloc.start()
    try:
        _, meta = simulate(sc, np.random.SeedSequence(3), engine=engine)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, meta["events"]


@pytest.mark.parametrize("engine", ["events", "blocks"])
def test_peak_memory_barely_grows_with_users(engine: str, monkeypatch) -> None:
    # The block engine holds one window of visitors (and their events) at a time: shrink the
    # window so that these small runs span several, as a large population does.
    monkeypatch.setattr(block_engine, "WINDOW_USERS", 250)
    # Four times the users gives four times the events (~15k -> ~61k). What may grow is the
    # state held for visitors between visits and for requests in flight, which is small: the
    # peak went from 3.6 MB to 4.7 MB (x1.31) when this was written. What must not grow is
    # anything kept per event: the smallest per-event record (a float in a list, 8 + 24 bytes)
    # would add >= 32 B x 45k extra events ~ 1.5 MB, a ratio of ~1.7. The bound is the issue's
    # own target (peak at 10x users <= 1.5x), here for 4x.
    # The block engine went from 2.1 MB to 2.8 MB (x1.31) with 250-visitor windows.
    small, small_events = _peak(2000, engine)
    large, large_events = _peak(8000, engine)
    assert large_events > 3.5 * small_events
    assert large <= 1.5 * small, (small, large)
