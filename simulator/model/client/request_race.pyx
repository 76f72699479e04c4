# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""One round of one-request-per-event sends racing their pages' teardown, compiled.

:meth:`~simulator.model.client.arrays.OneRequestClient._race` sends every message due on its
page, one request each, and retries the failures the page sees, round after round. A round on
arrays takes some thirty passes over the messages; :func:`race_round` takes one, with the
variates the caller drew for the round, and does to every message and to the messages' state
what the passes do, so a seed gives the same results to the last bit either way
(``tests/model/test_request_race.py``).
"""

import numpy as np

from libc.stdint cimport int64_t

from simulator.model.client.arrivals cimport note_arrival
from simulator.model.sorted_times cimport outage_on


def race_round(
    const int64_t[::1] rows,
    const int64_t[::1] page,
    const double[::1] ready,
    const double[::1] up,
    const double[::1] back,
    const double[::1] u,
    bint fresh,
    const double[::1] dwell,
    const double[::1] t0,
    const double[::1] open_at,
    const double[::1] teardown,
    const unsigned char[::1] cancels,
    const double[::1] outage_starts,
    const double[::1] outage_ends,
    double p_fail,
    int64_t max_attempts,
    bint store,
    double window,
    int64_t[::1] attempts,
    int64_t[::1] cause,
    int64_t[::1] arrivals,
    double[::1] first,
    int64_t[::1] late,
    int64_t network,
    int64_t no_cause,
):
    """Send each message of ``rows`` (on ``page``, at ``ready``) once; settle what it settles.

    Parameters
    ----------
    rows, page, ready : memoryview
        The messages sent in this round (distinct), their pages, and when each is ready, before
        its page ends.
    up, back, u : memoryview of float64
        Each request's upload latency, response latency and failure uniform.
    fresh : bool
        Every message is new: never sent, never arrived.
    dwell, t0, open_at, teardown, cancels : memoryview
        Per page: how long it lasts, when it starts, when its connection can first write,
        when it is torn down (from its start), and whether the teardown cancels what is not
        written (1) or not (0).
    outage_starts, outage_ends : memoryview of float64
        The collector's outages, sorted and apart.
    p_fail : float
        A request's failure probability.
    max_attempts : int
        Sends a message may take.
    store : bool
        Whether the library keeps failed messages to retry (else a visible failure is final).
    window : float
        The collector's dedupe window in seconds.
    attempts, cause, arrivals, first, late : memoryview
        The messages' state (:class:`~simulator.model.client.settler.MessageState`), updated.
    network, no_cause : int
        The codes of a network failure and of no failure.

    Returns
    -------
    tuple of numpy.ndarray
        The messages whose retries are exhausted, those dropped after a visible failure
        (without a store), and those acknowledged, each in ``rows`` order; the messages still
        in flight at the page's end and their pages; those to retry, their pages and when their
        failed request arrived.
    """
    cdef Py_ssize_t n = rows.shape[0], i
    cdef Py_ssize_t n_exh = 0, n_drop = 0, n_ack = 0, n_fly = 0, n_retry = 0
    cdef int64_t r, p
    cdef double written, arrive
    cdef bint failed, early, visible, exhausted, ok
    exhausted_rows = np.empty(n, np.int64)
    dropped_rows = np.empty(n, np.int64)
    acked_rows = np.empty(n, np.int64)
    flying_rows = np.empty(n, np.int64)
    flying_pages = np.empty(n, np.int64)
    retry_rows = np.empty(n, np.int64)
    retry_pages = np.empty(n, np.int64)
    retry_arrive = np.empty(n, np.float64)
    cdef int64_t[::1] e_r = exhausted_rows, d_r = dropped_rows, a_r = acked_rows
    cdef int64_t[::1] f_r = flying_rows, f_p = flying_pages, x_r = retry_rows, x_p = retry_pages
    cdef double[::1] x_t = retry_arrive
    for i in range(n):
        r, p = rows[i], page[i]
        if fresh:
            attempts[r] = 1
        else:
            attempts[r] += 1
            cause[r] = no_cause
        written = ready[i] if ready[i] >= open_at[p] else open_at[p]
        arrive = written + up[i]
        failed = u[i] < p_fail
        if not failed:
            failed = outage_on(outage_starts, outage_ends, t0[p] + ready[i])
        early = arrive < dwell[p]
        if failed:
            cause[r] = network
        visible = failed and early
        exhausted = visible and (max_attempts <= 1 if fresh else attempts[r] >= max_attempts)
        if exhausted:
            e_r[n_exh] = r
            n_exh += 1
        elif visible:
            if store:
                x_r[n_retry], x_p[n_retry], x_t[n_retry] = r, p, arrive
                n_retry += 1
            else:
                d_r[n_drop] = r
                n_drop += 1
        ok = not failed
        if ok and (written < teardown[p] or not cancels[p]):  # it reaches the collector
            if fresh:  # never arrived: its state is not read
                arrivals[r], first[r] = 1, t0[p] + arrive
            else:
                note_arrival(&arrivals[r], &first[r], &late[r], t0[p] + arrive, window)
        if ok and arrive + back[i] < teardown[p]:
            a_r[n_ack] = r
            n_ack += 1
        elif (failed and not early) or ok:
            f_r[n_fly], f_p[n_fly] = r, p
            n_fly += 1
    return (
        exhausted_rows[:n_exh],
        dropped_rows[:n_drop],
        acked_rows[:n_ack],
        flying_rows[:n_fly],
        flying_pages[:n_fly],
        retry_rows[:n_retry],
        retry_pages[:n_retry],
        retry_arrive[:n_retry],
    )
