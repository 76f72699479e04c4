# The library's queue as a heap (see queue_heap.pyx).

from libc.stdint cimport int64_t

cdef class QueueHeap:
    cdef double[:] ready
    cdef int64_t[:] seq, row
    cdef public int64_t n

    cdef void append(self, double ready, int64_t seq, int64_t row)
    cdef void heapify(self)
    cdef void push(self, double ready, int64_t seq, int64_t row)
    cdef int64_t pop(self)
    cdef bint _less(self, int64_t a, int64_t b)
    cdef void _move(self, int64_t to, int64_t src)
    cdef void _sift_down(self, int64_t start, int64_t pos)
    cdef void _sift_up(self, int64_t pos)
