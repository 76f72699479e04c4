"""How a browser's request behaves, per transport, and the keepalive quota's safe bound.

A request is sent with one of four transports, and the visitor's browser decides how it
behaves (``docs/sources.md`` §2b, §2c):

* ``PLAIN`` (``xhr``, ``fetch``, and ``fetch_keepalive`` in a browser that does not honour
  keepalive): cancelled when the page is torn down, unless it arrives first
  (:func:`written_before_teardown`);
* ``KEEPALIVE`` (``fetch_keepalive``): survives the unload, within the page's 64 KiB in-flight
  quota, and is retried after a visible failure;
* ``BEACON`` (``sendBeacon``): survives the unload within the same quota, is fire and forget
  (never retried), and is stopped outright by a blocker's ``$ping`` rules.

The quota is shared by every keepalive or beacon request of a page: a request is rejected at
once when the bytes still in flight plus its own exceed it. A message has at most one request in
flight at a time (it is retried only after its failure is seen), and the page-hide flush sends
only messages that are not in flight, so the bytes in flight on a page never exceed the bytes of
the messages present on it. A page whose messages weigh no more than the quota therefore never
sees a rejection (:func:`quota_bound`).
"""

from __future__ import annotations

import numpy as np

from simulator.model.client.settler import Pages, distinct_pages, position_order

PLAIN, KEEPALIVE, BEACON = 0, 1, 2


def request_kind(transport: str, keepalive: np.ndarray) -> np.ndarray:
    """How a request sent with ``transport`` behaves on each page.

    Parameters
    ----------
    transport : str
        ``"xhr"``, ``"fetch"``, ``"fetch_keepalive"`` or ``"beacon"``.
    keepalive : numpy.ndarray
        bool per page: the browser honours fetch keepalive.

    Returns
    -------
    numpy.ndarray
        ``PLAIN``, ``KEEPALIVE`` or ``BEACON`` per page (int8).

    Examples
    --------
    >>> request_kind("fetch_keepalive", np.array([True, False])).tolist()
    [1, 0]
    """
    if transport == "beacon":
        return np.full(keepalive.shape, BEACON, np.int8)
    if transport == "fetch_keepalive":
        return np.where(keepalive, KEEPALIVE, PLAIN).astype(np.int8)
    return np.full(keepalive.shape, PLAIN, np.int8)


def uses_quota(kind: np.ndarray, blocked_beacon: np.ndarray) -> np.ndarray:
    """Whether a request of ``kind`` counts against the page's in-flight quota.

    A beacon that the visitor's blocker stops never leaves the page, so it takes no quota.
    """
    return (kind == KEEPALIVE) | ((kind == BEACON) & ~blocked_beacon)


def written_before_teardown(
    pages: Pages, page: np.ndarray, written: np.ndarray, teardown: np.ndarray
) -> np.ndarray:
    """Whether a plain (``xhr``/``fetch``) request that did not fail reaches the collector.

    The browser's arrival rule for plain requests (:mod:`simulator.model.client.connection`):
    a request arrives if its bytes were written before the page was torn down, or if the page
    is not torn down at all (it only goes to the background).

    Parameters
    ----------
    pages : Pages
        The block's pages.
    page : numpy.ndarray
        Page of each request.
    written, teardown : numpy.ndarray
        Page offsets (seconds) at which each request's bytes leave and its page is torn down.

    Returns
    -------
    numpy.ndarray
        bool per request.
    """
    return (written < teardown) | ~pages.cancels[page]


