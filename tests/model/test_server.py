"""Server queues (ServerQueues, the engine's server path): exact counts, and the replay rhythm.

Small scenarios on one instance whose outcomes follow from the model alone: a bounded queue
dropping a burst's excess, a worker draining only as fast as its uploads allow, retries with
backoff exhausted during a long outage, arrivals overflowing the queue during a backoff, an
outage shorter than the retry budget, restarts losing the queue unless flushed on exit, and
what is still queued at the end counted as pending. Collector outages are merged and looked up
by bisection, and the whole engine gives the same counts however often the queues are replayed.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from support.factories import scenario

from simulator.config.tracking import CollectorConfig, ServerConfig
from simulator.model.outages import Outages
from simulator.model.server import STATUS, ServerQueues
from simulator.model.tally import MEASURES

PAYLOAD = np.dtype([("off", np.int64), ("id", np.int64)])  # off: which burst; id: which event
REPLAY_EVERY = 60.0  # the engine replays the queues now and then: here, every simulated minute


class FixedOutages(Outages):
    """Given outage windows (sorted, disjoint), with Outages' interface."""

    def __init__(self, windows):
        self.starts = [s for s, _ in windows]
        self.ends = [e for _, e in windows]


class Queues:
    """A ServerQueues with one plan whose ``settled`` callback adds up the outcomes.

    ``count[status]`` is the number of events settled with that status, ``by_off[status]``
    the same per burst (the payload's ``off``), ``when[status]`` their times.
    """

    def __init__(self, config: ServerConfig, outages=(), end: float = 1000.0) -> None:
        self.end = end
        self.queues = ServerQueues(
            config, 1, FixedOutages(list(outages)), np.random.default_rng(0), end, self._settled
        )
        self.count = dict.fromkeys(STATUS, 0)
        self.by_off = {status: Counter() for status in STATUS}
        self.when = {status: [] for status in STATUS}
        self.ids: list[np.ndarray] = []
        self.pushed = 0
        self.replayed = 0.0  # time of the last catch_up

    def _settled(self, plan, rows, code, when):
        assert plan == 0 and rows.dtype == PAYLOAD and len(rows) == len(when)
        status = STATUS[code]
        self.count[status] += len(rows)
        self.by_off[status].update(rows["off"].tolist())
        self.when[status].extend(when.tolist())
        self.ids.append(rows["id"])

    def burst(self, n: int, at: float, off: int = 0) -> None:
        """Push ``n`` events happening at time ``at``, as one array."""
        self.times(np.full(n, at), off)

    def times(self, t: np.ndarray, off: int = 0) -> None:
        """Push one event at each time of ``t``, as one array."""
        rows = np.empty(len(t), PAYLOAD)
        rows["off"], rows["id"] = off, np.arange(self.pushed, self.pushed + len(t))
        self.queues.push(0, 0, np.asarray(t, dtype=float), rows)
        self.pushed += len(t)

    def run(self, until: float | None = None) -> dict[str, int]:
        """Replay every minute, as the engine does now and then, up to ``until`` (or the end)."""
        until = self.end if until is None else until
        for c in np.arange(self.replayed + REPLAY_EVERY, until, REPLAY_EVERY):
            self.queues.catch_up(float(c))
        self.queues.catch_up(until)
        self.replayed = until
        return self.count

    def settle(self) -> dict[str, int]:
        """Replay up to the end, count what is left as pending; each event settled once."""
        self.run()
        self.queues.settle_pending()
        ids = np.sort(np.concatenate(self.ids)) if self.ids else np.empty(0, np.int64)
        np.testing.assert_array_equal(ids, np.arange(self.pushed))
        return self.count


def server(**settings) -> ServerConfig:
    """One instance, no upload failures, no deploys, unless a test says otherwise."""
    defaults = {"instances": 1, "failure_probability": 0.0, "deploys_per_day": 0.0}
    return ServerConfig(**{**defaults, **settings})


def test_burst_beyond_queue_capacity_is_dropped_exactly():
    cfg = server(max_queue_size=100, batch_size=10, flush_interval_seconds=1.0)
    q = Queues(cfg)
    q.burst(250, at=0.25)
    c = q.settle()
    assert c["queue_full"] == 150
    assert c["delivered"] == 100
    assert sum(c.values()) == 250 and c["pending"] == 0
    assert set(q.when["queue_full"]) == {0.25}  # dropped on arrival
    assert set(q.when["delivered"]) == {1.0}  # ten uploads of 10 in the first tick


def test_the_worker_drains_only_as_fast_as_its_uploads_allow():
    # Four uploads of 10 fit in a 1-second tick: a burst of 60 then 60 against a queue of 60
    # leaves 20 waiting after the first tick, so 20 of the second burst find the queue full.
    cfg = server(max_queue_size=60, batch_size=10, flush_interval_seconds=1.0, upload_seconds=0.25)
    q = Queues(cfg)
    q.burst(60, at=0.5, off=0)
    q.burst(60, at=1.5, off=1)
    c = q.run()
    assert c["queue_full"] == 20
    assert c["delivered"] == 100
    assert q.queues.uploads == 10
    assert q.by_off["queue_full"] == {1: 20}
    assert q.by_off["delivered"] == {0: 60, 1: 40}
    assert Counter(q.when["delivered"]) == {1.0: 40, 2.0: 40, 3.0: 20}
    assert q.settle()["pending"] == 0


