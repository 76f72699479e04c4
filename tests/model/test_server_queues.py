"""ServerQueues against ServerPath: same events, same seed, identical outcomes and uploads.

An idle worker's runs of usual ticks are walked by the compiled loop where it was built and on
arrays where it was not; both are checked against the reference.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import simpy
from support.reference_server import ServerPath

from simulator.config.tracking import ServerConfig
from simulator.model import flush_worker
from simulator.model.collector import Collector
from simulator.model.copies import SERVER
from simulator.model.outages import Outages
from simulator.model.server import FEW_INSTANCES, STATUS, ServerQueues
from simulator.model.streams import Uniforms
from simulator.model.tally import MEASURES, Layout, M
from simulator.model.tally_buffer import TallyBuffer

N_OFF = 8  # distinct tally offsets the events are spread over
PATH_MEASURES = [M[m] for m in ("delivered", "lost_queue_full", "lost_retries_exhausted")]
PATH_MEASURES += [M["lost_process_exit"], M["pending"]]  # in the order of STATUS
PAYLOAD = np.dtype([("off", np.int32), ("id", np.int64)])


class FixedOutages(Outages):
    def __init__(self, windows):
        self.starts = [s for s, _ in windows]
        self.ends = [e for _, e in windows]


def layout(n_plans: int) -> Layout:
    return Layout(
        plans=tuple(f"p{i}" for i in range(n_plans)),
        events=("e",),
        segments=("s",),
        segment_device=("desktop",),
        segment_browser=("chrome",),
        segment_os=("unstated",),
        countries=tuple(f"c{i}" for i in range(N_OFF // 2)),  # two cells each: human, bot
        channels=("direct",),
        blockers=("none",),
    )


def make_events(seed, n_plans, instances, end, n_quiet, bursts=(), grid=None):
    """Per plan: times, push times (a visit hands its events over up to 5 min ahead, so
    pushes are not in time order), instances and tally offsets, sorted by push time."""
    rng = np.random.default_rng(1000 + seed)
    plans = []
    for _ in range(n_plans):
        t = np.concatenate([rng.uniform(0, end, n_quiet)] + [
            at + rng.uniform(0, width, size) for at, size, width in bursts
        ])  # fmt: skip
        t = t[t < end]
        lead = rng.uniform(0, 300, len(t))
        if grid:  # on flush ticks, pushed on ticks: events exactly at a replay time
            t = np.floor(t / grid) * grid
            lead = np.floor(lead / 60) * grid
        push_at = np.maximum(0.0, t - lead)
        order = np.argsort(push_at, kind="stable")
        inst, off = rng.integers(0, instances, len(t)), rng.integers(0, N_OFF, len(t))
        plans.append((t[order], push_at[order], inst, off))
    return plans


def run_path(cfg, windows, end, plans, seed, every=None):
    """ServerPath, fed item by item; by a simpy run (every=None) or replayed by hand."""
    n_plans = len(plans)
    buf = TallyBuffer(layout(n_plans))
    env = simpy.Environment()
    out = FixedOutages(windows)
    path = ServerPath(env, cfg, n_plans, Collector(buf, True, 3600.0), out, rng(seed), end)
    done = [0] * n_plans

    def push_until(c):
        for p, (t, push_at, inst, off) in enumerate(plans):
            hi = len(t) if c is None else int(np.searchsorted(push_at, c, side="left"))
            lo, n_measures = done[p], len(MEASURES)
            rows = zip(inst[lo:hi].tolist(), t[lo:hi].tolist(), off[lo:hi].tolist(), strict=True)
            for i, at, o in rows:
                path.push(p, i, at, SERVER, o * n_measures, 0.0, None, False)
            done[p] = hi

    if every is None:
        push_until(None)
        env.run(until=end)
    else:
        for c in np.arange(every, end, every):
            push_until(c)
            path.catch_up(float(c))
        push_until(None)
    path.settle_pending()
    data = np.frombuffer(buf.data).reshape(n_plans, N_OFF, len(MEASURES))
    return data[:, :, PATH_MEASURES].transpose(0, 2, 1).astype(np.int64), path.uploads


def run_queues(cfg, windows, end, plans, seed, every):
    """ServerQueues, fed arrays before each catch_up (every ``every`` s, or once at the end)."""
    n_plans = len(plans)
    counts = np.zeros((n_plans, len(STATUS), N_OFF), dtype=np.int64)
    seen: list[np.ndarray] = []

    def settled(plan, rows, code, when):
        assert rows.dtype == PAYLOAD and len(rows) == len(when)
        counts[plan, code] += np.bincount(rows["off"], minlength=N_OFF)
        seen.append(rows["id"] + plan * 10**9)

    queues = ServerQueues(cfg, n_plans, FixedOutages(windows), rng(seed), end, settled)
    payloads = []
    for t, _, _, off in plans:
        rows = np.empty(len(t), PAYLOAD)
        rows["off"], rows["id"] = off, np.arange(len(t))
        payloads.append(rows)
    done = [0] * n_plans
    for c in np.arange(every, end, every) if every else []:
        for p, (t, push_at, inst, _) in enumerate(plans):
            hi = int(np.searchsorted(push_at, c, side="left"))  # at c: after catch_up(c)
            queues.push(p, inst[done[p] : hi], t[done[p] : hi], payloads[p][done[p] : hi])
            done[p] = hi
        queues.catch_up(float(c))
    for p, (t, _, inst, _) in enumerate(plans):
        for s in np.array_split(np.arange(done[p], len(t)), 3):  # several chunks
            queues.push(p, inst[s], t[s], payloads[p][s])
    queues.settle_pending()
    ids = np.sort(np.concatenate(seen)) if seen else np.empty(0)
    expected = np.sort(np.concatenate([np.arange(len(t)) + p * 10**9 for p, (t, *_) in
                                       enumerate(plans)]))  # fmt: skip
    np.testing.assert_array_equal(ids, expected)  # every item settled exactly once
    return counts, queues.uploads


def rng(seed):
    return np.random.default_rng(seed)


def config(**overrides) -> ServerConfig:
    return ServerConfig(**{"instances": 2, "deploys_per_day": 0.0, **overrides})


HOUR = 3600.0
CASES = {
    "quiet": (config(deploys_per_day=1.0), [], 4 * HOUR, 6000, [], 2),
    "bursts_beyond_capacity": (
        config(max_queue_size=300, batch_size=20, flush_interval_seconds=1.0),
        [], 2 * HOUR, 2000, [(1000.0, 20_000, 600.0), (5000.0, 2000, 3.0)], 2,
    ),
    "failures_small_max_retries": (
        config(failure_probability=0.3, max_retries=2, max_queue_size=50, batch_size=10,
               flush_interval_seconds=1.0, upload_seconds=0.3, backoff_max_seconds=4.0),
        [], 2 * HOUR, 3000, [(2000.0, 400, 30.0)], 2,
    ),
    "outages": (
        config(max_retries=4, max_queue_size=500, batch_size=50, failure_probability=0.01),
        [(600.0, 900.0), (2000.0, 2000.5), (4000.0, 4600.0)], 2 * HOUR, 4000,
        [(4100.0, 1000, 60.0)], 2,
    ),
    "deploys": (
        config(deploys_per_day=150.0, batch_size=5, max_queue_size=40, upload_seconds=0.25),
        [(3000.0, 3100.0)], 2 * HOUR, 4000, [(1500.0, 300, 5.0)], 2,
    ),
    "deploys_flush_on_exit": (
        config(deploys_per_day=150.0, flush_on_exit=True, failure_probability=0.2,
               batch_size=5, max_queue_size=40, upload_seconds=0.25),
        [(3000.0, 3100.0)], 2 * HOUR, 4000, [(1500.0, 300, 5.0)], 2,
    ),
    "plans_and_instances": (
        config(instances=4, deploys_per_day=30.0, failure_probability=0.05, batch_size=8),
        [(1000.0, 1200.0)], HOUR, 3000, [(2000.0, 500, 10.0)], 3,
    ),
    "many_instances": (  # more than FEW_INSTANCES: a push sorts its events by instance
        config(instances=FEW_INSTANCES + 4, failure_probability=0.05, batch_size=8),
        [(1000.0, 1200.0)], HOUR, 3000, [(2000.0, 500, 10.0)], 2,
    ),
    "uploads_per_tick": (
        config(flush_interval_seconds=2.0, upload_seconds=0.3, batch_size=7, max_queue_size=100,
               failure_probability=0.1, max_retries=3),
        [], HOUR, 3000, [(600.0, 2000, 60.0), (1800.0, 300, 1.0)], 2,
    ),
    "uploads_longer_than_a_tick": (
        config(flush_interval_seconds=0.5, upload_seconds=1.7, batch_size=6, max_queue_size=60,
               failure_probability=0.1, max_retries=2, deploys_per_day=100.0),
        [(1500.0, 1700.0)], HOUR, 3000, [(600.0, 800, 60.0), (2500.0, 300, 1.0)], 2,
    ),
}  # fmt: skip


@pytest.fixture(params=["compiled", "arrays"])
def usual_ticks(request, monkeypatch) -> str:
    """How an idle worker's runs of usual ticks are walked: by the compiled loop, on arrays."""
    if request.param == "arrays":
        monkeypatch.setattr(flush_worker, "usual_ticks", None)
    elif flush_worker.usual_ticks is None:
        pytest.skip("the usual ticks' loop was not built")
    return request.param


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_outcomes_and_uploads_as_server_path(case, seed, usual_ticks):
    cfg, windows, end, n_quiet, bursts, n_plans = CASES[case]
    plans = make_events(seed, n_plans, cfg.instances, end, n_quiet, bursts)
    expected, uploads = run_path(cfg, windows, end, plans, seed)
    assert expected.sum() == sum(len(t) for t, *_ in plans)
    for every in (7.0, 60.0, None):  # how often it is replayed changes nothing
        counts, n = run_queues(cfg, windows, end, plans, seed, every)
        np.testing.assert_array_equal(counts, expected, err_msg=f"catch_up every {every}")
        assert n == uploads