def quota_bound(
    pages: Pages,
    page: np.ndarray,
    nbytes: np.ndarray,
    carries: bool,
    leaves: np.ndarray | None = None,
    quota: float = np.inf,
) -> np.ndarray:
    """Most bytes that can be in flight on each page, from what is known before it starts.

    Parameters
    ----------
    pages : Pages
        The block's pages (a visit's pages are consecutive, in order).
    page : numpy.ndarray
        Page of each message that will be sent on its page or was carried into it.
    nbytes : numpy.ndarray
        Each message's payload in bytes.
    carries : bool
        Whether the retry store carries messages from page to page (``local_storage``): then
        a page may also resend the messages the visit's earlier pages left open.
    leaves : numpy.ndarray, optional
        bool per message: whether it can still be open when its page ends even if the page
        keeps within ``quota`` (default: all). A beacon is settled when it is sent unless the
        quota rejects it, so one sent during a page that keeps within the quota cannot; on a
        page whose bound passes the quota, every message may be left open.
    quota : float
        The in-flight quota in bytes (needed with ``leaves``).

    Returns
    -------
    numpy.ndarray
        Bytes per page (float).

    Examples
    --------
    >>> pos = np.array([0, 1, 0])
    >>> pg = Pages(*(np.zeros(3),) * 6, position=pos, last=pos == 1,
    ...            blocked=None, blocked_ads=None, blocked_beacon=None, keepalive=None)
    >>> quota_bound(pg, np.array([0, 1, 1, 2]), np.array([5.0, 1.0, 2.0, 7.0]), True).tolist()
    [5.0, 8.0, 7.0]
    >>> leaves = np.array([False, True, True, True])
    >>> args = pg, np.array([0, 1, 1, 2]), np.array([5.0, 1.0, 2.0, 7.0]), True, leaves
    >>> quota_bound(*args, quota=6.0).tolist(), quota_bound(*args, quota=4.0).tolist()
    ([5.0, 3.0, 7.0], [5.0, 8.0, 7.0])
    """
    n = pages.position.size
    own = np.bincount(page, weights=nbytes, minlength=n).astype(float)  # (int when empty)
    if not carries or not n:
        return own
    if leaves is None:  # every message of the visit's earlier pages may come along
        leaves = np.ones(page.size, bool)
    # Position by position: what a page may leave open depends on whether its own bound
    # passes the quota, which depends on what the pages before it may leave.
    may_leave = np.bincount(page[leaves], weights=nbytes[leaves], minlength=n).astype(float)
    by_position = position_order(pages.position)
    edges = np.searchsorted(pages.position[by_position], np.arange(pages.position.max() + 2))
    bound, left = own.copy(), np.zeros(n)
    for k in range(edges.size - 1):
        here = by_position[edges[k] : edges[k + 1]]
        if k:
            bound[here] += bound[here - 1] - own[here - 1] + left[here - 1]
        left[here] = np.where(bound[here] > quota, own[here], may_leave[here])
    return bound


def overloaded_pages(
    page: np.ndarray, start: np.ndarray, end: np.ndarray, nbytes: np.ndarray, quota: float
) -> np.ndarray:
    """Pages where the bytes in flight exceed ``quota`` when some request is sent.

    A request holds its bytes from its send (``start``) until its upload ends (``end``); at a
    send, the bytes held by every request of the page sent no later and not yet ended count,
    its own included. Ties count against the quota, so no overrun is missed.

    Parameters
    ----------
    page, start, end, nbytes : numpy.ndarray
        One entry per request: its page, page offsets of its send and arrival, and its bytes.
    quota : float
        The in-flight quota in bytes.

    Returns
    -------
    numpy.ndarray
        The pages (sorted, unique).

    Examples
    --------
    >>> overloaded_pages(np.array([0, 0, 1, 1]), np.array([0.0, 1.0, 0.0, 2.0]),
    ...                  np.array([2.0, 3.0, 2.0, 3.0]), np.full(4, 40.0), 64.0).tolist()
    [0]
    """
    # Bytes in flight on a page never exceed all its requests' bytes: only pages whose
    # requests weigh more than the quota together can overrun it (few, usually).
    heavy = (np.bincount(page, weights=nbytes) > quota)[page]
    if not heavy.all():
        page, start, end, nbytes = page[heavy], start[heavy], end[heavy], nbytes[heavy]
    n = page.size
    at = np.concatenate([end, start])
    opens = np.arange(2 * n) >= n
    pages = np.concatenate([page, page])
    # By page, then time (complex numbers sort by real part, then imaginary part); the sort is
    # stable, so at equal times arrivals, first in the input, free their bytes first.
    order = np.argsort(pages + 1j * at, kind="stable")
    held = np.cumsum(np.concatenate([-nbytes, nbytes])[order])
    return distinct_pages(pages[order][(held > quota) & opens[order]])
