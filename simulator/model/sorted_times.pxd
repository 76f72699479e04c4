# cython: language_level=3
"""Searching sorted times in compiled loops: how many are at most a value, and collector outages.

Shared by the compiled loops that look times up (``cimport`` them from here).
"""

from libc.stdint cimport int64_t

ctypedef fused sortable:
    int64_t
    double


cdef inline Py_ssize_t at_most(const sortable[::1] a, sortable x) noexcept nogil:
    """How many of the sorted ``a`` are at most ``x`` (``np.searchsorted(a, x, "right")``)."""
    cdef Py_ssize_t lo = 0, hi = a.shape[0], mid
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline bint outage_on(
    const double[::1] starts, const double[::1] ends, double t
) noexcept nogil:
    """Whether the collector is down at ``t``: the last outage to start by ``t`` is still on.

    ``starts`` and ``ends`` are the outages, sorted and apart (``Outages.down``).
    """
    cdef Py_ssize_t i = at_most(starts, t)
    return i > 0 and t < ends[i - 1]
