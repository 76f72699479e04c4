# cython: language_level=3, boundscheck=False, wraparound=False
"""The library's queue on a page: a heap of (ready time, arrival, message), as ``heapq`` keeps it.

:class:`~simulator.model.client.page.ClientPath` holds a page's queue in a Python list under
``heapq``, by ready time and then the order messages came into the queue (a number that only
grows). What is still queued at page-hide is flushed in the list's own order, which is not the
sorted order, so :class:`QueueHeap` keeps three parallel arrays laid out exactly as ``heapq``
lays out its list: the same pushes, pops and heapify give the same list. The compiled page loop
(:mod:`simulator.model.client.page_loop`) keeps one for every page in turn.
"""

from libc.stdint cimport int64_t

import numpy as np


cdef class QueueHeap:
    """``capacity`` entries at most; ``n`` are in use, ``row[:n]`` in the list's order."""

    def __init__(self, int64_t capacity):
        self.ready = np.empty(capacity)
        self.seq = np.empty(capacity, np.int64)
        self.row = np.empty(capacity, np.int64)
        self.n = 0

    cdef void append(self, double ready, int64_t seq, int64_t row):
        """Put an entry at the end of the list, as ``list.append`` (then :meth:`heapify`)."""
        self.ready[self.n] = ready
        self.seq[self.n] = seq
        self.row[self.n] = row
        self.n += 1

    cdef void heapify(self):
        """``heapq.heapify``."""
        cdef int64_t i
        for i in range(self.n // 2 - 1, -1, -1):
            self._sift_up(i)

    cdef void push(self, double ready, int64_t seq, int64_t row):
        """``heapq.heappush``."""
        self.append(ready, seq, row)
        self._sift_down(0, self.n - 1)

    cdef int64_t pop(self):
        """``heapq.heappop``: the row of the entry first by ready time, then arrival."""
        cdef int64_t row
        self.n -= 1
        if self.n == 0:
            return self.row[0]
        row = self.row[0]
        self._move(0, self.n)
        self._sift_up(0)
        return row

    cdef bint _less(self, int64_t a, int64_t b):
        return self.ready[a] < self.ready[b] or (
            self.ready[a] == self.ready[b] and self.seq[a] < self.seq[b])

    cdef void _move(self, int64_t to, int64_t src):
        self.ready[to] = self.ready[src]
        self.seq[to] = self.seq[src]
        self.row[to] = self.row[src]

    cdef void _sift_down(self, int64_t start, int64_t pos):
        """``heapq._siftdown``: move the entry at ``pos`` up towards ``start``."""
        cdef double ready = self.ready[pos]
        cdef int64_t seq = self.seq[pos], row = self.row[pos], parent
        while pos > start:
            parent = (pos - 1) >> 1
            if ready < self.ready[parent] or (
                    ready == self.ready[parent] and seq < self.seq[parent]):
                self._move(pos, parent)
                pos = parent
                continue
            break
        self.ready[pos] = ready
        self.seq[pos] = seq
        self.row[pos] = row

    cdef void _sift_up(self, int64_t pos):
        """``heapq._siftup``: move the smaller child up to a leaf, then sift down."""
        cdef int64_t end = self.n, start = pos, child = 2 * pos + 1, right
        cdef double ready = self.ready[pos]
        cdef int64_t seq = self.seq[pos], row = self.row[pos]
        while child < end:
            right = child + 1
            if right < end and not self._less(child, right):
                child = right
            self._move(pos, child)
            pos = child
            child = 2 * pos + 1
        self.ready[pos] = ready
        self.seq[pos] = seq
        self.row[pos] = row
        self._sift_down(start, pos)
