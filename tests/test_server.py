"""Server path: bounded queue, flush worker, retries, outages and restarts, against exact counts."""

from __future__ import annotations

import numpy as np
import simpy
from factories import scenario
from reference_server import ServerPath

from simulator.collector import Collector
from simulator.outages import Outages
from simulator.population import layout_of
from simulator.tally import MEASURES, TallyBuffer
from simulator.tracking_config import CollectorConfig, ServerConfig
from simulator.visit_batch import SERVER

M = {m: i for i, m in enumerate(MEASURES)}


class FixedOutages(Outages):
    def __init__(self, windows):
        self.starts = [s for s, _ in windows]
        self.ends = [e for _, e in windows]


def build(config: ServerConfig, outages=(), end=1000.0):
    sc = scenario()
    layout = layout_of(sc)
    buf = TallyBuffer(layout)
    col = Collector(buf, True, 3600.0)
    env = simpy.Environment()
    server = ServerPath(
        env, config, len(sc.plans), col, FixedOutages(list(outages)), np.random.default_rng(0), end
    )
    return env, server, col, buf


def totals(buf):
    plans, events = buf.layout.shape[:2]
    return buf.to_tally(np.zeros((plans, events), dtype=bool)).totals()[0, 0]


def push_burst(server, col, n, at):
    for _ in range(n):
        col.truth(0, 0.0)
        server.push(0, 0, at, SERVER, 0, 0.0, None, False)


def test_burst_beyond_queue_capacity_is_dropped_exactly():
    cfg = ServerConfig(
        instances=1,
        max_queue_size=100,
        batch_size=10,
        flush_interval_seconds=1.0,
        failure_probability=0.0,
        deploys_per_day=0.0,
    )
    env, server, col, buf = build(cfg)
    push_burst(server, col, 250, at=0.25)
    env.run(until=1000)
    server.settle_pending()
    t = totals(buf)
    assert t[M["lost_queue_full"]] == 150
    assert t[M["delivered"]] == 100
    assert t[M["truth"]] == 250


def test_the_worker_drains_only_as_fast_as_its_uploads_allow():
    # Four uploads of 10 fit in a 1-second tick: a burst of 60 then 60 against a queue of 60
    # leaves 20 waiting after the first tick, so 20 of the second burst find the queue full.
    cfg = ServerConfig(
        instances=1,
        max_queue_size=60,
        batch_size=10,
        flush_interval_seconds=1.0,
        upload_seconds=0.25,
        failure_probability=0.0,
        deploys_per_day=0.0,
    )
    env, server, col, buf = build(cfg)
    push_burst(server, col, 60, at=0.5)
    push_burst(server, col, 60, at=1.5)
    env.run(until=1000)
    t = totals(buf)
    assert t[M["lost_queue_full"]] == 20
    assert t[M["delivered"]] == 100
    assert server.uploads == 10


def test_retries_exhausted_during_a_long_outage_then_recovery():
    # Backoff 1, 2, 4 s (max_retries 3): a batch sent at t=1 fails at 1, 2, 4, 8 and is dropped.
    cfg = ServerConfig(
        instances=1,
        batch_size=1000,
        flush_interval_seconds=1.0,
        max_retries=3,
        backoff_initial_seconds=1.0,
        backoff_factor=2.0,
        failure_probability=0.0,
        deploys_per_day=0.0,
    )
    env, server, col, buf = build(cfg, outages=[(0.0, 9.5)])
    push_burst(server, col, 5, at=0.5)
    push_burst(server, col, 7, at=20.0)
    env.run(until=1000)
    server.settle_pending()
    t = totals(buf)
    assert t[M["lost_retries_exhausted"]] == 5
    assert t[M["delivered"]] == 7
    assert server.uploads == 5  # four failed attempts, one success


def test_arrivals_during_backoff_fill_the_queue_and_overflow():
    # The first batch (5 events) waits out the outage; 20 events arriving meanwhile meet a
    # queue of 10 places: 10 are dropped, 15 arrive once the collector is back.
    cfg = ServerConfig(
        instances=1,
        max_queue_size=10,
        batch_size=1000,
        flush_interval_seconds=1.0,
        max_retries=20,
        failure_probability=0.0,
        deploys_per_day=0.0,
    )
    env, server, col, buf = build(cfg, outages=[(0.0, 100.0)])
    push_burst(server, col, 5, at=0.5)
    for i in range(20):
        push_burst(server, col, 1, at=3.0 + i)
    env.run(until=1000)
    t = totals(buf)
    assert t[M["lost_queue_full"]] == 10
    assert t[M["delivered"]] == 15


def test_outage_shorter_than_backoff_budget_loses_nothing():
    cfg = ServerConfig(
        instances=1,
        batch_size=1000,
        flush_interval_seconds=1.0,
        max_retries=10,
        failure_probability=0.0,
        deploys_per_day=0.0,
    )
    env, server, col, buf = build(cfg, outages=[(0.0, 30.0)])
    push_burst(server, col, 40, at=0.5)
    env.run(until=1000)
    t = totals(buf)
    assert t[M["delivered"]] == 40 and t[M["lost_retries_exhausted"]] == 0


def test_restart_loses_queue_unless_flushed_on_exit():
    for flush, lost in [(False, 30), (True, 0)]:
        cfg = ServerConfig(
            instances=1,
            batch_size=1000,
            flush_interval_seconds=10.0,
            failure_probability=0.0,
            deploys_per_day=0.0,
            flush_on_exit=flush,
        )
        env, server, col, buf = build(cfg)
        server.plans[0][0].restarts = [5.0]
        push_burst(server, col, 30, at=1.0)
        push_burst(server, col, 4, at=6.0)
        env.run(until=1000)
        t = totals(buf)
        assert t[M["lost_process_exit"]] == lost
        assert t[M["delivered"]] == 34 - lost


def test_what_is_still_queued_at_the_end_is_pending():
    cfg = ServerConfig(
        instances=1,
        batch_size=10,
        flush_interval_seconds=1.0,
        failure_probability=0.0,
        deploys_per_day=0.0,
    )
    env, server, col, buf = build(cfg, outages=[(0.0, 10_000.0)], end=100.0)
    push_burst(server, col, 12, at=50.0)
    env.run(until=100.0)
    server.settle_pending()
    t = totals(buf)
    assert t[M["pending"]] == 12 and t[M["delivered"]] == 0


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
    from test_engine import EVERYTHING_ON

    from simulator import engine
    from simulator.engine import run

    sc = scenario(**{**EVERYTHING_ON, "users": 400})
    counts = []
    for every in (7.0, 600.0, 86400.0):
        monkeypatch.setattr(engine, "REPLAY_SECONDS", every)
        counts.append(run(sc, seed=11).tallies[0].counts)
    # Every count is the same; sums of order values only up to the order of float additions.
    value = np.array([m.startswith("value") for m in MEASURES])
    for other in counts[1:]:
        np.testing.assert_array_equal(counts[0][..., ~value], other[..., ~value])
        np.testing.assert_allclose(counts[0][..., value], other[..., value], rtol=1e-12)
