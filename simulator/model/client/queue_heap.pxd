# The library's queue as a heap (see queue_heap.pyx).

cdef class QueueHeap:
    cdef double[:] ready
    cdef long[:] seq, row
    cdef public long n

    cdef void append(self, double ready, long seq, long row)
    cdef void heapify(self)
    cdef void push(self, double ready, long seq, long row)
    cdef long pop(self)
    cdef bint _less(self, long a, long b)
    cdef void _move(self, long to, long src)
    cdef void _sift_down(self, long start, long pos)
    cdef void _sift_up(self, long pos)
