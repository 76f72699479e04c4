"""The one interface of the browser's client path, and the arrays the settlers share.

A *settler* takes a block of pages and the browser copies of the events made on them (plus the
copies carried in from visitors' retry stores), and settles each copy: delivered (possibly more
than once) or lost with one cause, or left in the store at the end of its visit. Five settlers
implement it and agree in distribution (``tests/model/test_client_paths.py``,
``tests/model/test_keepalive_arrays.py``, ``tests/model/test_batch_arrays.py``), the compiled
one with the page-by-page path draw for draw (``tests/model/test_page_loop.py``);
:func:`~simulator.model.client.choice.settler_kind` picks one:

* :class:`~simulator.model.client.arrays.OneRequestClient`, on arrays, for libraries that send
  one ``xhr``/``fetch`` request per event;
* :class:`~simulator.model.client.keepalive_arrays.KeepaliveClient`, on arrays, for libraries
  that send one request per event with ``fetch_keepalive`` or ``beacon`` (at page-hide or
  always), whose requests share a page's in-flight quota;
* :class:`~simulator.model.client.batch_arrays.BatchClient`, on arrays, for batching libraries
  (any transport), whose events share a request's fate;
* :class:`~simulator.model.client.looped.LoopedClient`, page by page in compiled code, for
  every library but one ``xhr``/``fetch`` request per event: it takes over from the two above
  where the package was built with it;
* :class:`~simulator.model.client.paged.PagedClient`, page by page through
  :class:`~simulator.model.client.page.ClientPath`: the reference for every library, and the
  exact path on which the array settlers settle again the pages they cannot race.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from simulator.config.scenario import Scenario

NO_CAUSE = -1
DELIVERED_STATUS = -2
"""Status of a settled message that arrived at least once (a cause code otherwise)."""


@dataclass(slots=True)
class Pages:
    """The pages of a block of visits, as parallel arrays (one entry per page)."""

    t0: np.ndarray  # absolute start time
    dwell: np.ndarray
    end: np.ndarray  # NAVIGATE, CLOSE or BACKGROUND
    cancels: np.ndarray  # the page is torn down (navigation or close), cancelling requests
    javascript: np.ndarray
    handler_p: np.ndarray  # probability that the page-hide handler runs
    position: np.ndarray  # 0 for a visit's first page
    last: np.ndarray  # the visit's last page
    blocked: np.ndarray  # the visitor's blocker stops the analytics tag
    blocked_ads: np.ndarray  # ... and ad-class requests
    blocked_beacon: np.ndarray  # ... and sendBeacon
    keepalive: np.ndarray  # the browser honours fetch keepalive
    # Connection setup and teardown delay, when already drawn (client.connection)
    setup: np.ndarray | None = None
    linger: np.ndarray | None = None


def distinct_pages(*parts: np.ndarray) -> np.ndarray:
    """The distinct pages of one or more arrays of pages, sorted (what ``np.union1d`` gives).

    By a sort and a look at neighbours: ``np.unique`` checks for a masked array, which imports
    ``numpy.ma`` (about 14 ms) on its first call.

    Examples
    --------
    >>> distinct_pages(np.array([4, 1, 4]), np.array([1, 0])).tolist()
    [0, 1, 4]
    """
    pages = np.sort(np.concatenate(parts) if len(parts) > 1 else parts[0])
    return pages[_firsts(pages)]


def page_groups(page: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pages, sorted, and which of them each entry is.

    What ``np.unique(page, return_inverse=True)`` gives, as :func:`distinct_pages` does without
    ``np.unique``. Pages already in order, as a queue keeps them, are grouped with no sort (at a
    page-hide flush of batches, ``np.unique`` took a fifth of the flush).

    Examples
    --------
    >>> [x.tolist() for x in page_groups(np.array([3, 3, 5, 9, 9]))]
    [[3, 5, 9], [0, 0, 1, 2, 2]]
    >>> [x.tolist() for x in page_groups(np.array([5, 3, 5]))]
    [[3, 5], [1, 0, 1]]
    """
    order = None if (page[1:] >= page[:-1]).all() else np.argsort(page, kind="stable")
    ordered = page if order is None else page[order]
    first = _firsts(ordered)
    which = np.cumsum(first) - 1
    if order is not None:
        which[order] = which.copy()
    return ordered[first], which


