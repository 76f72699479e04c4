"""The flush worker of one server instance: its ticks, batches, uploads, retries and deploys.

At every flush tick the worker queues the tick's arrivals (dropping what finds the queue full,
``queue_full``), then uploads batches one after another, each taking ``upload_seconds``: an
upload longer than the flush interval keeps the worker busy, and the queue filling, for the
ticks it spans; its outcome counts at its start. A failed upload (transient, or a collector
outage) is retried after an exponential backoff, at the first tick after it once the worker
is free, up to ``max_retries`` (``retries_exhausted``). A deploy loses the queue unless the
library flushes on exit (``process_exit``).

A :class:`Lane` holds one instance's state; the :class:`FlushWorker` moves it on, tick by
tick, or a run of usual ticks at once (in compiled code, :mod:`simulator.model.usual_ticks`,
where it was built; else with array operations). Which arrivals are due, and when,
is the business of :class:`simulator.model.server.ServerQueues`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

import numpy as np

from simulator.config.tracking import ServerConfig
from simulator.model.compiled import built
from simulator.model.outages import Outages
from simulator.model.streams import BLOCK

usual_ticks = built(
    "simulator.model.usual_ticks",
    ("usual_ticks.pyx", "sorted_times.pxd"),
    "the usual ticks' loop",
    "walking them on arrays instead",
)

STATUS = ("delivered", "queue_full", "retries_exhausted", "process_exit", "pending")
"""Final outcomes of a queued item, reported by index."""
DELIVERED, QUEUE_FULL, RETRIES_EXHAUSTED, PROCESS_EXIT, PENDING = range(5)


class Lane:
    """One instance of the plans ``members``: its pushed events, queue, batch, worker state, draws.

    Each member's pushes wait in ``pushed``; then their payload rows go to the member's
    ``pool`` and the arrivals, as times and row numbers (the same in every member's pool), to
    ``chunks`` for the next replay (:mod:`simulator.model.shared_lanes`), then to the store
    (``st``, ``sk``, ``sp`` from ``s0``: times, ticks, row numbers by tick) until due. In a
    replay ``t``, ``k``, ``p`` hold the batch and the queue (``[0, pos)``), then the due
    arrivals (``[pos, n)``).
    """

    def __init__(
        self, restarts: list[float], rng: np.random.Generator, members: Iterable[int] = (0,)
    ) -> None:
        self.members = list(members)
        self.pushed: dict[int, list[tuple]] = {p: [] for p in self.members}  # (t, rows, sel)
        self.pool: dict[int, np.ndarray] = {}  # each member's payload rows
        self.chunks: list[tuple[np.ndarray, np.ndarray]] = []  # to replay next
        self.st, self.sk = np.empty(0), np.empty(0, dtype=np.int64)
        self.sp = np.empty(0, dtype=np.int64)
        self.t = self.k = self.p = None
        self.queue: deque[list[int]] = deque()  # index ranges, oldest first
        self.batch: list[tuple[int, int]] = []
        self.s0 = self.n = self.pos = self.qlen = self.blen = 0
        self.attempts = self.retry_k = self.last = 0  # ``last``: last flush tick replayed
        self.free = 0  # first tick at which the worker is done with its last upload
        self.restarts, self.ri, self.rng, self.draws, self.dp = restarts, 0, rng, np.empty(0), 0

    def refill(self, need: int) -> None:
        """Have ``need`` failure draws ready: Uniforms' blocks, each handed out from its end.

        Parameters
        ----------
        need : int
            Draws the next step will take.
        """
        have = len(self.draws) - self.dp
        if have < need:
            blocks = max(4, -(-(need - have) // BLOCK))
            new = self.rng.random(blocks * BLOCK).reshape(blocks, BLOCK)[:, ::-1].ravel()
            self.draws, self.dp = np.concatenate((self.draws[self.dp :], new)), 0


class FlushWorker:
    """The library's flush schedule, applied to any instance's :class:`Lane`.

    Parameters
    ----------
    config : ServerConfig
        Library settings.
    outages : Outages
        Shared collector outages.
    """

    def __init__(self, config: ServerConfig, outages: Outages) -> None:
        self.config, self.outages = config, outages
        self.step = config.flush_interval_seconds
        self.one_batch = min(config.batch_size, config.max_queue_size)
        self.uploads_per_tick = max(1, math.floor(self.step / config.upload_seconds + 1e-9))
        # Ticks a worker stays busy once it has uploaded: 1 unless an upload outlasts a tick.
        self.busy = max(1, math.ceil(config.upload_seconds / self.step - 1e-9))
        self.o_starts = np.asarray(outages.starts, dtype=float)
        self.o_ends = np.asarray(outages.ends, dtype=float)
        self.uploads = 0

    def advance(self, lane: Lane, until: float, k_until: int) -> None:
        """Replay the worker's ticks up to ``until``, skipping idle ones.

        A worker acts at a tick once its last upload is over (``free``): an upload longer
        than the flush interval keeps it busy across ticks while the queue fills.

        Parameters
        ----------
        lane : Lane
            The instance, with its due arrivals indexed.
        until : float
            Time to replay up to.
        k_until : int
            The last flush tick at or before ``until``.
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

    def _idle_ticks(self, lane: Lane, k_until: int) -> bool:
        """Deliver a run of usual ticks of an idle worker at once, one draw and upload each.

        Only for uploads that fit a tick: a longer one changes which ticks the worker sees.
        Where it was built, the compiled loop of :mod:`simulator.model.usual_ticks` walks the
        ticks one by one; on arrays they go a block at a time. Both stop at the same tick.
        """
        if self.busy > 1:
            return False
        step, p_fail, pos = self.step, self.config.failure_probability, lane.pos
        r0 = lane.restarts[lane.ri] if lane.ri < len(lane.restarts) else math.inf
        if usual_ticks is not None:
            return self._walk_usual_ticks(lane, k_until, r0)
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
            lane.refill(j)
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

    def _walk_usual_ticks(self, lane: Lane, k_until: int, restart: float) -> bool:
        """:meth:`_idle_ticks` in the compiled loop, on the draws at hand, then on more."""
        done, more = 0, True
        while more:
            lane.refill(1)
            ok, lane.pos, last, more = usual_ticks.deliver(
                lane.gs, lane.ge, lane.gk, lane.k, lane.code, lane.when, lane.draws, lane.dp,
                lane.pos, k_until, self.one_batch, self.step, restart,
                self.config.failure_probability, self.o_starts, self.o_ends, DELIVERED,
            )  # fmt: skip
            if ok:
                lane.dp, lane.last, self.uploads = lane.dp + ok, last, self.uploads + ok
                done += ok
        return done > 0

    def _fails(self, lane: Lane, t: float) -> bool:
        lane.refill(1)
        u = float(lane.draws[lane.dp])
        lane.dp += 1
        return u < self.config.failure_probability or self.outages.down(t)

    @staticmethod
    def _settle(lane: Lane, ranges: list, code: int, when: float) -> None:
        for lo, hi in ranges:
            lane.code[lo:hi] = code
            lane.when[lo:hi] = when

    def _admit(self, lane: Lane, k: int, until: float | None = None) -> None:
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
    def _permute(lane: Lane, lo: int, hi: int, order: np.ndarray) -> None:
        for a in (lane.t, lane.k, lane.p):
            a[lo:hi] = a[lo:hi][order]

    def _restart(self, lane: Lane, at: float) -> None:
        """A deploy loses the queue and the batch unless the library flushes on exit."""
        self._admit(lane, math.ceil(at / self.step), until=at)
        lost, n_lost = lane.batch + list(lane.queue), lane.blen + lane.qlen
        lane.queue, lane.batch, lane.blen, lane.qlen, lane.attempts = deque(), [], 0, 0, 0
        lane.free = 0  # the new process's worker is idle
        if n_lost:
            flushed = self.config.flush_on_exit and not self._fails(lane, at)
            self._settle(lane, lost, DELIVERED if flushed else PROCESS_EXIT, at)

    def _take_batch(self, lane: Lane) -> None:
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

    def _upload(self, lane: Lane, now: float) -> None:
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
