"""Reference server path, one event at a time: what :class:`ServerQueues` is checked against.

The engine's server queues (:mod:`simulator.model.server`) replay on arrays; this is the same
model written item by item, kept as the test suite's reference: for the same draws both must
give exactly the same outcomes (tests/model/test_server_queues.py).

Each instance holds its own library queue (analytics-python / PostHog Python style): an event
is dropped when the queue is full, a worker takes batches and uploads them, retrying with
exponential backoff up to a cap while the collector is down, and a process restart (deploy)
loses whatever is queued unless the library flushes on exit. Collector outages are shared by
every instance and by the client path.

Speed: neither arrivals nor flushes are simpy events. Visits hand their server events,
stamped with their times, to the instance as soon as the visit starts (so before the events
happen); each goes into the bucket of the flush tick that first sees it. A drain process wakes
every simulated minute (and a nightly job after each second it emits) and replays the worker's
flush ticks up to "now", jumping over ticks with nothing to do. This is exact whenever it runs:
every event that happened before "now" is already in a bucket, nothing else reads the queue,
each instance draws its own upload failures, and because the queue only shrinks at flush
instants, admitting each tick's arrivals in time order gives exactly the drops an eager queue
would (tests/model/test_server.py checks that the replay window changes no count).
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np
import simpy

from simulator.config.tracking import ServerConfig
from simulator.model.collector import (
    BOTS,
    CONTEXT,
    DELIVERED,
    VALUE_DELIVERED,
    VALUE_SQ_DELIVERED,
    Collector,
)
from simulator.model.copies import SERVER
from simulator.model.outages import Outages
from simulator.model.streams import Uniforms

REPLAY_WINDOW_SECONDS = 60.0
"""How often the drain process replays the server queues (simulated seconds)."""


class Instance:
    """One web-server process's analytics queue and worker state."""

    __slots__ = (
        "buckets", "ticks", "queue", "batch", "attempts", "retry_k", "restarts", "k", "failures",
        "free",
    )  # fmt: skip

    def __init__(self, restarts: list[float], failures: Uniforms) -> None:
        self.buckets: dict[int, list] = {}  # flush tick -> events arriving since the last one
        self.ticks: list[int] = []  # heap of the buckets' ticks
        self.queue: deque = deque()
        self.batch: list | None = None
        self.attempts = 0
        self.retry_k = 0  # first flush tick at which a failed batch may be retried
        self.restarts = restarts
        self.k = 0  # last flush tick replayed (tick k is at k * flush_interval)
        self.free = 0  # first tick at which the worker is done with its last upload
        self.failures = failures  # this instance's own draws: results do not depend on replay order

    def items(self) -> list:
        """Everything not yet uploaded: arrivals, queue and the batch in flight."""
        waiting = [item for bucket in self.buckets.values() for item in bucket]
        return waiting + list(self.queue) + list(self.batch or [])


