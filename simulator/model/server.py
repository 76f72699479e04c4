"""The server path: per web-server instance, a bounded queue drained by a flush worker.

Each instance holds its own library queue (analytics-python / PostHog Python style), drained
at every flush tick by a worker (:mod:`simulator.model.flush_worker`: batches, uploads,
retries, deploys); what is queued at the end is ``pending``.

:class:`ServerQueues` takes events and reports outcomes as arrays. The engine calls
``catch_up(now)`` once every event before "now" is pushed, so the replay is exact whatever its
rhythm (each instance draws its own failures). While the worker is idle, a run of *usual*
ticks (arrivals fit one batch, no restart, the upload succeeds) is delivered at once (in a
compiled loop, or with array operations); any other tick runs a loop over ticks (the queue and
the batch are index ranges, never items). Plans that push the same arrivals to an instance
share its replay (:mod:`simulator.model.shared_lanes`). tests/support/reference_server.py holds
the same model item by item, and tests/model/test_server_queues.py checks both give exactly the
same outcomes on the same draws.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable

import numpy as np

from simulator.config.tracking import ServerConfig
from simulator.model.flush_worker import DELIVERED, PENDING, STATUS, FlushWorker, Lane
from simulator.model.outages import Outages
from simulator.model.shared_lanes import payload_rows, split

__all__ = ["STATUS", "ServerQueues", "Settled"]

Settled = Callable[[int, np.ndarray, int, np.ndarray], None]
FEW_INSTANCES = 16
"""Up to this many instances, a push picks each one's events by a pass of its own."""