def test_retries_exhausted_during_a_long_outage_then_recovery():
    # Backoff 1, 2, 4 s (max_retries 3): a batch sent at t=1 fails at 1, 2, 4, 8 and is dropped.
    cfg = server(
        batch_size=1000,
        flush_interval_seconds=1.0,
        max_retries=3,
        backoff_initial_seconds=1.0,
        backoff_factor=2.0,
    )
    q = Queues(cfg, outages=[(0.0, 9.5)])
    q.burst(5, at=0.5, off=0)
    q.burst(7, at=20.0, off=1)
    c = q.settle()
    assert c["retries_exhausted"] == 5
    assert c["delivered"] == 7
    assert q.queues.uploads == 5  # four failed attempts, one success
    assert q.by_off["retries_exhausted"] == {0: 5} and set(q.when["retries_exhausted"]) == {8.0}
    assert q.by_off["delivered"] == {1: 7} and set(q.when["delivered"]) == {20.0}
    assert sum(c.values()) == 12 and c["pending"] == 0


def test_arrivals_during_backoff_fill_the_queue_and_overflow():
    # The first batch (5 events) waits out the outage; 20 events arriving meanwhile meet a
    # queue of 10 places: 10 are dropped, 15 arrive once the collector is back.
    cfg = server(max_queue_size=10, batch_size=1000, flush_interval_seconds=1.0, max_retries=20)
    q = Queues(cfg, outages=[(0.0, 100.0)])
    q.burst(5, at=0.5, off=0)
    q.times(3.0 + np.arange(20), off=1)
    c = q.run()
    assert c["queue_full"] == 10
    assert c["delivered"] == 15
    assert sorted(q.when["queue_full"]) == list(13.0 + np.arange(10))  # the last ten arrivals
    assert min(q.when["delivered"]) >= 100.0
    assert q.settle()["pending"] == 0


def test_outage_shorter_than_backoff_budget_loses_nothing():
    cfg = server(batch_size=1000, flush_interval_seconds=1.0, max_retries=10)
    q = Queues(cfg, outages=[(0.0, 30.0)])
    q.burst(40, at=0.5)
    c = q.run()
    assert c["delivered"] == 40 and c["retries_exhausted"] == 0
    assert min(q.when["delivered"]) >= 30.0  # after the outage, within the retry budget
    assert q.settle()["pending"] == 0


def test_restart_loses_queue_unless_flushed_on_exit():
    for flush, lost in [(False, 30), (True, 0)]:
        cfg = server(batch_size=1000, flush_interval_seconds=10.0, flush_on_exit=flush)
        q = Queues(cfg)
        q.queues.plans[0][0].restarts = [5.0]
        q.burst(30, at=1.0, off=0)
        q.burst(4, at=6.0, off=1)
        c = q.run()
        assert c["process_exit"] == lost
        assert c["delivered"] == 34 - lost
        assert q.by_off["process_exit"] == Counter({0: lost})  # the first burst, at the restart
        assert set(q.when["process_exit"]) == ({5.0} if lost else set())
        # Flushed at the restart, or lost; the second burst at the next tick either way.
        assert Counter(q.when["delivered"]) == Counter({5.0: 30 - lost, 10.0: 4})
        assert q.settle()["pending"] == 0


def test_what_is_still_queued_at_the_end_is_pending():
    cfg = server(batch_size=10, flush_interval_seconds=1.0)
    q = Queues(cfg, outages=[(0.0, 10_000.0)], end=100.0)
    q.burst(12, at=50.0)
    assert q.run(until=100.0) == dict.fromkeys(STATUS, 0)  # nothing settled before the end
    c = q.settle()
    assert c["pending"] == 12 and c["delivered"] == 0
    assert set(q.when["pending"]) == {100.0}


def test_outages_are_merged_and_looked_up():
    rng = np.random.default_rng(3)
    cfg = CollectorConfig(
        outages_per_day=50.0, outage_seconds={"kind": "constant", "value": 3000.0}
    )
    out = Outages(cfg, 86400.0, rng)
    assert all(a < b for a, b in zip(out.ends[:-1], out.starts[1:], strict=True))
    grid = np.linspace(0, 86400, 20001)
    down = np.array([out.down(t) for t in grid])
    brute = np.array(
        [any(s <= t < e for s, e in zip(out.starts, out.ends, strict=True)) for t in grid]
    )
    assert (down == brute).all()
    # total downtime inside the day, measured on the grid, matches the merged windows
    inside = sum(min(e, 86400) - s for s, e in zip(out.starts, out.ends, strict=True))
    assert abs(down.mean() * 86400 - inside) < 86400 / 20000 * (2 * len(out.starts) + 1)


def test_results_do_not_depend_on_how_often_the_queues_are_replayed(monkeypatch):
    # Replaying lazily is exact: every event before 'now' has been handed to the queues, and
    # each instance draws its own upload failures, so the replay rhythm changes nothing.
    from support.running import run
    from support.scenarios import EVERYTHING_ON

    from simulator.model import engine

    sc = scenario(**{**EVERYTHING_ON, "users": 400})
    counts = []
    for every in (7.0, 600.0, 86400.0):
        monkeypatch.setattr(engine, "REPLAY_SECONDS", every)
        counts.append(run(sc, seed=11).total.counts)
    # Every count is the same; sums of order values only up to the order of float additions.
    value = np.array([m.startswith("value") for m in MEASURES])
    for other in counts[1:]:
        np.testing.assert_array_equal(counts[0][..., ~value], other[..., ~value])
        np.testing.assert_allclose(counts[0][..., value], other[..., value], rtol=1e-12)