class ServerPath:
    """All server instances of all plans, replayed lazily by one simpy drain process.

    Parameters
    ----------
    env : simpy.Environment
        The replication's environment.
    config : ServerConfig
        Library settings.
    n_plans : int
        Each plan has its own instances (plans are alternative worlds).
    collector : Collector
        Where outcomes go.
    outages : Outages
        Shared collector outages.
    rng : numpy.random.Generator
        The ``server`` stream (deploy times and upload failures).
    end : float
        When the run stops; what is still queued then is ``pending``.
    window : float, optional
        Simulated seconds between two replays (default :data:`REPLAY_WINDOW_SECONDS`); it
        bounds the memory held in the buckets and changes nothing else.
    """

    def __init__(
        self,
        env: simpy.Environment,
        config: ServerConfig,
        n_plans: int,
        collector: Collector,
        outages: Outages,
        rng: np.random.Generator,
        end: float,
        window: float | None = None,
    ) -> None:
        self.env = env
        self.config = config
        self.collector = collector
        self.outages = outages
        self.rng = rng
        self.end = end
        self.step = config.flush_interval_seconds
        self.one_batch = min(config.batch_size, config.max_queue_size)
        self.uploads_per_tick = max(1, math.floor(self.step / config.upload_seconds + 1e-9))
        # Ticks a worker stays busy once it has uploaded: 1 unless an upload outlasts a tick.
        self.busy = max(1, math.ceil(config.upload_seconds / self.step - 1e-9))
        n = config.instances
        # Deploys hit instance i at the same moments in every plan (common random numbers).
        restarts = []
        for _ in range(n):
            k = rng.poisson(config.deploys_per_day * end / 86400.0)
            restarts.append(sorted(rng.uniform(0.0, end, k).tolist()))
        # Upload failures: a stream per instance, the same in every plan (common random
        # numbers), so neither the plan nor the order instances are replayed in changes them.
        seeds = rng.bit_generator.seed_seq.spawn(n)
        self.plans = [
            [Instance(list(restarts[i]), Uniforms(np.random.default_rng(seeds[i])))
             for i in range(n)]
            for _ in range(n_plans)
        ]  # fmt: skip
        self.uploads = 0
        env.process(self._drain(window or REPLAY_WINDOW_SECONDS))

    def push(
        self,
        plan: int,
        instance: int,
        t: float,
        kind: int,
        off: int,
        value: float,
        msg,
        context: bool,
    ) -> None:
        """Hand an event to a plan's server instance; it happens at time ``t`` (>= now)."""
        inst = self.plans[plan][instance]
        k = math.ceil(t / self.step)
        if k <= inst.k:  # happens exactly on a tick that was already replayed
            k = inst.k + 1
        bucket = inst.buckets.get(k)
        if bucket is None:
            inst.buckets[k] = bucket = []
            heapq.heappush(inst.ticks, k)
        bucket.append((t, kind, off, value, msg, context))

    def _fails(self, inst: Instance, t: float) -> bool:
        return inst.failures() < self.config.failure_probability or self.outages.down(t)

    def _lost(self, plan: int, items: list, cause: str) -> None:
        col = self.collector
        for _, kind, off, value, _msg, context in items:
            if kind == SERVER:
                col.settle(plan, off, value, [], cause, context)

    def _delivered(self, plan: int, items: list, now: float) -> None:
        col = self.collector
        data, base = col.data, plan * col.stride
        for _, kind, off, value, _msg, context in items:
            if kind == SERVER:
                b = base + off
                data[b + DELIVERED] += 1.0
                if context:
                    data[b + CONTEXT] += 1.0
                if value:
                    data[b + VALUE_DELIVERED] += value
                    data[b + VALUE_SQ_DELIVERED] += value * value
            else:
                data[base + off + BOTS] += 1.0

    def _admit(self, plan: int, inst: Instance, k: int, until: float | None = None) -> None:
        """Move arrivals of ticks up to ``k`` into the queue, in time order.

        With ``until``, tick ``k``'s bucket gives up only its arrivals up to that time (a
        restart between two ticks). Ticks skipped while a failed batch waits for its retry are
        admitted together: the queue does not shrink meanwhile, so the drops are the same.
        """
        ticks, buckets = inst.ticks, inst.buckets
        arrivals: list = []
        while ticks and ticks[0] <= k:
            tick = heapq.heappop(ticks)
            bucket = buckets.pop(tick, None)
            if not bucket:
                continue
            if until is not None and tick == k:
                keep = [item for item in bucket if item[0] > until]
                bucket = [item for item in bucket if item[0] <= until]
                if keep:
                    buckets[tick] = keep
                    heapq.heappush(ticks, tick)
                    arrivals.extend(bucket)
                    break
            arrivals.extend(bucket)
        if not arrivals:
            return
        room = self.config.max_queue_size - len(inst.queue)
        if len(arrivals) > room:
            arrivals.sort(key=lambda item: item[0])
            self._lost(plan, arrivals[max(room, 0) :], "queue_full")
            arrivals = arrivals[: max(room, 0)]
        inst.queue.extend(arrivals)

    def _restart(self, plan: int, inst: Instance, at: float) -> None:
        self._admit(plan, inst, math.ceil(at / self.step), until=at)
        lost = list(inst.queue)
        if inst.batch is not None:
            lost.extend(inst.batch)
        inst.queue.clear()
        inst.batch, inst.attempts = None, 0
        inst.free = 0  # the new process's worker is idle
        if not lost:
            return
        if self.config.flush_on_exit and not self._fails(inst, at):
            self._delivered(plan, lost, at)
        else:
            self._lost(plan, lost, "process_exit")

    def _upload(self, plan: int, inst: Instance, now: float) -> None:
        """The worker at one flush tick: upload batches one after another.

        It stops when the queue is empty, when an upload fails (the batch waits for its
        backoff), or when the uploads have filled the time to the next tick (the rest waits).
        """
        cfg = self.config
        queue = inst.queue
        room = self.uploads_per_tick
        while True:
            if inst.batch is None:
                if not queue or room == 0:
                    return
                if len(queue) <= cfg.batch_size:
                    inst.batch = list(queue)
                    queue.clear()
                else:
                    inst.batch = [queue.popleft() for _ in range(cfg.batch_size)]
                inst.attempts = 0
            self.uploads += 1
            room -= 1
            if not self._fails(inst, now):
                self._delivered(plan, inst.batch, now)
                inst.batch = None
                continue
            inst.attempts += 1
            if inst.attempts > cfg.max_retries:
                self._lost(plan, inst.batch, "retries_exhausted")
                inst.batch = None
                continue
            delay = cfg.backoff_initial_seconds * cfg.backoff_factor ** (inst.attempts - 1)
            inst.retry_k = math.ceil((now + min(delay, cfg.backoff_max_seconds)) / self.step)
            return

    def _next_arrival_tick(self, inst: Instance) -> int | None:
        ticks, buckets = inst.ticks, inst.buckets
        while ticks and not buckets.get(ticks[0]):
            buckets.pop(heapq.heappop(ticks), None)
        return ticks[0] if ticks else None

    def advance(self, plan: int, inst: Instance, until: float) -> None:
        """Replay the worker's flush ticks up to time ``until``, skipping idle ticks.

        The worker acts at a tick only once its last upload is over (``free``): an upload
        longer than the flush interval keeps it busy across ticks.
        """
        step = self.step
        k_until = math.floor(until / step)
        restarts = inst.restarts
        while True:
            if inst.batch is not None:
                k = max(inst.k + 1, inst.free, inst.retry_k)
            elif inst.queue:
                k = max(inst.k + 1, inst.free)
            else:
                k = self._next_arrival_tick(inst)
                k = None if k is None else max(k, inst.free)
            limit = until if k is None else min(k * step, until)
            if restarts and restarts[0] <= limit:
                self._restart(plan, inst, restarts.pop(0))
                continue
            if k is None or k > k_until:
                return
            if inst.batch is None and not inst.queue and self._idle_ticks(plan, inst, k_until):
                continue
            inst.k, uploads = k, self.uploads
            self._admit(plan, inst, k)
            self._upload(plan, inst, k * step)
            if self.uploads > uploads:
                inst.free = k + self.busy

    def _idle_ticks(self, plan: int, inst: Instance, k_until: int) -> bool:
        """Replay the usual ticks in one loop: an idle worker uploads one batch that succeeds.

        Does exactly what the general path does for such ticks, with the same draws, and
        stops (returning whether it replayed any) at the first tick that is not usual: a
        restart before it, more arrivals than one batch, or an upload that fails.
        """
        ticks, buckets, restarts = inst.ticks, inst.buckets, inst.restarts
        draws, p_fail, outages = inst.failures, self.config.failure_probability, self.outages
        step, one_batch, pop = self.step, self.one_batch, heapq.heappop
        done = False
        if self.busy > 1:  # an upload longer than a tick changes which ticks the worker sees
            return False
        while ticks:
            k = ticks[0]
            bucket = buckets.get(k)
            if not bucket:
                buckets.pop(pop(ticks), None)
                continue
            now = k * step
            if k > k_until or len(bucket) > one_batch or (restarts and restarts[0] <= now):
                break
            u = draws.buffer.pop() if draws.buffer else draws()
            if u < p_fail or (outages.starts and outages.down(now)):
                draws.buffer.append(u)  # the general path draws it again and handles the failure
                break
            pop(ticks)
            del buckets[k]
            inst.k = k
            self.uploads += 1
            self._delivered(plan, bucket, now)
            done = True
        return done

    def catch_up(self, until: float) -> None:
        """Replay every instance up to ``until`` (exact whenever it is called; see above)."""
        for p, insts in enumerate(self.plans):
            for inst in insts:
                self.advance(p, inst, until)

    def _drain(self, window: float):
        env = self.env
        while env.now + window <= self.end:
            yield env.timeout(window)
            self.catch_up(env.now)

    def settle_pending(self) -> None:
        """At the end of the run, replay up to the end, then count what is left as ``pending``."""
        for p, insts in enumerate(self.plans):
            for inst in insts:
                self.advance(p, inst, self.end)
                items = inst.items()
                inst.buckets.clear()
                inst.ticks.clear()
                inst.queue.clear()
                inst.batch = None
                self._lost(p, items, "pending")