def twin_plans(seed, cfg, end, split_at):
    """Three plans: the second sends the first's arrivals (other offsets), the third the same
    until ``split_at`` and other arrivals after it."""
    first, other = make_events(seed, 2, cfg.instances, end, 3000, [(end / 2, 1500, 20.0)])
    rng_off = np.random.default_rng(seed)
    twin = (*first[:3], rng_off.integers(0, N_OFF, len(first[0])))
    before, after = first[1] < split_at, other[1] >= split_at
    parts = [(a[before], b[after]) for a, b in zip(first, other, strict=True)]
    mixed = [np.concatenate(x) for x in parts]
    order = np.argsort(mixed[1], kind="stable")
    return [first, twin, tuple(x[order] for x in mixed)]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "case", ["failures_small_max_retries", "deploys_flush_on_exit", "plans_and_instances"]
)
def test_plans_with_the_same_arrivals_share_a_replay_with_each_plans_outcomes(case, seed):
    # One lane serves the plans whose arrivals match; a plan whose arrivals part from them
    # takes the lane's state (draws included) along: each still gets the reference outcomes.
    cfg, windows, end, *_ = CASES[case]
    plans = twin_plans(seed, cfg, end, split_at=end / 3)
    expected, uploads = run_path(cfg, windows, end, plans, seed)
    for every in (7.0, 60.0, None):
        counts, n = run_queues(cfg, windows, end, plans, seed, every)
        np.testing.assert_array_equal(counts, expected, err_msg=f"catch_up every {every}")
        assert n == uploads