def _cat(*parts: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """Concatenate parallel arrays: ``_cat((a1, b1), (a2, b2)) == [a1 + a2, b1 + b2]``."""
    if len(parts) == 1:
        return list(parts[0])
    return [np.concatenate(x) for x in zip(*parts, strict=True)]


def _tick_order(k: np.ndarray) -> np.ndarray:
    """The stable order of ticks ``k``: by radix sort on 16 bits when their span allows it."""
    lo = int(k.min()) if k.size else 0
    if k.size and int(k.max()) - lo < 1 << 16:
        return np.argsort((k - lo).astype(np.uint16), kind="stable")
    return np.argsort(k, kind="stable")


class ServerQueues:
    """All server instances of all plans, fed with arrays and replayed on demand.

    Parameters
    ----------
    config : ServerConfig
        Library settings.
    n_plans : int
        Each plan has its own instances (plans are alternative worlds).
    outages : Outages
        Shared collector outages.
    rng : numpy.random.Generator
        The ``server`` stream: deploy times, then one spawned failure stream per instance
        (the same in every plan: common random numbers).
    end : float
        When the run stops; what is still queued then is ``pending``.
    settled : callable
        ``settled(plan, payload_rows, status, when)``, called with many items at once: their
        payload rows, one index of :data:`STATUS` and a float array of times (delivery time
        when delivered, arrival time for ``queue_full``, time of the loss otherwise, ``end``
        for ``pending``).
    """

    def __init__(
        self,
        config: ServerConfig,
        n_plans: int,
        outages: Outages,
        rng: np.random.Generator,
        end: float,
        settled: Settled,
    ) -> None:
        self.config, self.end, self.settled = config, end, settled
        self.worker = FlushWorker(config, outages)
        self.step = self.worker.step
        n = config.instances
        restarts = []  # deploys hit instance i at the same moments in every plan
        for _ in range(n):
            k = rng.poisson(config.deploys_per_day * end / 86400.0)
            restarts.append(sorted(rng.uniform(0.0, end, k).tolist()))
        seeds = rng.bit_generator.seed_seq.spawn(n)
        # Every plan starts on one lane per instance; a plan whose arrivals differ leaves it
        # with a copy of its state (shared_lanes), so each plan's outcomes are its own lane's.
        every = range(n_plans)
        shared = [Lane(list(restarts[i]), np.random.default_rng(seeds[i]), every) for i in range(n)]
        self.plans = [list(shared) for _ in range(n_plans)]
        self._dtype: np.dtype | None = None  # payload rows travel as opaque bytes
        # Per plan and code: (pool, row numbers, times) of each lane's outcomes, to report.
        self._out: list[list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]]] = []
        self._uploads = 0  # upload attempts of a shared lane, counted for each member but one

    @property
    def uploads(self) -> int:
        """Upload attempts so far, over every instance of every plan."""
        return self.worker.uploads + self._uploads

    def push(
        self, plan: int, instance: np.ndarray | int, t: np.ndarray, payload: np.ndarray
    ) -> None:
        """Hand events to a plan's instances; each happens at ``t`` (>= the last replay).

        Parameters
        ----------
        plan : int
            Plan index.
        instance : numpy.ndarray or int
            Instance of each event, or one for all.
        t : numpy.ndarray
            Event times (float64, any order).
        payload : numpy.ndarray
            One row per event, carried along untouched and handed back to ``settled``.
        """
        t = np.asarray(t, dtype=float)
        if not len(t):
            return
        payload = np.ascontiguousarray(payload)
        self._dtype = payload.dtype
        rows = payload.view(np.dtype((np.void, payload.dtype.itemsize)))
        lanes = self.plans[plan]
        if np.ndim(instance) == 0:
            lanes[int(instance)].pushed[plan].append((t, rows, None))
            return
        instance = np.asarray(instance)
        if instance.min() < 0 or instance.max() >= len(lanes):
            raise IndexError(f"instances of plan {plan} are 0..{len(lanes) - 1}")
        if len(lanes) <= FEW_INSTANCES:  # one pass per instance beats a sort
            groups = ((lane, np.flatnonzero(instance == i)) for i, lane in enumerate(lanes))
        else:
            order = np.argsort(instance, kind="stable")
            bounds = np.searchsorted(instance[order], np.arange(len(lanes) + 1)).tolist()
            groups = ((lane, order[bounds[i] : bounds[i + 1]]) for i, lane in enumerate(lanes))
        for lane, sel in groups:
            if sel.size:
                lane.pushed[plan].append((t[sel], rows, sel))  # rows taken when pooled

    def catch_up(self, until: float) -> None:
        """Replay every instance of every plan up to time ``until``.

        Every event with ``t <= until`` must have been pushed; later ones wait for a later
        call. Outcomes reached are reported to ``settled``.
        """
        self._out = [[[] for _ in STATUS] for _ in self.plans]
        k_until = math.floor(until / self.step)
        for lane in self._lanes(split_first=True):
            out: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in STATUS]
            uploads = self.worker.uploads
            ri = bisect.bisect_right(lane.restarts, until, lo=lane.ri)
            # Arrivals of the next tick matter only to a restart before ``until``.
            late = ri > lane.ri and lane.restarts[ri - 1] > k_until * self.step
            if self._prepare(lane, k_until + late, k_until, out):
                self.worker.advance(lane, until, k_until)
                self._finish(lane, out)
            else:  # nothing (left) due or queued: the restarts lose and draw nothing
                lane.free = 0 if ri > lane.ri else lane.free  # a new process is idle
                lane.ri = ri
            self._uploads += (self.worker.uploads - uploads) * (len(lane.members) - 1)
            self._hand_out(lane, out)
        self._emit()

    def settle_pending(self) -> None:
        """At the end of the run, replay up to ``end``; what is left is ``pending``."""
        self.catch_up(self.end)
        self._out = [[[] for _ in STATUS] for _ in self.plans]
        for lane in self._lanes():
            out: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in STATUS]
            for rows in [lane.sp[lane.s0 :]] + ([lane.p] if lane.pos else []):
                if len(rows):
                    out[PENDING].append((rows, np.full(len(rows), self.end)))
            lane.s0, lane.n, lane.pos, lane.qlen, lane.blen = len(lane.sk), 0, 0, 0, 0
            self._hand_out(lane, out)
        self._emit()

    def _lanes(self, split_first: bool = False) -> list[Lane]:
        """Every distinct lane, instance by instance; ``split_first``: see :func:`split`."""
        found = []
        for i in range(len(self.plans[0])):
            here = {id(lanes[i]): lanes[i] for lanes in self.plans}.values()
            for lane in list(here):
                for one in split(lane) if split_first else [lane]:
                    for p in one.members:
                        self.plans[p][i] = one
                    found.append(one)
        return found

    def _hand_out(self, lane: Lane, out: list[list[tuple[np.ndarray, np.ndarray]]]) -> None:
        """Queue a lane's outcomes ``out`` (row numbers and times, by code) for its members.

        Lanes come instance by instance, so each plan's outcomes come in the order they would
        from one lane per plan.
        """
        for code, parts in enumerate(out):
            for rows, when in parts:
                for p in lane.members:
                    self._out[p][code].append((lane.pool[p], rows, when))

    def _emit(self) -> None:
        """Report the queued outcomes, one call per plan and code, each with its payload rows."""
        for p, by_code in enumerate(self._out):
            for code, parts in enumerate(by_code):
                if not parts:
                    continue
                payload = payload_rows([(pool, rows) for pool, rows, _ in parts])
                when = parts[0][2] if len(parts) == 1 else np.concatenate([w for *_, w in parts])
                self.settled(p, payload.view(self._dtype), code, when)
        self._out = []

    def _prepare(self, lane: Lane, due: int, k_until: int, out: list) -> bool:
        """Store new pushes by tick, take out arrivals of ticks up to ``due``, index ticks.

        Returns whether there is anything left to replay (due arrivals, a queue or a batch).
        """
        if lane.chunks:
            t, p = _cat(*lane.chunks)
            k = np.ceil(t / self.step).astype(np.int64)
            np.maximum(k, lane.last + 1, out=k)  # on a tick already replayed: the next one
            new = (t, k, p)
            if lane.s0 < len(lane.sk):  # earlier pushes first: push order within a tick
                new = _cat((lane.st[lane.s0 :], lane.sk[lane.s0 :], lane.sp[lane.s0 :]), new)
            order = _tick_order(new[1])
            lane.st, lane.sk, lane.sp = (a[order] for a in new)
            lane.chunks, lane.s0 = [], 0
        s0, pos = lane.s0, lane.pos
        cut = s0 + int(np.searchsorted(lane.sk[s0:], due, side="right"))
        if not pos and (cut == s0 or self._quick(lane, cut, k_until, out)):
            return False
        t, k, p = lane.st[s0:cut], lane.sk[s0:cut], lane.sp[s0:cut]
        if pos:  # the batch and the queue first
            t, k, p = _cat((lane.t, lane.k, lane.p), (t, k, p))
        lane.t, lane.k, lane.p, lane.n, lane.s0 = t, k, p, len(t), cut
        lane.code, lane.when = np.full(len(t), -1, dtype=np.int8), np.empty(len(t))
        if len(t) > pos:  # the ticks (groups of arrivals) not admitted yet
            ks = k[pos:]
            lane.gs = np.concatenate(([pos], np.flatnonzero(ks[1:] != ks[:-1]) + pos + 1))
            lane.gk, lane.ge = k[lane.gs], np.append(lane.gs[1:], len(t))
        return True

    def _quick(self, lane: Lane, cut: int, k_until: int, out: list) -> bool:
        """The common case at once: an idle worker whose due ticks are all usual."""
        w, ks, restarts = self.worker, lane.sk[lane.s0 : cut], lane.restarts
        step, one = w.step, w.one_batch
        first, last = int(ks[0]) * step, int(ks[-1]) * step
        if w.busy > 1 or ks[-1] > k_until or w.outages.overlaps(first, last):
            return False
        if lane.ri < len(restarts) and restarts[lane.ri] <= last:
            return False
        edges = np.flatnonzero(ks[1:] != ks[:-1])  # last arrival of each tick but the last
        n = len(edges) + 1
        lane.refill(n)
        if len(ks) > one and np.diff(np.r_[-1, edges, len(ks) - 1]).max() > one:
            return False
        if (lane.draws[lane.dp : lane.dp + n] < self.config.failure_probability).any():
            return False
        lane.dp, lane.s0, lane.last = lane.dp + n, cut, int(ks[-1])
        w.uploads += n
        out[DELIVERED].append((lane.sp[cut - len(ks) : cut], ks * step))
        return True

    def _finish(self, lane: Lane, out: list[list[tuple[np.ndarray, np.ndarray]]]) -> None:
        """Report what settled; keep the batch and the queue, store what is not admitted."""
        pos, held, code = lane.pos, lane.blen + lane.qlen, lane.code[: lane.pos]
        if pos > held:
            rows, when = lane.p[:pos], lane.when[:pos]
            counts = np.bincount(code + 1, minlength=5).tolist()
            for c in range(4):
                if counts[c + 1] == pos:
                    out[c].append((rows, when))
                elif counts[c + 1]:
                    out[c].append((rows[code == c], when[code == c]))
        if lane.n > pos:  # due before a batch waiting for its retry: back to the store
            rest = (lane.st[lane.s0 :], lane.sk[lane.s0 :], lane.sp[lane.s0 :])
            lane.st, lane.sk, lane.sp = _cat((lane.t[pos:], lane.k[pos:], lane.p[pos:]), rest)
            lane.s0 = 0
        keep = slice(None, pos) if held == pos else code < 0
        lane.t, lane.k, lane.p = (a[:pos][keep] for a in (lane.t, lane.k, lane.p))
        lane.n = lane.pos = held
        lane.batch = [(0, lane.blen)] if lane.blen else []
        lane.queue = deque([[lane.blen, held]] if lane.qlen else [])