def settled_groups(
    rows: list[np.ndarray], causes: list[int | np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The rows settled group by group, and each one's status, as two arrays.

    A group's cause is one code for all its rows, or an array with one per row.

    Examples
    --------
    >>> [x.tolist() for x in settled_groups([np.array([4, 2]), np.array([7])], [3, np.array([5])])]
    [[4, 2, 7], [3, 3, 5]]
    """
    sizes = [r.size for r in rows]
    per_row = [isinstance(c, np.ndarray) for c in causes]
    status = np.repeat(np.array([0 if a else c for a, c in zip(per_row, causes, strict=True)],
                                np.int64), sizes)  # fmt: skip
    if any(per_row):
        ends = np.cumsum(sizes).tolist()
        for i in np.flatnonzero(per_row).tolist():
            status[ends[i] - sizes[i] : ends[i]] = causes[i]
    return np.concatenate([np.zeros(0, np.int64), *rows]), status


def _firsts(ordered: np.ndarray) -> np.ndarray:
    """Mask of the first of each run of equal values in ``ordered`` (sorted)."""
    return np.concatenate(([True], ordered[1:] != ordered[:-1]))[: ordered.size]


def position_order(position: np.ndarray) -> np.ndarray:
    """Indices that sort visit positions (pages' or their messages'), ties in input order.

    Positions are small, so they are sorted as 16-bit keys when they fit: numpy sorts those by
    radix, about three times as fast as 64-bit ones.

    Examples
    --------
    >>> position_order(np.array([2, 0, 1, 0])).tolist()
    [1, 3, 2, 0]
    """
    if position.size and int(position.max()) < 1 << 16:
        position = position.astype(np.uint16)
    return np.argsort(position, kind="stable")


class MessageState:
    """What the client path knows about each message of a block (grown as messages are added).

    ``attempts`` sends so far, ``first`` first arrival time (``inf`` if none), ``n`` arrivals,
    ``late`` arrivals more than the dedupe window after the first, ``cause`` last failure code
    (``NO_CAUSE``), ``seq`` creation time (the store drops the oldest first).
    """

    FIELDS = ("attempts", "first", "n", "late", "cause", "seq")
    UNSENT = {
        "attempts": np.int64(0),
        "first": np.float64(np.inf),
        "n": np.int64(0),
        "late": np.int64(0),
        "cause": np.int64(NO_CAUSE),
    }
    """A message's state until it is first sent (every field but its creation time), typed."""

    def __init__(self, **columns: np.ndarray) -> None:
        for f in self.FIELDS:
            setattr(self, f, columns[f])

    @classmethod
    def new(cls, seq: np.ndarray) -> MessageState:
        """State of messages never sent, created at times ``seq``."""
        return cls(**{f: np.full(seq.size, v) for f, v in cls.UNSENT.items()}, seq=seq)

    def take(self, rows: np.ndarray) -> MessageState:
        """The state of ``rows`` (a copy)."""
        return MessageState(**{f: getattr(self, f)[rows] for f in self.FIELDS})

    @staticmethod
    def concat(parts: list[MessageState]) -> MessageState:
        """Stack several states."""
        return MessageState(
            **{f: np.concatenate([getattr(p, f) for p in parts]) for f in MessageState.FIELDS}
        )

    def duplicates(self, dedupe: bool) -> np.ndarray:
        """Copies beyond the first the collector keeps, per message."""
        return self.late if dedupe else np.maximum(self.n - 1, 0)

    def reset(self, rows: np.ndarray) -> None:
        """Make ``rows`` as they were when made: never sent (their creation times stay)."""
        for f, value in self.UNSENT.items():
            getattr(self, f)[rows] = value


@dataclass(slots=True)
class StateBefore:
    """The state of a race's messages before it, to put back on the pages the race voids.

    Only the messages a store carried in have a past. A page's own messages come to a race as
    they were made (never sent, or put back so by a voided race), so their state before is a
    new message's, and only the carried ones are copied.

    Examples
    --------
    >>> s = MessageState.new(np.zeros(3))
    >>> s.attempts[2] = 1  # carried in after one attempt
    >>> before = StateBefore.of(s, np.array([0, 2]), np.array([False, True]))
    >>> s.attempts[[0, 2]] += 1  # the race sends both
    >>> before.restore(s, np.array([0, 2]), np.array([True, True]))
    >>> s.attempts.tolist()
    [0, 0, 1]
    """

    where: np.ndarray  # per raced message: its row in ``carried``, or -1 for a page's own
    carried: MessageState  # the carried messages' state

    @classmethod
    def of(cls, s: MessageState, rows: np.ndarray, carried: np.ndarray) -> StateBefore:
        """Before a race of ``rows``, of which ``carried`` (a mask) came from a store."""
        where = np.full(rows.size, -1, np.int64)
        idx = np.flatnonzero(carried)
        where[idx] = np.arange(idx.size)
        return cls(where, s.take(rows[idx]))

    def take(self, idx: np.ndarray) -> StateBefore:
        """The state before of the raced messages ``idx`` (indices or a mask)."""
        return StateBefore(self.where[idx], self.carried)

    def restore(self, s: MessageState, rows: np.ndarray, which: np.ndarray) -> None:
        """Put back into ``s`` the state before of ``rows[which]`` (``rows`` as raced)."""
        at, r = self.where[which], rows[which]
        old = at >= 0
        s.reset(r[~old])
        for f in MessageState.FIELDS:
            getattr(s, f)[r[old]] = getattr(self.carried, f)[at[old]]


class Settler(Protocol):
    """What the engine's per-window step needs from a client path."""

    @property
    def requests(self) -> int:
        """Requests sent so far (a run's statistic)."""

    def settle(
        self,
        pages: Pages,
        s: MessageState,
        page: np.ndarray,
        offset: np.ndarray,
        event: np.ndarray,
        carried: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Settle a block's messages.

        Parameters
        ----------
        pages : Pages
            The block's pages.
        s : MessageState
            State of every message (updated in place).
        page : numpy.ndarray
            Page of each message: where it was made, or, for a message carried in from the
            visitor's store, the first page of the visit.
        offset : numpy.ndarray
            Seconds into its page when it was made (ignored for carried messages).
        event : numpy.ndarray
            Event type of each message (its request class decides what blocks it).
        carried : numpy.ndarray
            Whether the message comes from the visitor's store.

        Returns
        -------
        tuple of numpy.ndarray
            ``(rows, status)`` of the settled messages (status ``DELIVERED_STATUS`` or a loss
            cause code), and ``(rows, page)`` of those left in the store at the end of their
            visit (``page`` is the visit's last page).
        """


def on_arrays(scenario: Scenario) -> bool:
    """Whether the scenario's client library sends one xhr/fetch request per event.

    Such a library's copies are settled by
    :class:`~simulator.model.client.arrays.OneRequestClient`.
    """
    c = scenario.client
    return c.batch_size == 1 and {c.transport, c.resolved_unload_transport} <= {"xhr", "fetch"}
