# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""An idle flush worker's run of usual ticks, compiled: one upload a tick, each delivered.

While a server instance's worker is idle, a tick is *usual* when its arrivals fit one batch, no
deploy comes before it and its upload succeeds (its failure draw is above the failure
probability and no collector outage is on). Such a tick delivers all its arrivals at the tick.
:meth:`~simulator.model.flush_worker.FlushWorker._idle_ticks` finds the run of them on arrays,
a block of ticks at a time; :func:`deliver` walks them one by one, stopping at the first tick
that is not usual, and writes the same outcomes and takes the same draws
(``tests/model/test_server_queues.py`` checks both against the item-by-item reference).
"""

from libc.stdint cimport int64_t

from simulator.model.sorted_times cimport at_most, outage_on


def deliver(
    const int64_t[::1] gs,
    const int64_t[::1] ge,
    const int64_t[::1] gk,
    const int64_t[::1] k,
    signed char[::1] code,
    double[::1] when,
    const double[::1] draws,
    int64_t dp,
    int64_t pos,
    int64_t k_until,
    int64_t one_batch,
    double step,
    double restart,
    double p_fail,
    const double[::1] outage_starts,
    const double[::1] outage_ends,
    signed char delivered,
):
    """Deliver the ticks from the one of arrival ``pos`` to ``k_until``, up to the first that is
    not usual, or until the draws run out.

    Parameters
    ----------
    gs, ge, gk : memoryview of int64
        Each tick's first and past-the-end arrival, and its number (``Lane.gs``, ``ge``, ``gk``).
    k : memoryview of int64
        Each arrival's tick.
    code, when : memoryview
        Each arrival's outcome code and time, written for the arrivals delivered.
    draws : memoryview of float64
        The lane's failure draws; the next is ``draws[dp]``, and each tick takes one.
    dp, pos : int
        The next draw, and the first arrival not admitted yet.
    k_until : int
        The last tick to walk.
    one_batch : int
        The most arrivals one upload takes.
    step : float
        Seconds between ticks.
    restart : float
        When the instance restarts next (``inf``: never); a tick at or after it is not usual.
    p_fail : float
        The upload's failure probability.
    outage_starts, outage_ends : memoryview of float64
        The collector's outages, sorted and apart.
    delivered : int
        The code of a delivered arrival.

    Returns
    -------
    tuple of int
        The ticks delivered (and draws taken), the first arrival left, the last tick delivered
        (-1 for none), and whether the draws ran out before a tick that is not usual (1) or not.
    """
    cdef int64_t ok = 0, last = -1, i, stop
    cdef double now
    cdef Py_ssize_t g = at_most(gs, pos) - 1, g_end = at_most(gk, k_until)
    cdef Py_ssize_t g_draws = g + (draws.shape[0] - dp)  # the draws at hand last to this tick
    if g < 0:
        raise IndexError(f"arrival {pos} comes before the first tick's")
    while g < g_end:
        if g == g_draws:
            return ok, pos, last, 1
        stop = ge[g]
        now = gk[g] * step
        if stop - pos > one_batch or now >= restart:
            break
        if draws[dp + ok] < p_fail:
            break
        if outage_on(outage_starts, outage_ends, now):
            break
        for i in range(pos, stop):
            code[i] = delivered
            when[i] = k[i] * step
        pos, last = stop, gk[g]
        ok += 1
        g += 1
    return ok, pos, last, 0
