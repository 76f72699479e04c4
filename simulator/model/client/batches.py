"""How a batching library cuts a page's queue into requests, for a block of pages at once.

A batching library (Segment's batching mode, ``docs/sources.md`` §3a) queues events and sends
the queue in one request when it holds ``batch_size`` events, or when ``flush_interval_seconds``
have passed since the first event of the queue, whichever comes first; while the page lives.
The queue is filled in the order the events become ready to send (the retry store's events at
the tag's load, in the store's order, then the page's events as they are made). With no retry
coming back into the queue, where one request ends decides where the next begins, so the
requests follow from the ready times alone: :func:`queue_order` puts every page's messages in
the queue's order, and :func:`cut` finds the requests for many pages at once by following each
page's chain of first messages, one request of every page per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class Batches:
    """The requests :func:`cut` found (one entry per batch, in the messages' order)."""

    batch: np.ndarray  # batch of each message
    first: np.ndarray  # index of its first message
    last: np.ndarray  # index of its last message
    at: np.ndarray  # page offset at which it is sent (its timer, if it is not full)
    sent: np.ndarray  # sent before the page ends (else still queued at page-hide)


def queue_order(page: np.ndarray, carried: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """The order in which each page's messages enter the library's queue.

    The queue is filled by ready time, and at a tie the messages the store carried in (in the
    store's order) go before the page's own (by the time they were made). A carried message is
    ready when the tag loads, and one of the page's own at its offset into the page or at the
    load, whichever is later, so the ready time never decides against the offset: the order is
    by page, then the carried messages in the store's order, then the page's own by offset.
    Ties beyond that keep their input order.

    Parameters
    ----------
    page : numpy.ndarray
        Page of each message.
    carried : numpy.ndarray
        bool: the store carried the message in.
    rank : numpy.ndarray
        A carried message's place in the store (0, 1, ...); another's offset into its page.

    Returns
    -------
    numpy.ndarray
        Indices that put the messages in that order.

    Examples
    --------
    >>> queue_order(np.array([0, 0, 0, 1]), np.array([False, True, True, False]),
    ...             np.array([0.2, 1.0, 0.0, 0.0])).tolist()
    [2, 1, 0, 3]
    """
    if not page.size:
        return np.zeros(0, np.int64)
    if carried.any():  # a place in the store is put below any offset
        rank = np.where(carried, rank - (rank.max() + 1.0), rank)
    # (page, rank) pairs compare lexicographically as complex numbers.
    return np.argsort(page + 1j * rank, kind="stable")


def cut(
    page: np.ndarray, ready: np.ndarray, dwell: np.ndarray, size: int, interval: float
) -> Batches:
    """Cut each page's queue into batches, as the library does while the page lives.

    Messages must be sorted by page, then in the order they enter the queue (ready time
    first), and every one must be ready before its page ends. A batch starts with the first
    message not yet in a batch and takes the messages ready less than ``interval`` after it,
    up to ``size`` of them. A full batch leaves when its last message is ready; another when
    its timer runs out, if the page still lives then (a timer due exactly when the next
    message is ready fires first).

    Parameters
    ----------
    page : numpy.ndarray
        Page of each message (sorted).
    ready : numpy.ndarray
        Page offset (seconds) at which each message is ready to send (sorted within a page).
    dwell : numpy.ndarray
        Seconds each message's page lasts.
    size : int
        Events per full batch.
    interval : float
        Seconds from a batch's first event to its timer.

    Returns
    -------
    Batches

    Examples
    --------
    >>> b = cut(np.array([0, 0, 0, 0, 1]), np.array([0.0, 1.0, 1.5, 9.0, 0.0]),
    ...         np.array([10.0] * 4 + [3.0]), size=2, interval=5.0)
    >>> b.batch.tolist(), b.at.tolist(), b.sent.tolist()
    ([0, 0, 1, 2, 3], [1.0, 6.5, 14.0, 5.0], [True, True, False, False])
    """
    n = page.size
    if not n:
        empty = np.zeros(0, np.int64)
        return Batches(empty, empty, empty, np.zeros(0), np.zeros(0, bool))
    following = _next_batch(page, ready, size, interval)  # first message of the next batch
    starts = np.flatnonzero(np.concatenate([[True], page[1:] != page[:-1]]))
    ends = np.concatenate([starts[1:], [n]])
    first = np.zeros(n, bool)
    at, end = starts, ends
    while at.size:
        first[at] = True
        at = following[at]
        more = at < end
        at, end = at[more], end[more]
    head = np.flatnonzero(first)
    after = np.concatenate([head[1:], [n]])
    batch = np.repeat(np.arange(head.size), after - head)  # a running count of firsts, faster
    last = after - 1
    full = last - head + 1 == size
    at = np.where(full, ready[last], ready[head] + interval)
    return Batches(batch, head, last, at, full | (at < dwell[head]))


SCAN_UP_TO = 32
"""Batches of up to this many events find where the next one starts by a scan, beyond it by a
search (at 10 events a batch, the scan took a fifth of the search's time on 30,000 messages)."""
SEARCH_BELOW = 1000
"""Fewer messages than this are searched whatever the batch size: the scan's passes cost by the
call (0.030 ms for 100 messages at 10 events a batch, against 0.011 ms for the search)."""


def _next_batch(page: np.ndarray, ready: np.ndarray, size: int, interval: float) -> np.ndarray:
    """For each message, the first message of the batch that follows a batch starting there.

    That is the first message ``size`` on, or, before it, the first that is on a later page or
    ready ``interval`` or more after it, whichever comes first. Messages are sorted by page,
    then by ready time, so past a message each of the next ones either qualifies or not, and
    those that do not come first: counting them over the next ``size - 1`` finds the first that
    does. A larger batch, or a short queue, searches instead, with (page, ready) pairs compared
    lexicographically as complex numbers; both give the same indices.

    Examples
    --------
    >>> _next_batch(np.array([0, 0, 0, 0, 1]), np.array([0.0, 1.0, 1.5, 9.0, 0.0]), 2, 5.0)
    array([2, 3, 3, 4, 5])
    """
    n = page.size
    if size > SCAN_UP_TO or n < SEARCH_BELOW:
        key = page + 1j * ready
        timer = np.searchsorted(key, page + 1j * (ready + interval), side="left")
        return np.minimum(np.arange(n) + size, timer)
    due = ready + interval
    following = np.arange(1, n + 1)
    for d in range(1, min(size, n)):
        following[:-d] += (page[d:] == page[:-d]) & (ready[d:] < due[:-d])
    return following


__all__ = ["Batches", "cut", "queue_order"]
