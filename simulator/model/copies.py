"""The copies that travel: the rows of a server copy, and browser copies held in a store.

A server copy is one row of :data:`PAYLOAD`, opaque to the server queues, which hand it back
with its outcome; a browser copy still waiting in a visitor's retry store (or carried to the
visitor's next visit) is a row of :class:`Stored`, with its client state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.model.client.settler import MessageState
from simulator.model.compiled import built

dual_rows = built(
    "simulator.model.dual_rows", ("dual_rows.pyx",), "the dual rows", "writing them on arrays"
)

SERVER, DUAL, BOT = 0, 1, 2
"""Kinds of server copy: a server/hybrid copy, the server copy of a dual event, a bot event."""
_WIDE = [("off", np.int64), ("value", np.float64), ("c_first", np.float64), ("ref", np.int64)]
_IDS = [("key", np.int64), ("visitor", np.int64)]
_NARROW = [("c_n", np.int32), ("c_late", np.int32), ("c_cause", np.int32), ("kind", np.int8),
           ("context", np.bool_)]  # fmt: skip


def _rows(fields: list[tuple[str, type]]) -> np.dtype:
    """Rows of ``fields`` packed in this order, padded to a multiple of 8 bytes.

    Fields come widest first, so each starts at a multiple of its size; with the padding every
    field of every row is aligned, and numpy reads and writes it with its aligned loops (a
    quarter less time to fill a payload than with the fields unaligned).
    """
    packed = np.dtype(fields)
    return np.dtype({"names": packed.names, "formats": [packed[n] for n in packed.names],
                     "offsets": [packed.fields[n][1] for n in packed.names],
                     "itemsize": -(-packed.itemsize // 8) * 8})  # fmt: skip


PAYLOAD = _rows(_WIDE + _NARROW)
"""What a server copy carries: its tally offset and value, and for a dual copy the outcome of
the browser copy (or a :class:`~simulator.model.dual_waits.DualWaits` reference). The server
queues pool these rows once per replay and look them up once when they report an outcome
(:mod:`simulator.model.shared_lanes`), so they hold no more than the run needs."""
PAYLOAD_WITH_IDS = _rows(_WIDE + _IDS + _NARROW)
""":data:`PAYLOAD` with the event's key and visitor, for a run that exports its events (-1 for
none)."""
DUAL_FIELDS = ("off", "value", "c_first", "ref", "c_n", "c_late", "c_cause", "kind")
"""The fields of a dual copy the compiled rows write, in the order they take their places."""


Column = tuple[np.ndarray, np.ndarray | None] | float | int | bool
"""A column of :meth:`Stored.made`: ``(source, rows)`` (``rows`` None: all of ``source``, in
order), or one value for every new message."""


def payload(
    kind: int,
    off: np.ndarray,
    value: np.ndarray | float = 0.0,
    context: np.ndarray | bool = False,
    key: np.ndarray | int = -1,
    visitor: np.ndarray | int = -1,
    ids: bool = False,
) -> np.ndarray:
    """Server copies of one kind (the browser-outcome fields empty).

    Parameters
    ----------
    kind : int
        :data:`SERVER`, :data:`DUAL` or :data:`BOT`.
    off : numpy.ndarray
        Each copy's tally offset.
    value : numpy.ndarray or float
        Each copy's value.
    context : numpy.ndarray or bool
        Whether the copy carries the browser's context.
    key, visitor : numpy.ndarray or int
        The event's key and visitor, kept only with ``ids``.
    ids : bool
        Rows of :data:`PAYLOAD_WITH_IDS` (the run exports its events), else of :data:`PAYLOAD`.
        Every copy of a run must use the same.

    Returns
    -------
    numpy.ndarray
        One row per copy.
    """
    dtype = PAYLOAD_WITH_IDS if ids else PAYLOAD
    given = {"off": off, "value": value, "context": context}
    if ids:
        given.update(key=key, visitor=visitor)
    # One row holds every value shared by all the copies; it is copied into each row as an
    # opaque block, and only the columns that vary are then written field by field (a field
    # is written with a stride, at about the cost of the whole block copy).
    blank = np.zeros(1, dtype)
    blank["kind"], blank["c_first"], blank["ref"] = kind, np.inf, -1
    varying = {}
    for name, column in given.items():
        if np.ndim(column):
            varying[name] = column
        else:
            blank[name] = column
    opaque = np.dtype((np.void, dtype.itemsize))
    p = np.full(off.size, blank.view(opaque)[0], opaque).view(dtype)
    for name, column in varying.items():
        p[name] = column
    return p


def dual_payload(msgs: Stored, which: np.ndarray, outcome: np.ndarray, ids: bool) -> np.ndarray:
    """The server copies of the dual messages ``which`` of ``msgs``, with their browser copies.

    Each carries its message's offset and value, and its browser copy's state (first arrival,
    arrivals, late copies), outcome and waiting reference, which the collector joins when the
    server copy settles.

    Parameters
    ----------
    msgs : Stored
        The messages.
    which : numpy.ndarray
        The dual messages, as row numbers of ``msgs``.
    outcome : numpy.ndarray
        Every message's browser outcome (a status, or unsettled), by row of ``msgs``.
    ids : bool
        Rows of :data:`PAYLOAD_WITH_IDS`, with the event's key and visitor (see
        :func:`payload`).

    Returns
    -------
    numpy.ndarray
        One row per message of ``which``. Where it was built, the compiled
        :mod:`simulator.model.dual_rows` writes them a row at a time; on arrays each field is
        a pass. The bytes are the same.
    """
    st = msgs.state
    if dual_rows is not None and not ids:
        out = np.empty(which.size, PAYLOAD)
        at = np.array([PAYLOAD.fields[name][1] for name in DUAL_FIELDS], dtype=np.int64)
        dual_rows.fill(
            out.view(np.uint8).reshape(which.size, PAYLOAD.itemsize),
            np.ascontiguousarray(which, dtype=np.int64), msgs.off, msgs.value, st.first, st.n,
            st.late, outcome, msgs.ref, at, DUAL,
        )  # fmt: skip
        return out
    who = (msgs.key[which], msgs.visitor[which]) if ids else (-1, -1)
    load = payload(DUAL, msgs.off[which], msgs.value[which], False, *who, ids)
    load["c_first"], load["c_n"], load["c_late"] = st.first[which], st.n[which], st.late[which]
    load["c_cause"], load["ref"] = outcome[which], msgs.ref[which]
    return load


def take_rows(rows: np.ndarray, which: np.ndarray) -> np.ndarray:
    """The copies ``which`` selects (a mask or indices), with the same bytes.

    numpy moves the rows of a structured array field by field; moved as one opaque block each,
    :data:`PAYLOAD` rows go about 8 times as fast.

    Parameters
    ----------
    rows : numpy.ndarray
        Rows of :data:`PAYLOAD` or :data:`PAYLOAD_WITH_IDS`.
    which : numpy.ndarray
        A boolean mask or indices into ``rows``.

    Returns
    -------
    numpy.ndarray
        The selected rows (a copy), of the same dtype.

    Examples
    --------
    >>> rows = payload(SERVER, np.array([10, 11, 12]), np.array([1.0, 2.0, 3.0]))
    >>> take_rows(rows, np.array([True, False, True]))["value"].tolist()
    [1.0, 3.0]
    """
    opaque = rows.view(np.dtype((np.void, rows.dtype.itemsize)))
    return opaque[which].view(rows.dtype)


def take_into(rows: np.ndarray, which: np.ndarray, out: np.ndarray) -> None:
    """Copy ``rows[which]`` into ``out`` (``which`` in range, as every row number here is).

    :func:`numpy.take` into ``out`` checks each index by first copying into a buffer, which
    took two to four times as long as not checking (``mode="clip"``) on a million rows.
    """
    np.take(rows, which, out=out, mode="clip")


@dataclass(slots=True)
class Stored:
    """Browser copies (what they are, and their client state), e.g. in visitors' stores."""

    visitor: np.ndarray
    e: np.ndarray
    off: np.ndarray
    value: np.ndarray
    shared: np.ndarray
    own: np.ndarray
    dual: np.ndarray
    ref: np.ndarray
    key: np.ndarray
    state: MessageState

    def take(self, rows: np.ndarray) -> Stored:
        """The messages at ``rows``."""
        cols = [getattr(self, f)[rows] for f in self.__slots__[:-1]]
        return Stored(*cols, self.state.take(rows))

    @classmethod
    def made(cls, tail: Stored | None, **columns: Column) -> Stored:
        """Messages just made, followed by ``tail``'s (what a store carried in), if any.

        Each column but ``state`` is given, and ``seq``, the creation times (the rest of a new
        message's state is :data:`~simulator.model.client.settler.MessageState.UNSENT`): as
        ``(source, rows)``, the new messages' values being ``source[rows]``, or as one value for
        them all. The new messages are gathered straight into columns with room for the tail:
        made apart and then stacked, a window's 100k copies were written twice (2.5 ms).

        Examples
        --------
        >>> made = Stored.made(None, visitor=(np.array([7, 8, 9]), np.array([2, 0])), e=(
        ...     np.array([1, 2, 3]), np.array([2, 0])), off=0, value=0.0, shared=True, own=0,
        ...     dual=0, ref=-1, key=(np.array([5, 6, 7]), np.array([2, 0])),
        ...     seq=(np.array([0.5, 1.5, 2.5]), np.array([2, 0])))
        >>> both = Stored.made(made, visitor=(np.array([4]), np.array([0])), e=(np.array([1]),
        ...     np.array([0])), off=0, value=0.0, shared=True, own=0, dual=0, ref=-1,
        ...     key=(np.array([1]), np.array([0])), seq=(np.array([9.0]), np.array([0])))
        >>> both.visitor.tolist(), both.state.seq.tolist(), both.state.first.tolist()
        ([4, 9, 7], [9.0, 2.5, 0.5], [inf, inf, inf])
        """
        source, rows = columns["seq"]
        n = source.size if rows is None else rows.size
        past = None if tail is None else tail.state
        state = {f: _stacked(n, v, past, f) for f, v in MessageState.UNSENT.items()}
        state["seq"] = _stacked(n, columns["seq"], past, "seq")
        cols = [_stacked(n, columns[f], tail, f) for f in cls.__slots__[:-1]]
        return cls(*cols, MessageState(**state))

    @staticmethod
    def concat(parts: list[Stored]) -> Stored:
        """Stack several sets of messages."""
        cols = [np.concatenate([getattr(p, f) for p in parts]) for f in Stored.__slots__[:-1]]
        return Stored(*cols, MessageState.concat([p.state for p in parts]))

    @property
    def size(self) -> int:
        """Number of messages."""
        return self.visitor.size


def _stacked(n: int, head: Column, parts: object | None, name: str) -> np.ndarray:
    """``n`` values from ``head`` (see :data:`Column`), then column ``name`` of ``parts``."""
    tail = None if parts is None else getattr(parts, name)
    if isinstance(head, tuple):
        source, rows = head
        out = np.empty(n + (0 if tail is None else tail.size), source.dtype)
        if rows is None:  # every row, in order: a copy, not a gather
            out[:n] = source
        else:
            take_into(source, rows, out[:n])
    else:
        out = np.empty(n + (0 if tail is None else tail.size), np.asarray(head).dtype)
        out[:n] = head
    if tail is not None:
        out[n:] = tail
    return out


__all__ = [
    "BOT",
    "DUAL",
    "PAYLOAD",
    "PAYLOAD_WITH_IDS",
    "SERVER",
    "Stored",
    "dual_payload",
    "payload",
    "take_into",
    "take_rows",
]