def test_a_plan_leaves_the_shared_lane_once_its_arrivals_differ():
    q = ServerQueues(config(), 2, FixedOutages([]), rng(0), 100.0, lambda *a: None)
    rows = np.zeros(3, PAYLOAD)
    for p in (0, 1):
        q.push(p, 0, np.array([1.0, 2.0, 3.0]), rows)
    q.catch_up(10.0)
    assert q.plans[0][0] is q.plans[1][0] and q.plans[0][0].members == [0, 1]
    q.push(0, 0, np.array([11.0]), rows[:1])
    q.push(1, 0, np.array([12.0]), rows[:1])
    q.catch_up(20.0)
    assert q.plans[0][0] is not q.plans[1][0]
    assert [q.plans[p][0].members for p in (0, 1)] == [[0], [1]]


@pytest.mark.parametrize("seed", [3, 4])
def test_events_on_ticks_already_replayed_go_to_the_next_tick(seed):
    # Times and replays on the flush grid: an event pushed at exactly the replayed time
    # joins the next tick (ServerPath.push's rule), and restarts cut at the replay time.
    cfg = config(flush_interval_seconds=1.0, batch_size=3, max_queue_size=20,
                 failure_probability=0.2, max_retries=1, deploys_per_day=300.0)  # fmt: skip
    plans = make_events(seed, 2, 2, 1800.0, 3000, [(900.0, 200, 2.0)], grid=1.0)
    for every in (1.0, 5.0):
        expected, uploads = run_path(cfg, [(300.0, 400.0)], 1800.0, plans, seed, every)
        counts, n = run_queues(cfg, [(300.0, 400.0)], 1800.0, plans, seed, every)
        np.testing.assert_array_equal(counts, expected)
        assert n == uploads


def test_failure_draws_are_the_uniforms_stream():
    q = ServerQueues(config(), 1, FixedOutages([]), rng(5), 100.0, lambda *a: None)
    lane = q.plans[0][1]
    seeds = rng(5)
    for _ in range(2):
        seeds.poisson(0.0)
        seeds.uniform(0.0, 100.0, 0)
    ref = Uniforms(np.random.default_rng(seeds.bit_generator.seed_seq.spawn(2)[1]))
    lane.refill(10_000)
    np.testing.assert_array_equal(lane.draws[:10_000], [ref() for _ in range(10_000)])


