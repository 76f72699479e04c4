"""Settled outcomes counted into a tally buffer many at a time (the engine's collector).

The same bookkeeping as :class:`~simulator.model.collector.Collector`, on arrays: a delivered event
adds to ``delivered`` (and ``delivered_context`` when its copy carried browser context), to the
value sums, and to ``duplicates`` for the extra copies the collector kept; a lost one adds one
to its cause. ``data`` is one of a :class:`~simulator.model.tally_buffer.TallyBuffer`'s flat
arrays and ``base`` the flat offsets of the events' plan, event type and cell (measure 0).

It also joins the two copies of a ``dual`` event (one message id, sent from the browser and
from the server): it is delivered when either copy arrives, carries context when the browser
copy did, and is a duplicate when both arrive further apart than the dedupe window.
"""

from __future__ import annotations

import numpy as np

from simulator.model.collector import (
    CONTEXT,
    DELIVERED,
    DUPLICATES,
    LOST,
    VALUE_DELIVERED,
    VALUE_DUPLICATES,
    VALUE_SQ_DELIVERED,
)
from simulator.model.compiled import built
from simulator.model.tally_buffer import GROUP_SHIFT, KEPT, POSITION, Counters

counting_loop = built(
    "simulator.model.counting_loop",
    ("counting_loop.pyx",),
    "the counting loop",
    "counting on arrays instead (the same sums)",
)

PENDING_CODE = LOST["pending"]
NO_COLUMNS = np.zeros((0, 0))
NO_ROWS = np.zeros(0, np.int64)


def count(data: np.ndarray, index: np.ndarray, amount: np.ndarray | float = 1.0) -> None:
    """Add ``amount`` at every flat ``index`` (repeated indices add up).

    Offsets may carry the visitor's group above :data:`~simulator.model.tally_buffer.GROUP_SHIFT`;
    :class:`~simulator.model.tally_buffer.Counters` also note them by group.
    """
    if index.size:
        np.add.at(data, index & POSITION, amount)
        if isinstance(data, Counters):
            data.note(index, amount)


def count_measures(
    data: np.ndarray,
    base: np.ndarray,
    selections: list[tuple[np.ndarray | None, list[tuple[int, np.ndarray | float]]]],
) -> None:
    """Add several measures for one set of events, as :func:`count` once per measure would.

    Parameters
    ----------
    data, base : numpy.ndarray
        As for :func:`delivered`.
    selections : list of tuple
        ``(which, measures)``: for the events ``which`` selects (a mask, or None for all), add
        each ``(measure, amount)`` of ``measures``, in order. Each selection is taken once, and
        where each event is noted by group is found once for them all.

    Notes
    -----
    Into :class:`~simulator.model.tally_buffer.Counters`, the compiled counting loop
    (:mod:`simulator.model.counting_loop`) does it in one pass over the events, where it was
    built; on arrays, it takes a pass per step. Both add the same amounts to each counter in
    the same order, so the sums are the same to the last bit.
    """
    if not base.size:
        return
    if counting_loop is not None and isinstance(data, Counters):
        _count_compiled(data, base, selections)
        return
    position = base & POSITION
    noted = isinstance(data, Counters)
    keys = data.keys(base, position) if noted else None
    flat = np.asarray(data)  # each measure's counts are a view from its place: no offset per count
    for which, measures in selections:
        at, picked = position, keys
        if which is not None:
            idx = np.flatnonzero(which)
            if not idx.size:
                continue
            at = position[idx]
            if noted:
                picked = (keys[0][idx], keys[1][idx])
        for measure, amount in measures:
            np.add.at(flat[measure:], at, amount)
            if noted:
                data.note_keys(*picked, measure, amount)


def _count_compiled(
    data: Counters,
    base: np.ndarray,
    selections: list[tuple[np.ndarray | None, list[tuple[int, np.ndarray | float]]]],
) -> None:
    """:func:`count_measures` into counters, in the compiled loop: a call per selection."""
    base = np.ascontiguousarray(base, dtype=np.int64)
    for which, measures in selections:
        rows = None if which is None else np.flatnonzero(which)
        if rows is not None and not rows.size:
            continue
        codes, scalars, column, amounts = [], [], [], []
        for measure, amount in measures:  # an amount for every event, or one for them all
            codes.append(measure)
            each = isinstance(amount, np.ndarray) and amount.ndim > 0
            column.append(len(amounts) if each else -1)
            scalars.append(0.0 if each else amount)
            if each:
                amounts.append(amount)
        codes = np.array(codes, dtype=np.int64)
        counting_loop.add_measures(
            data, data.grouped, data.first, data.second, data.group_step, data.n_measures,
            GROUP_SHIFT, base, NO_ROWS if rows is None else rows, rows is None, codes,
            KEPT[codes], np.array(scalars, dtype=float), np.array(column, dtype=np.int64),
            np.array(amounts, dtype=float) if amounts else NO_COLUMNS,
        )  # fmt: skip


