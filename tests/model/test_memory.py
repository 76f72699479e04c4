"""Memory does not grow with the number of simulated events (counters, not event lists)."""

from __future__ import annotations

import tracemalloc

import numpy as np
from support.lossy_factory import lossy

from simulator.model import engine
from simulator.model.engine import simulate


def _peak(users: int) -> tuple[int, int]:
    """Peak traced bytes of one replication, and the true events it simulated."""
    sc = lossy(users=users, replications=1)
    tracemalloc.start()
    try:
        _, meta = simulate(sc, np.random.SeedSequence(3))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, meta["events"]


def test_peak_memory_barely_grows_with_users(client_path: str, monkeypatch) -> None:
    # The engine holds one window of visitors (and their events) at a time: shrink the window
    # so that these small runs span several, as a large population does.
    monkeypatch.setattr(engine, "WINDOW_USERS", 250)
    # Four times the users gives four times the events (~15k -> ~61k). What may grow is the
    # state held for visitors between visits and for requests in flight, which is small: the
    # peak went from 3.6 MB to 4.7 MB (x1.31) when this was written. What must not grow is
    # anything kept per event: the smallest per-event record (a float in a list, 8 + 24 bytes)
    # would add >= 32 B x 45k extra events ~ 1.5 MB, a ratio of ~1.7. The bound is the issue's
    # own target (peak at 10x users <= 1.5x), here for 4x.
    # With 250-visitor windows the peak went from 2.1 MB to 2.8 MB (x1.31) on arrays.
    small, small_events = _peak(2000)
    large, large_events = _peak(8000)
    assert large_events > 3.5 * small_events
    assert large <= 1.5 * small, (small, large)