def test_outcomes_come_in_arrays_with_their_times():
    cfg = config(
        instances=1, max_queue_size=100, batch_size=10, flush_interval_seconds=1.0,
        failure_probability=0.0,
    )  # fmt: skip
    calls = []
    q = ServerQueues(cfg, 1, FixedOutages([(50.0, 1e9)]), rng(0), 200.0,
                     lambda *a: calls.append(a))  # fmt: skip
    rows = np.zeros(260, PAYLOAD)
    rows["id"] = np.arange(260)
    t = np.r_[np.full(250, 0.25), np.full(10, 60.0)]
    q.push(0, 0, t, rows)
    q.catch_up(10.0)
    by_status = {STATUS[code]: (r, w) for _, r, code, w in calls}
    assert len(calls) == 2  # one call per status, not per item
    ok, full = by_status["delivered"], by_status["queue_full"]
    assert len(ok[0]) == 100 and set(ok[1]) == {1.0}  # delivered at the flush tick
    assert len(full[0]) == 150 and set(full[1]) == {0.25}  # lost when they arrived
    q.settle_pending()  # the collector is down from 50 s: the last ten wait until the end
    (r, w) = calls[-1][1], calls[-1][3]
    assert calls[-1][2] == STATUS.index("pending") and len(r) == 10 and set(w) == {200.0}


@pytest.mark.parametrize(
    "flush, expected",
    [
        (False, {("process_exit", 30, 5.0), ("delivered", 4, 10.0)}),
        (True, {("delivered", 34, 5.0)}),  # flushed at the restart, the rest at the tick
    ],
)
def test_restart_loses_or_flushes_the_queue_at_the_restart_time(flush, expected):
    cfg = config(
        instances=1, flush_interval_seconds=10.0, flush_on_exit=flush, failure_probability=0.0
    )
    calls = []
    q = ServerQueues(cfg, 1, FixedOutages([]), rng(0), 1000.0, lambda *a: calls.append(a))
    q.plans[0][0].restarts = [5.0]
    q.push(0, 0, np.r_[np.full(30, 1.0), np.full(4, 6.0)], np.zeros(34, PAYLOAD))
    q.settle_pending()
    assert {(STATUS[c], len(r), float(w[0])) for _, r, c, w in calls} == expected


def test_memory_holds_only_what_is_not_settled():
    cfg = config(instances=2, failure_probability=0.2, max_queue_size=50, batch_size=5)
    settled = [0]
    q = ServerQueues(cfg, 1, FixedOutages([]), rng(0), 3600.0,
                     lambda p, r, c, w: settled.__setitem__(0, settled[0] + len(r)))  # fmt: skip
    plans = make_events(0, 1, 2, 3600.0, 5000)
    t, push_at, inst, _ = plans[0]
    pushed = 0
    for c in np.arange(60.0, 3600.0, 60.0):
        hi = int(np.searchsorted(push_at, c, side="right"))
        q.push(0, inst[pushed:hi], t[pushed:hi], np.zeros(hi - pushed, PAYLOAD))
        pushed = hi
        q.catch_up(float(c))
        held = sum(lane.pos + len(lane.sk) - lane.s0 for lane in q.plans[0])
        assert held + settled[0] == pushed
        assert all(lane.n == lane.pos and not lane.chunks for lane in q.plans[0])


@pytest.mark.bench
def test_speed_against_server_path():
    """~200k quiet events over 48 h, 2 plans x 2 instances: same outcomes, in less time.

    Measured 1.7x (replay every minute) to 12x (once at the end) faster than the item-by-item
    reference; the check is only that the array queues are faster at every rhythm, a margin
    machine noise does not close.
    """
    cfg, end = ServerConfig(instances=2), 48 * HOUR
    plans = make_events(0, 2, 2, end, 100_000)
    start = time.perf_counter()
    expected, _ = run_path(cfg, [(40_000.0, 40_600.0)], end, plans, 0)
    path = time.perf_counter() - start
    for every in (60.0, 600.0, 3600.0, None):
        start = time.perf_counter()
        counts, _ = run_queues(cfg, [(40_000.0, 40_600.0)], end, plans, 0, every)
        took = time.perf_counter() - start
        print(f"catch_up every {every}: {took:.3f} s vs ServerPath {path:.3f} s "
              f"({path / took:.1f}x)")  # fmt: skip
        np.testing.assert_array_equal(counts, expected)
        assert took < path, (every, took, path)
