"""The server path: per web-server instance, a bounded queue drained by a flush worker.

Each instance holds its own library queue (analytics-python / PostHog Python style): an event
is dropped when the queue is full (``queue_full``); at every flush tick a worker uploads
batches one after another, each taking ``upload_seconds`` (an upload longer than the flush
interval keeps the worker busy, and the queue filling, for the ticks it spans; its outcome
counts at its start); a failed upload (transient, or a collector outage) is retried after an
exponential backoff, at the first tick after it once the worker is free, up to
``max_retries`` (``retries_exhausted``); a deploy loses the queue unless the library flushes
on exit (``process_exit``); what is queued at the end is ``pending``.

:class:`ServerQueues` takes events and reports outcomes as arrays. The engine calls
``catch_up(now)`` once every event before "now" is pushed, so the replay is exact whatever its
rhythm (each instance draws its own failures). While the worker is idle, a run of *usual*
ticks (arrivals fit one batch, no restart, the upload succeeds) is delivered with array
operations; any other tick runs a loop over ticks (the queue and the batch are index ranges,
never items). tests/support/reference_server.py holds the same model item by item, and
tests/model/test_server_queues.py checks both give exactly the same outcomes on the same draws.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable

import numpy as np

from simulator.config.tracking import ServerConfig
from simulator.model.outages import Outages
from simulator.model.streams import BLOCK

STATUS = ("delivered", "queue_full", "retries_exhausted", "process_exit", "pending")
"""Final outcomes of a queued item; :class:`ServerQueues` reports them by index."""
DELIVERED, QUEUE_FULL, RETRIES_EXHAUSTED, PROCESS_EXIT, PENDING = range(5)

Settled = Callable[[int, np.ndarray, int, np.ndarray], None]


def _cat(*parts: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """Concatenate parallel arrays: ``_cat((a1, b1), (a2, b2)) == [a1 + a2, b1 + b2]``."""
    if len(parts) == 1:
        return list(parts[0])
    return [np.concatenate(x) for x in zip(*parts, strict=True)]


class _Lane:
    """One instance of one plan: its pushed events, queue, batch, worker state and draws.

    Pushes wait in ``chunks``, then in the store (``st``, ``sk``, ``sp`` from ``s0``: times,
    ticks, payload by tick) until due. In a replay ``t``, ``k``, ``p`` hold the batch and the
    queue (``[0, pos)``), then the due arrivals (``[pos, n)``).
    """

    def __init__(self, restarts: list[float], rng: np.random.Generator) -> None:
        self.chunks: list[tuple[np.ndarray, np.ndarray]] = []  # pushed since the last replay
        self.st, self.sk, self.sp = np.empty(0), np.empty(0, dtype=np.int64), np.empty(0)
        self.t = self.k = self.p = None
        self.queue: deque[list[int]] = deque()  # index ranges, oldest first
        self.batch: list[tuple[int, int]] = []
        self.s0 = self.n = self.pos = self.qlen = self.blen = 0
        self.attempts = self.retry_k = self.last = 0  # ``last``: last flush tick replayed
        self.free = 0  # first tick at which the worker is done with its last upload
        self.restarts, self.ri, self.rng, self.draws, self.dp = restarts, 0, rng, np.empty(0), 0


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
        self.step = config.flush_interval_seconds
        self.one_batch = min(config.batch_size, config.max_queue_size)
        self.uploads_per_tick = max(1, math.floor(self.step / config.upload_seconds + 1e-9))
        # Ticks a worker stays busy once it has uploaded: 1 unless an upload outlasts a tick.
        self.busy = max(1, math.ceil(config.upload_seconds / self.step - 1e-9))
        self.outages = outages
        self.o_starts = np.asarray(outages.starts, dtype=float)
        self.o_ends = np.asarray(outages.ends, dtype=float)
        n = config.instances
        restarts = []  # deploys hit instance i at the same moments in every plan
        for _ in range(n):
            k = rng.poisson(config.deploys_per_day * end / 86400.0)
            restarts.append(sorted(rng.uniform(0.0, end, k).tolist()))
        seeds = rng.bit_generator.seed_seq.spawn(n)
        self.plans = [
            [_Lane(list(restarts[i]), np.random.default_rng(seeds[i])) for i in range(n)]
            for _ in range(n_plans)
        ]
        self.uploads = 0
        self._dtype: np.dtype | None = None  # payload rows travel as opaque bytes
        self._out: list[list[list[tuple[np.ndarray, np.ndarray]]]] = []

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
            lanes[int(instance)].chunks.append((t, rows))
            return
        order = np.argsort(instance, kind="stable")
        bounds = np.searchsorted(np.asarray(instance)[order], np.arange(len(lanes) + 1))
        if bounds[0] or bounds[-1] < len(t):
            raise IndexError(f"instances of plan {plan} are 0..{len(lanes) - 1}")
        for i in np.flatnonzero(np.diff(bounds)).tolist():
            sel = order[bounds[i] : bounds[i + 1]]
            lanes[i].chunks.append((t[sel], rows[sel]))

    def catch_up(self, until: float) -> None:
        """Replay every instance of every plan up to time ``until``.

        Every event with ``t <= until`` must have been pushed; later ones wait for a later
        call. Outcomes reached are reported to ``settled``.
        """
        self._out = [[[] for _ in STATUS] for _ in self.plans]
        k_until = math.floor(until / self.step)
        for p, lanes in enumerate(self.plans):
            for lane in lanes:
                ri = bisect.bisect_right(lane.restarts, until, lo=lane.ri)
                # Arrivals of the next tick matter only to a restart before ``until``.
                late = ri > lane.ri and lane.restarts[ri - 1] > k_until * self.step
                if self._prepare(lane, k_until + late, k_until, self._out[p]):
                    self._advance(lane, until, k_until)
                    self._finish(lane, self._out[p])
                else:  # nothing (left) due or queued: the restarts lose and draw nothing
                    lane.free = 0 if ri > lane.ri else lane.free  # a new process is idle
                    lane.ri = ri
        self._emit()

    def settle_pending(self) -> None:
        """At the end of the run, replay up to ``end``; what is left is ``pending``."""
        self.catch_up(self.end)
        self._out = [[[] for _ in STATUS] for _ in self.plans]
        for p, lanes in enumerate(self.plans):
            for lane in lanes:
                for rows in [lane.sp[lane.s0 :]] + ([lane.p] if lane.pos else []):
                    if len(rows):
                        self._out[p][PENDING].append((rows, np.full(len(rows), self.end)))
                lane.s0, lane.n, lane.pos, lane.qlen, lane.blen = len(lane.sk), 0, 0, 0, 0
        self._emit()

    def _emit(self) -> None:
        for p, by_code in enumerate(self._out):
            for code, parts in enumerate(by_code):
                if parts:
                    rows, when = _cat(*parts)
                    self.settled(p, rows.view(self._dtype), code, when)
        self._out = []

    def _prepare(self, lane: _Lane, due: int, k_until: int, out: list) -> bool:
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
            order = np.argsort(new[1], kind="stable")
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

    def _quick(self, lane: _Lane, cut: int, k_until: int, out: list) -> bool:
        """The common case at once: an idle worker whose due ticks are all usual."""
        ks, step, restarts, one = lane.sk[lane.s0 : cut], self.step, lane.restarts, self.one_batch
        first, last = int(ks[0]) * step, int(ks[-1]) * step
        if self.busy > 1 or ks[-1] > k_until or self.outages.overlaps(first, last):
            return False
        if lane.ri < len(restarts) and restarts[lane.ri] <= last:
            return False
        edges = np.flatnonzero(ks[1:] != ks[:-1])  # last arrival of each tick but the last
        n = len(edges) + 1
        self._refill(lane, n)
        if len(ks) > one and np.diff(np.r_[-1, edges, len(ks) - 1]).max() > one:
            return False
        if (lane.draws[lane.dp : lane.dp + n] < self.config.failure_probability).any():
            return False
        lane.dp, lane.s0, lane.last = lane.dp + n, cut, int(ks[-1])
        self.uploads += n
        out[DELIVERED].append((lane.sp[cut - len(ks) : cut], ks * step))
        return True

    def _finish(self, lane: _Lane, out: list[list[tuple[np.ndarray, np.ndarray]]]) -> None:
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

    def _advance(self, lane: _Lane, until: float, k_until: int) -> None:
        """Replay the worker's ticks up to ``until``, skipping idle ones.

        A worker acts at a tick once its last upload is over (``free``): an upload longer
        than the flush interval keeps it busy across ticks while the queue fills.
        """
        step, restarts = self.step, lane.restarts
        while True:
            if lane.blen:
                k = max(lane.last + 1, lane.free, lane.retry_k)
            elif lane.qlen:
                k = max(lane.last + 1, lane.free)
            else:
                k = max(int(lane.k[lane.pos]), lane.free) if lane.pos < lane.n else None
            limit = until if k is None else min(k * step, until)
            if lane.ri < len(restarts) and restarts[lane.ri] <= limit:
                lane.ri += 1
                self._restart(lane, restarts[lane.ri - 1])
                continue
            if k is None or k > k_until:
                return
            if not lane.blen and not lane.qlen and self._idle_ticks(lane, k_until):
                continue
            lane.last, uploads = k, self.uploads
            self._admit(lane, k)
            self._upload(lane, k * step)
            if self.uploads > uploads:
                lane.free = k + self.busy

    def _idle_ticks(self, lane: _Lane, k_until: int) -> bool:
        """Deliver a run of usual ticks of an idle worker at once, one draw and upload each.

        Only for uploads that fit a tick: a longer one changes which ticks the worker sees.
        """
        if self.busy > 1:
            return False
        step, p_fail, pos = self.step, self.config.failure_probability, lane.pos
        r0 = lane.restarts[lane.ri] if lane.ri < len(lane.restarts) else math.inf
        g = int(np.searchsorted(lane.gs, pos, side="right")) - 1
        g_end = int(np.searchsorted(lane.gk, k_until, side="right"))
        done, width = 0, 32
        while g < g_end:
            g2 = min(g + width, g_end)
            counts = lane.ge[g:g2] - lane.gs[g:g2]
            counts[0] = lane.ge[g] - pos
            now = lane.gk[g:g2] * step
            bad = (counts > self.one_batch) | (now >= r0)
            j = int(bad.argmax()) if bad.any() else g2 - g
            self._refill(lane, j)
            fails = lane.draws[lane.dp : lane.dp + j] < p_fail
            if len(self.o_starts):  # Outages.down, vectorised
                i = np.searchsorted(self.o_starts, now[:j], side="right") - 1
                fails |= (i >= 0) & (now[:j] < self.o_ends[i])
            ok = int(fails.argmax()) if fails.any() else j
            if ok:
                stop = int(lane.ge[g + ok - 1])
                lane.code[pos:stop] = DELIVERED
                lane.when[pos:stop] = lane.k[pos:stop] * step
                lane.pos = pos = stop
                lane.dp, lane.last = lane.dp + ok, int(lane.gk[g + ok - 1])
                self.uploads, done = self.uploads + ok, done + ok
            if ok < g2 - g:
                break
            g, width = g2, width * 4
        return done > 0

    def _refill(self, lane: _Lane, need: int) -> None:
        """Have ``need`` draws ready: Uniforms' blocks, each handed out from its end."""
        have = len(lane.draws) - lane.dp
        if have < need:
            blocks = max(4, -(-(need - have) // BLOCK))
            new = lane.rng.random(blocks * BLOCK).reshape(blocks, BLOCK)[:, ::-1].ravel()
            lane.draws, lane.dp = np.concatenate((lane.draws[lane.dp :], new)), 0

    def _fails(self, lane: _Lane, t: float) -> bool:
        self._refill(lane, 1)
        u = float(lane.draws[lane.dp])
        lane.dp += 1
        return u < self.config.failure_probability or self.outages.down(t)

    @staticmethod
    def _settle(lane: _Lane, ranges: list, code: int, when: float) -> None:
        for lo, hi in ranges:
            lane.code[lo:hi] = code
            lane.when[lo:hi] = when

    def _admit(self, lane: _Lane, k: int, until: float | None = None) -> None:
        """Queue the arrivals of ticks up to ``k`` (tick ``k``'s up to ``until``), drop overflow."""
        pos, n = lane.pos, lane.n
        if pos >= n:
            return
        ks = lane.k[pos:n]
        stop = pos + int(np.searchsorted(ks, k, side="right"))
        if until is not None:
            first = pos + int(np.searchsorted(ks, k, side="left"))
            inside = lane.t[first:stop] <= until
            c = int(np.count_nonzero(inside))
            if 0 < c < stop - first:  # tick k's early arrivals first, each part in push order
                self._permute(lane, first, stop, np.argsort(~inside, kind="stable"))
            stop = first + c
        keep = min(stop, pos + self.config.max_queue_size - lane.qlen)
        if keep < stop:  # the latest arrivals find the queue full
            self._permute(lane, pos, stop, np.argsort(lane.t[pos:stop], kind="stable"))
            lane.code[keep:stop] = QUEUE_FULL
            lane.when[keep:stop] = lane.t[keep:stop]
        if keep > pos:
            lane.queue.append([pos, keep])
            lane.qlen += keep - pos
        lane.pos = stop

    @staticmethod
    def _permute(lane: _Lane, lo: int, hi: int, order: np.ndarray) -> None:
        for a in (lane.t, lane.k, lane.p):
            a[lo:hi] = a[lo:hi][order]

    def _restart(self, lane: _Lane, at: float) -> None:
        """A deploy loses the queue and the batch unless the library flushes on exit."""
        self._admit(lane, math.ceil(at / self.step), until=at)
        lost, n_lost = lane.batch + list(lane.queue), lane.blen + lane.qlen
        lane.queue, lane.batch, lane.blen, lane.qlen, lane.attempts = deque(), [], 0, 0, 0
        lane.free = 0  # the new process's worker is idle
        if n_lost:
            flushed = self.config.flush_on_exit and not self._fails(lane, at)
            self._settle(lane, lost, DELIVERED if flushed else PROCESS_EXIT, at)

    def _take_batch(self, lane: _Lane) -> None:
        need = lane.blen = min(self.config.batch_size, lane.qlen)
        lane.qlen, lane.attempts, lane.batch = lane.qlen - need, 0, []
        while need:
            lo, hi = lane.queue[0]
            take = min(need, hi - lo)
            lane.batch.append((lo, lo + take))
            lane.queue[0][0] = lo + take
            if take == hi - lo:
                lane.queue.popleft()
            need -= take

    def _upload(self, lane: _Lane, now: float) -> None:
        """The worker at one tick: batches one after another, within the tick's upload time."""
        cfg, room = self.config, self.uploads_per_tick
        while True:
            if not lane.blen:
                if not lane.qlen or room == 0:
                    return
                self._take_batch(lane)
            self.uploads, room = self.uploads + 1, room - 1
            failed = self._fails(lane, now)
            lane.attempts += failed
            if not failed or lane.attempts > cfg.max_retries:
                self._settle(lane, lane.batch, RETRIES_EXHAUSTED if failed else DELIVERED, now)
                lane.batch, lane.blen = [], 0
                continue
            lane.retry_k = math.ceil((now + cfg.retry_delay(lane.attempts)) / self.step)
            return
