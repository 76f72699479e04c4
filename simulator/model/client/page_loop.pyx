# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The client path page by page, compiled: the rules of ``page.ClientPath`` on a block's arrays.

:class:`PageLoop` walks a block's pages in visit order and, on each page the tag loads, does what
:class:`~simulator.model.client.page.ClientPath` does: the retry store's messages and the page's
own go into the library's queue (a heap by ready time, then arrival in the queue), leave one by
one or in batches (by size and timer), race the page's teardown, are retried while the page
lives, flushed at page-hide and persisted to the store, which goes on to the visit's next page.
The heap is kept exactly as Python's ``heapq`` keeps its list, because what is still queued at
page-hide leaves in the list's order.

Each request takes the next upload latency, response latency and failure uniform from the
arrays it is fed, in that order, so the same arrays give :class:`ClientPath` and this loop the
same outcome to the last bit (``tests/model/test_page_loop.py``). The loop stops before a page
whose requests might run past the variates left (:attr:`PageLoop.needed` says how many it
wants); feed it more and run it on from there.
"""

from libc.math cimport pow
from libc.stdint cimport int64_t

from simulator.model.client.arrivals cimport note_arrival
from simulator.model.client.queue_heap cimport QueueHeap
from simulator.model.sorted_times cimport outage_on

import numpy as np

cdef double INF = float("inf")
cdef int64_t NO_CAUSE = -1
cdef int64_t DELIVERED = -2
# How a request behaves (transports.PLAIN, KEEPALIVE, BEACON): each page's kind comes from
# transports.request_kind, which already sends a plain fetch where keepalive is not honoured.
cdef int PLAIN = 0, KEEPALIVE = 1, BEACON = 2


cdef class PageLoop:
    """A block's client copies settled page by page (see the module docstring)."""

    # settings
    cdef int64_t size, max_attempts, max_items, store_kind
    cdef int64_t BLOCKED, UNLOAD, NETWORK, QUEUE_FULL, EXHAUSTED  # loss causes' codes
    cdef double interval, pf, quota, handshake, window, backoff_initial, backoff_factor, backoff_max
    cdef bint persist_on_add
    # pages
    cdef double[:] t0, dwell, open_at, teardown, load
    cdef unsigned char[:] cancels, fires, live, blocked_beacon, last
    cdef signed char[:] kind, unload_kind  # PLAIN, KEEPALIVE or BEACON, per page
    cdef int64_t[:] position, own_start, own_rows, in_start, in_rows
    cdef double[:] own_ready
    # messages
    cdef int64_t[:] event, attempts, n, late, cause
    cdef double[:] made, first, nbytes
    cdef unsigned char[:] done
    # collector outages
    cdef double[::1] out_starts, out_ends
    # variates
    cdef double[:] up, back, u
    cdef int64_t d
    # results
    cdef int64_t[:] settled, status, left, left_page
    cdef public int64_t n_settled, n_left, requests, needed
    # scratch, reused from page to page
    cdef QueueHeap heap  # the library's queue on the page
    cdef double[:] ka_arrive, ka_bytes
    cdef int64_t[:] queue, inflight, unsent, store, chunk
    cdef int64_t seq, n_inflight, n_store, n_ka

    def __init__(self, dict settings, dict pages, dict messages, tuple outages):
        g = settings.__getitem__
        self.size, self.interval, self.pf = g("batch_size"), g("interval"), g("failure_probability")
        self.max_attempts, self.max_items = g("max_attempts"), g("max_items")
        self.store_kind, self.persist_on_add = g("store_kind"), g("persist_on_add")
        self.quota, self.handshake, self.window = g("quota"), g("beacon_handshake"), g("window")
        self.backoff_initial, self.backoff_factor, self.backoff_max = (
            g("backoff_initial"), g("backoff_factor"), g("backoff_max"))
        lost = settings["lost"]
        self.BLOCKED, self.UNLOAD, self.NETWORK = lost["blocked"], lost["unload"], lost["network"]
        self.QUEUE_FULL, self.EXHAUSTED = lost["queue_full"], lost["retries_exhausted"]
        self.t0, self.dwell = pages["t0"], pages["dwell"]
        self.open_at, self.teardown, self.load = pages["open_at"], pages["teardown"], pages["load"]
        self.cancels, self.fires, self.live = pages["cancels"], pages["fires"], pages["live"]
        self.kind, self.unload_kind = pages["kind"], pages["unload_kind"]
        self.blocked_beacon = pages["blocked_beacon"]
        self.last, self.position = pages["last"], pages["position"]
        self.own_start, self.own_rows, self.own_ready = (
            pages["own_start"], pages["own_rows"], pages["own_ready"])
        self.in_start, self.in_rows = pages["in_start"], pages["in_rows"]
        self.event, self.made, self.nbytes = messages["event"], messages["made"], messages["nbytes"]
        self.attempts, self.first = messages["attempts"], messages["first"]
        self.n, self.late, self.cause = messages["n"], messages["late"], messages["cause"]
        self.out_starts, self.out_ends = outages
        rows = self.event.shape[0]
        self.done = np.zeros(rows, np.uint8)
        self.settled, self.status = np.empty(rows, np.int64), np.empty(rows, np.int64)
        self.left, self.left_page = np.empty(rows, np.int64), np.empty(rows, np.int64)
        self.heap = QueueHeap(rows + 1)
        self.queue, self.inflight = np.empty(rows + 1, np.int64), np.empty(rows + 1, np.int64)
        self.unsent, self.store = np.empty(rows + 1, np.int64), np.empty(rows + 1, np.int64)
        self.chunk = np.empty(rows + 1, np.int64)
        self.up = self.back = self.u = np.zeros(0)
        self.ka_arrive = self.ka_bytes = np.zeros(0)

    def feed(self, up, back, u):
        """Variates for the next requests: those not used yet go first."""
        self.up = np.concatenate([np.asarray(self.up)[self.d:], up])
        self.back = np.concatenate([np.asarray(self.back)[self.d:], back])
        self.u = np.concatenate([np.asarray(self.u)[self.d:], u])
        self.d = 0
        # A page's quota list holds at most one entry per request.
        if self.ka_arrive.shape[0] < self.up.shape[0]:
            self.ka_arrive, self.ka_bytes = np.empty(self.up.shape[0]), np.empty(self.up.shape[0])

    def results(self):
        """``(settled rows, their status, rows left in a store at its visit's end, their page)``."""
        # Copies: the buffers are the block's size, the results often much smaller.
        return (np.asarray(self.settled)[: self.n_settled].copy(),
                np.asarray(self.status)[: self.n_settled].copy(),
                np.asarray(self.left)[: self.n_left].copy(),
                np.asarray(self.left_page)[: self.n_left].copy())

    def run(self, int64_t start):
        """Settle the pages from ``start`` on; returns where it stopped (all pages: done)."""
        cdef int64_t p, k, count, pages = self.dwell.shape[0]
        for p in range(start, pages):
            if self.position[p] == 0:  # a visit begins: the store its last visit left
                self.n_store = 0
                for k in range(self.in_start[p], self.in_start[p + 1]):
                    self.store[self.n_store] = self.in_rows[k]
                    self.n_store += 1
            count = self.n_store + self.own_start[p + 1] - self.own_start[p]
            if self.live[p] and count:
                # Each message is sent at most once per attempt left, and once more at page-hide.
                self.needed = count * (self.max_attempts + 1)
                if self.up.shape[0] - self.d < self.needed:
                    return p
                self._page(p)
            if self.last[p]:
                for k in range(self.n_store):
                    self.left[self.n_left] = self.store[k]
                    self.left_page[self.n_left] = p
                    self.n_left += 1
                self.n_store = 0
        self.needed = 0
        return pages

    # -- one page ----------------------------------------------------------------------------
    cdef void _page(self, int64_t p):
        """One page whose tag loaded: queue the store and the page's own, send, page-hide."""
        cdef int64_t k
        cdef double load = self.load[p]
        cdef QueueHeap heap = self.heap
        heap.n = 0
        self.seq = 0
        for k in range(self.n_store):
            self.seq += 1
            heap.append(load, self.seq, self.store[k])
        self.n_store = 0
        for k in range(self.own_start[p], self.own_start[p + 1]):
            self.seq += 1
            heap.append(self.own_ready[k], self.seq, self.own_rows[k])
        if heap.n == 0:
            return
        heap.heapify()
        self.n_inflight = 0
        self.n_ka = 0
        self._unload(p, self._run(p))

    cdef int64_t _run(self, int64_t p):
        """Send until the page ends; what is still queued is left in ``unsent``."""
        cdef double dwell = self.dwell[p], t, t_next, t_timer, started = 0.0
        cdef int64_t nq = 0, k, row
        cdef QueueHeap heap = self.heap
        if self.size == 1:  # one request per event, as soon as it is ready
            while heap.n and heap.ready[0] < dwell:
                t = heap.ready[0]
                self.queue[0] = heap.pop()
                self._send(p, self.queue, 1, t, self.kind[p])
            nq = 0
        else:
            while heap.n or nq:
                t_next = heap.ready[0] if heap.n else INF
                t_timer = started + self.interval if nq else INF
                if t_timer <= t_next:
                    if t_timer >= dwell:
                        break
                    self._send(p, self.queue, nq, t_timer, self.kind[p])
                    nq = 0
                    continue
                if t_next >= dwell:
                    break
                t = heap.ready[0]
                row = heap.pop()
                if not nq:
                    started = t
                self.queue[nq] = row
                nq += 1
                if nq >= self.size:
                    self._send(p, self.queue, nq, t, self.kind[p])
                    nq = 0
        # The heap's list in its order, then the queue.
        cdef int64_t m = 0
        for k in range(heap.n):
            self.unsent[m] = heap.row[k]
            m += 1
        for k in range(nq):
            self.unsent[m] = self.queue[k]
            m += 1
        return m

    cdef void _send(self, int64_t p, int64_t[:] msgs, int64_t count, double s, int64_t kind):
        """Send one request of ``kind`` carrying ``msgs[:count]`` at page offset ``s``."""
        cdef int64_t k, row
        cdef double dwell = self.dwell[p], nbytes = 0.0, up, back, u, written, arrive, busy
        cdef bint survives, failed, before
        self.requests += 1
        for k in range(count):
            row = msgs[k]
            self.attempts[row] += 1
            self.cause[row] = NO_CAUSE
        if kind == BEACON and self.blocked_beacon[p]:
            for k in range(count):
                self._settle(msgs[k], self.BLOCKED)
            return
        survives = kind != PLAIN or not self.cancels[p]
        if kind != PLAIN:
            for k in range(count):
                nbytes += self.nbytes[self.event[msgs[k]]]
            busy = 0.0
            for k in range(self.n_ka):
                if self.ka_arrive[k] > s:
                    busy += self.ka_bytes[k]
            if busy + nbytes > self.quota:  # rejected at once: the library sees it
                self._failed(msgs, count, s, self.UNLOAD if s >= dwell else self.NETWORK)
                return
        up = self.up[self.d]
        back = self.back[self.d]
        u = self.u[self.d]
        self.d += 1
        if kind == BEACON and self.handshake:
            written = s + self.handshake * up  # on a new connection of its own
        else:
            written = s if s > self.open_at[p] else self.open_at[p]
        arrive = written + up
        failed = u < self.pf or outage_on(self.out_starts, self.out_ends, self.t0[p] + s)
        if kind != PLAIN:
            self.ka_arrive[self.n_ka] = arrive
            self.ka_bytes[self.n_ka] = nbytes
            self.n_ka += 1
        if kind == BEACON:  # fire and forget: counted as sent, never retried
            for k in range(count):
                row = msgs[k]
                if not failed:
                    self._arrive(row, self.t0[p] + arrive)
                self._settle(row, self.NETWORK)  # unless it arrived
            return
        if failed:
            if arrive < dwell:
                self._failed(msgs, count, arrive, self.NETWORK)
            else:
                for k in range(count):
                    self.cause[msgs[k]] = self.NETWORK
                    self.inflight[self.n_inflight] = msgs[k]
                    self.n_inflight += 1
            return
        # Written before the teardown, it arrives even after the page is gone; a page-hide send
        # is written at the teardown itself, too late.
        before = s < dwell and written < self.teardown[p]
        if before or survives:
            for k in range(count):
                self._arrive(msgs[k], self.t0[p] + arrive)
        if before and arrive + back < self.teardown[p]:
            for k in range(count):
                self._settle(msgs[k], NO_CAUSE)
        else:
            for k in range(count):
                self.inflight[self.n_inflight] = msgs[k]
                self.n_inflight += 1

    cdef void _failed(self, int64_t[:] msgs, int64_t count, double at, int64_t cause):
        """A request failed visibly at page offset ``at``: retry or give up."""
        cdef int64_t k, row
        cdef double delay
        for k in range(count):
            row = msgs[k]
            self.cause[row] = cause
            if self.attempts[row] >= self.max_attempts:
                self._settle(row, self.EXHAUSTED)
            elif self.store_kind == 0:
                self._settle(row, cause)
            else:
                self.seq += 1
                delay = self.backoff_initial * pow(self.backoff_factor, self.attempts[row] - 1.0)
                if delay > self.backoff_max:
                    delay = self.backoff_max
                self.heap.push(at + delay, self.seq, row)

    cdef void _unload(self, int64_t p, int64_t n_unsent):
        """The page ends: page-hide flush, cancellation, persistence."""
        cdef int64_t k, row, n_left, size
        cdef bint fires = self.fires[p], persist
        if fires and n_unsent:
            self.heap.n = 0
            self._flush(p, n_unsent)
            # Requests the quota rejected at page-hide wait for a retry that never comes.
            n_unsent = self.heap.n
            for k in range(n_unsent):
                self.unsent[k] = self.heap.row[k]
        n_left = self.n_inflight + n_unsent
        if not n_left:
            return
        persist = self.store_kind == 2 and (fires or self.persist_on_add)
        self.n_store = 0
        for k in range(n_left):
            row = self.inflight[k] if k < self.n_inflight else self.unsent[k - self.n_inflight]
            if self.done[row]:
                continue
            if persist and self.attempts[row] < self.max_attempts:
                self.store[self.n_store] = row
                self.n_store += 1
            elif persist:
                self._settle(row, self.EXHAUSTED)
            else:
                self._settle(row, self.cause[row] if self.cause[row] != NO_CAUSE else self.UNLOAD)
        if self.n_store > self.max_items:
            self._sort_store()  # the oldest events go first
            size = self.n_store - self.max_items
            for k in range(size):
                self._settle(self.store[k], self.QUEUE_FULL)
            for k in range(self.max_items):
                self.store[k] = self.store[k + size]
            self.n_store = self.max_items

    cdef void _flush(self, int64_t p, int64_t n_unsent):
        """Send what is queued at page-hide with the page-hide transport, within the quota."""
        cdef int64_t kind = self.unload_kind[p], k, m = 0, row
        cdef double size = 0.0, b, at = self.dwell[p]
        if kind == PLAIN:
            self._send(p, self.unsent, n_unsent, at, kind)
            return
        for k in range(n_unsent):
            row = self.unsent[k]
            b = self.nbytes[self.event[row]]
            if m and size + b > self.quota:
                self._send(p, self.chunk, m, at, kind)
                m = 0
                size = 0.0
            self.chunk[m] = row
            m += 1
            size += b
        if m:
            self._send(p, self.chunk, m, at, kind)

    # -- a message's state ---------------------------------------------------------------------
    cdef void _settle(self, int64_t row, int64_t cause):
        """Settle ``row``: delivered if it arrived, else lost to ``cause``."""
        self.done[row] = 1
        self.settled[self.n_settled] = row
        if self.n[row] > 0:
            self.status[self.n_settled] = DELIVERED
            self.cause[row] = NO_CAUSE
        else:
            self.status[self.n_settled] = cause
            self.cause[row] = cause
        self.n_settled += 1

    cdef void _arrive(self, int64_t row, double t):
        """One more arrival at ``t``: the first, and how many came past the dedupe window."""
        note_arrival(&self.n[row], &self.first[row], &self.late[row], t, self.window)

    cdef void _sort_store(self):
        """Order the store by creation time, stably (an insertion sort: a store is short)."""
        cdef int64_t i, j, row
        for i in range(1, self.n_store):
            row = self.store[i]
            j = i - 1
            while j >= 0 and self.made[self.store[j]] > self.made[row]:
                self.store[j + 1] = self.store[j]
                j -= 1
            self.store[j + 1] = row
