# cython: language_level=3
"""A message's arrivals at the collector, noted in compiled loops: the first, and the late ones.

The rule of :meth:`simulator.model.client.arrays.OneRequestClient._arrive`, for one message at a
time: the earliest arrival is the first, and a copy counts as late when it comes more than the
dedupe window after the first. Shared by the page loop and the request race (``cimport`` it).
"""

from libc.stdint cimport int64_t


cdef inline void note_arrival(
    int64_t* arrivals, double* first, int64_t* late, double t, double window
) noexcept nogil:
    """One more arrival, at ``t``, of the message whose state the pointers hold."""
    cdef int64_t seen = arrivals[0]
    cdef double f = first[0]
    arrivals[0] = seen + 1
    if seen == 0:
        first[0] = t
    elif t < f:
        if f - t > window:
            late[0] = seen
        first[0] = t
    elif t - f > window:
        late[0] += 1
