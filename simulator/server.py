"""The server path: per web-server instance, a bounded queue drained by a flush worker.

Each instance holds its own library queue (analytics-python / PostHog Python style): an event
is dropped when the queue is full, a worker takes batches and uploads them, retrying with
exponential backoff up to a cap while the collector is down, and a process restart (deploy)
loses whatever is queued unless the library flushes on exit. Collector outages are shared by
every instance and by the client path.

Speed: arrivals are not simpy events. Visits push their server events, stamped with their
times, onto the instance's heap; one ticker process wakes on the flush grid and admits every
arrival up to "now" in time order before the worker acts. Because the queue only shrinks at
flush instants, admitting lazily gives exactly the drops an eager queue would. When every
instance is idle the ticker sleeps until a visit pushes new work.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque

import numpy as np
import simpy

from simulator.collector import BOTS, Collector
from simulator.tracking_config import CollectorConfig, ServerConfig

SERVER, DUAL, BOT = 0, 1, 2
"""Kinds of queued item: a server/hybrid copy, the server copy of a dual event, a bot event."""


class Outages:
    """Collector outage windows, drawn up front and looked up by bisection.

    Parameters
    ----------
    config : CollectorConfig
        Outage rate and duration.
    end : float
        Last simulated second.
    rng : numpy.random.Generator
        The ``outages`` stream.
    """

    def __init__(self, config: CollectorConfig, end: float, rng: np.random.Generator) -> None:
        n = rng.poisson(config.outages_per_day * end / 86400.0)
        starts = np.sort(rng.uniform(0.0, end, n))
        ends = starts + config.outage_seconds.sample(rng, n)
        merged: list[list[float]] = []
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]

    def down(self, t: float) -> bool:
        """Whether the collector is unreachable at time ``t``."""
        i = bisect.bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]

    def downtime(self) -> float:
        """Total seconds of outage."""
        return float(sum(e - s for s, e in zip(self.starts, self.ends, strict=True)))


class Instance:
    """One web-server process's analytics queue and worker state."""

    __slots__ = ("heap", "queue", "batch", "attempts", "retry_at", "restarts")

    def __init__(self, restarts: list[float]) -> None:
        self.heap: list = []
        self.queue: deque = deque()
        self.batch: list | None = None
        self.attempts = 0
        self.retry_at = 0.0
        self.restarts = restarts

    def idle(self) -> bool:
        """Nothing queued, nothing arriving, nothing being uploaded."""
        return not self.heap and not self.queue and self.batch is None


class ServerPath:
    """All server instances of all plans, advanced by one simpy ticker process.

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
    ) -> None:
        self.env = env
        self.config = config
        self.collector = collector
        self.outages = outages
        self.rng = rng
        self.end = end
        n = config.instances
        # Deploys hit instance i at the same moments in every plan (common random numbers).
        restarts = []
        for _ in range(n):
            k = rng.poisson(config.deploys_per_day * end / 86400.0)
            restarts.append(sorted(rng.uniform(0.0, end, k).tolist()))
        self.plans = [[Instance(list(restarts[i])) for i in range(n)] for _ in range(n_plans)]
        self.failures = [rng.random(4096).tolist() for _ in range(n_plans)]
        self.seq = 0
        self.sleeping: simpy.Event | None = None
        self.uploads = 0
        env.process(self._ticker())

    def push(
        self,
        plan: int,
        instance: int,
        t: float,
        kind: int,
        event: int,
        cell: int,
        value: float,
        msg,
        context: bool,
    ) -> None:
        """Hand an event to a plan's server instance at time ``t`` (>= now)."""
        self.seq += 1
        heapq.heappush(
            self.plans[plan][instance].heap, (t, self.seq, kind, event, cell, value, msg, context)
        )
        if self.sleeping is not None:
            wake, self.sleeping = self.sleeping, None
            wake.succeed()

    def _fails(self, plan: int, t: float) -> bool:
        buf = self.failures[plan]
        if not buf:
            buf.extend(self.rng.random(4096).tolist())
        u = buf.pop()
        return u < self.config.failure_probability or self.outages.down(t)

    def _outcome(self, plan: int, item: tuple, arrival: float | None, cause: str | None) -> None:
        _, _, kind, event, cell, value, msg, context = item
        col = self.collector
        if kind == SERVER:
            col.settle(
                plan, event, cell, value, [] if arrival is None else [arrival], cause, context
            )
        elif kind == DUAL:
            col.server_settled(plan, msg, arrival, cause)
        elif arrival is not None:
            col.count(plan, event, cell, BOTS)

    def _admit(self, plan: int, inst: Instance, until: float) -> None:
        heap, queue, cap = inst.heap, inst.queue, self.config.max_queue_size
        while heap and heap[0][0] <= until:
            item = heapq.heappop(heap)
            if len(queue) >= cap:
                self._outcome(plan, item, None, "queue_full")
            else:
                queue.append(item)

    def _restart(self, plan: int, inst: Instance, at: float) -> None:
        self._admit(plan, inst, at)
        lost = list(inst.queue)
        if inst.batch is not None:
            lost.extend(inst.batch)
        inst.queue.clear()
        inst.batch, inst.attempts = None, 0
        if not lost:
            return
        ok = self.config.flush_on_exit and not self._fails(plan, at)
        for item in lost:
            self._outcome(plan, item, at if ok else None, None if ok else "process_exit")

    def _work(self, plan: int, inst: Instance, now: float) -> None:
        cfg = self.config
        while inst.restarts and inst.restarts[0] <= now:
            self._restart(plan, inst, inst.restarts.pop(0))
        self._admit(plan, inst, now)
        if inst.batch is not None and now < inst.retry_at:
            return
        while True:
            if inst.batch is None:
                if not inst.queue:
                    return
                n = min(cfg.batch_size, len(inst.queue))
                inst.batch = [inst.queue.popleft() for _ in range(n)]
                inst.attempts = 0
            self.uploads += 1
            if not self._fails(plan, now):
                for item in inst.batch:
                    self._outcome(plan, item, now, None)
                inst.batch = None
                continue
            inst.attempts += 1
            if inst.attempts > cfg.max_retries:
                for item in inst.batch:
                    self._outcome(plan, item, None, "retries_exhausted")
                inst.batch = None
                continue
            delay = cfg.backoff_initial_seconds * cfg.backoff_factor ** (inst.attempts - 1)
            inst.retry_at = now + min(delay, cfg.backoff_max_seconds)
            return

    def _ticker(self):
        env, step = self.env, self.config.flush_interval_seconds
        plans = self.plans
        while True:
            if all(inst.idle() for insts in plans for inst in insts):
                self.sleeping = env.event()
                yield self.sleeping
            now = env.now
            nxt = math.floor(now / step + 1e-9) * step + step
            if nxt > self.end:
                return
            yield env.timeout(nxt - now)
            for p, insts in enumerate(plans):
                for inst in insts:
                    if not inst.idle():
                        self._work(p, inst, env.now)

    def settle_pending(self) -> None:
        """At the end of the run, count everything still queued or uploading as ``pending``."""
        for p, insts in enumerate(self.plans):
            for inst in insts:
                items = list(inst.heap) + list(inst.queue) + list(inst.batch or [])
                inst.heap, inst.batch = [], None
                inst.queue.clear()
                for item in items:
                    self._outcome(p, item, None, "pending")