def delivered(
    data: np.ndarray,
    base: np.ndarray,
    value: np.ndarray,
    context: np.ndarray | bool,
    dups: np.ndarray | None = None,
) -> None:
    """Count delivered events.

    Parameters
    ----------
    data : numpy.ndarray
        The tally buffer's view.
    base : numpy.ndarray
        Flat offsets (measure 0) of each event.
    value : numpy.ndarray
        Each event's value.
    context : numpy.ndarray or bool
        Whether the delivered copy carried browser context.
    dups : numpy.ndarray, optional
        Extra copies the collector kept, per event.
    """
    if not base.size:
        return
    every = [(DELIVERED, 1.0)]
    selections = [(None, every)]
    if np.ndim(context):
        selections.append((context, [(CONTEXT, 1.0)]))
    elif context:
        every.append((CONTEXT, 1.0))
    priced = value != 0
    if priced.any():
        v = value[priced]
        selections.append((priced, [(VALUE_DELIVERED, v), (VALUE_SQ_DELIVERED, v**2)]))
    if dups is not None:
        some = dups > 0
        if some.any():
            extra = dups[some]
            selections.append(
                (some, [(DUPLICATES, extra.astype(float)), (VALUE_DUPLICATES, extra * value[some])])
            )
    count_measures(data, base, selections)


def lost(data: np.ndarray, base: np.ndarray, cause: np.ndarray | int) -> None:
    """Count lost events; ``cause`` is the measure index of each loss cause (``LOST``).

    As :func:`count` of ``base + cause``, but only the causes kept by group are noted by
    group (of the causes, only ``withheld``): the others need no group key.
    """
    if not base.size:
        return
    index = base + cause
    np.add.at(data, index & POSITION, 1.0)
    if isinstance(data, Counters):
        kept = KEPT[cause] >= 0
        if np.ndim(kept):
            if kept.any():
                data.note(index[kept], 1.0)
        elif kept:
            data.note(index, 1.0)


def join_dual(
    data: np.ndarray,
    base: np.ndarray,
    value: np.ndarray,
    client_first: np.ndarray,
    client_n: np.ndarray,
    client_late: np.ndarray,
    client_cause: np.ndarray,
    server_when: np.ndarray,
    server_cause: np.ndarray | int,
    dedupe: bool,
    window: float,
) -> None:
    """Count dual events once both copies are settled.

    Parameters
    ----------
    data, base, value
        As for :func:`delivered`.
    client_first, client_n, client_late : numpy.ndarray
        The browser copy: first arrival time (``inf`` if none), arrivals, and arrivals more
        than ``window`` after the first.
    client_cause : numpy.ndarray
        Why the browser copy never arrived (measure index), when it did not.
    server_when : numpy.ndarray
        Arrival of the server copy (``nan`` if lost).
    server_cause : numpy.ndarray or int
        Why the server copy was lost (measure index), when it was.
    dedupe : bool
        Whether the collector dedupes by message id.
    window : float
        The dedupe window in seconds.

    Notes
    -----
    With several browser copies and a server copy that arrived first, the browser copies
    kept as duplicates are counted against the first browser copy (the store resends them
    within a visit or two, far inside any dedupe window).
    """
    server_cause = np.broadcast_to(server_cause, base.shape)
    client = client_n > 0
    server = ~np.isnan(server_when)
    any_copy = client | server
    if dedupe:
        gap = np.where(client & server, np.abs(server_when - client_first), 0.0)
        dups = np.where(client, client_late, 0) + (client & server & (gap > window))
    else:
        dups = np.maximum(client_n + server - 1, 0)
    if any_copy.all():  # the usual case: nothing to select, nothing lost
        delivered(data, base, value, client, dups)
        return
    delivered(data, base[any_copy], value[any_copy], client[any_copy], dups[any_copy])
    none = ~any_copy
    pending = (server_cause == PENDING_CODE) | (client_cause == PENDING_CODE)
    lost(data, base[none], np.where(pending, PENDING_CODE, server_cause)[none])
