# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Counting compiled: several measures of one set of events added in one pass over the events.

:func:`~simulator.model.outcome_counts.count_measures` on arrays makes a pass per step: the
events' positions, their cells, the two keys of their groups' totals, then three scattered adds
per measure (the flat counts and the two keys). Here each event is read once and all of it done
in a row. The amounts go to each counter in the order the passes on arrays add them (event by
event, and no counter takes two measures), so the sums are the same to the last bit
(``tests/model/test_counting_loop.py``).
"""

from libc.stdint cimport int64_t


cdef int outside(int64_t offset, str where) except -1:
    """Raise for an offset outside the counters (apart, to keep the loop tight)."""
    raise IndexError(f"offset {offset} is outside the {where}")


def add_measures(
    double[::1] flat,
    double[::1] grouped,
    const int64_t[::1] first,
    const int64_t[::1] second,
    int64_t group_step,
    int64_t n_measures,
    int shift,
    const int64_t[::1] base,
    const int64_t[::1] rows,
    bint every,
    const int64_t[::1] measures,
    const int64_t[::1] kept,
    const double[::1] scalars,
    const int64_t[::1] column,
    const double[:, ::1] columns,
):
    """Add each measure's amount for the events ``rows`` of ``base`` (every event if ``every``).

    Parameters
    ----------
    flat : memoryview of float64
        The counters (a :class:`~simulator.model.tally_buffer.Counters`).
    grouped, first, second, group_step, n_measures
        The counters' group totals and their keys (:meth:`Counters.keys`).
    shift : int
        Bit above which an offset carries its visitor's group (``GROUP_SHIFT``).
    base : memoryview of int64
        Flat offsets of measure 0 of the events, group bits included.
    rows : memoryview of int64
        The events counted, ascending (ignored with ``every``).
    every : bool
        Count every event of ``base``.
    measures, kept : memoryview of int64
        Each measure's index, and its place among the measures kept by group (-1: not kept).
    scalars, column, columns
        Measure ``j`` adds ``columns[column[j], i]`` to the ``i``-th event counted, or
        ``scalars[j]`` to every event where ``column[j]`` is -1.

    Raises
    ------
    IndexError, ValueError
        For an offset outside the counters, or amounts that do not match the events, before
        anything is added at that event (the arrays' own checks, done once an event).
    """
    cdef Py_ssize_t n = base.shape[0] if every else rows.shape[0]
    cdef Py_ssize_t n_add = measures.shape[0]
    cdef Py_ssize_t i, j
    cdef int64_t position_mask = (<int64_t>1 << shift) - 1
    cdef int64_t b, position, cell, key_first, key_second, k
    cdef int64_t top_measure = 0, top_kept = -1
    cdef double amount
    if columns.shape[0] and columns.shape[1] != n:
        raise ValueError(f"{columns.shape[1]} amounts for {n} events")
    if not (kept.shape[0] == scalars.shape[0] == column.shape[0] == n_add):
        raise ValueError(f"{n_add} measures with {kept.shape[0]} places kept, {scalars.shape[0]} "
                         f"amounts and {column.shape[0]} columns")
    if not every and n and (rows[0] < 0 or rows[n - 1] >= base.shape[0]):
        raise IndexError(f"rows {rows[0]} to {rows[n - 1]} of {base.shape[0]} events")
    for j in range(n_add):
        if measures[j] < 0 or column[j] >= columns.shape[0]:
            raise IndexError(f"measure {measures[j]} with amounts {column[j]}")
        top_measure = max(top_measure, measures[j])
        top_kept = max(top_kept, kept[j])
    for i in range(n):
        b = base[i] if every else base[rows[i]]
        position = b & position_mask
        cell = position // n_measures
        if position + top_measure >= flat.shape[0] or cell >= first.shape[0] or b < 0:
            outside(b, "counters")
        key_first = first[cell] + (b >> shift) * group_step
        key_second = second[cell] + key_first
        if top_kept >= 0 and (key_first < 0 or key_second + top_kept >= grouped.shape[0]):
            outside(b, "group totals")
        for j in range(n_add):
            amount = scalars[j] if column[j] < 0 else columns[column[j], i]
            flat[position + measures[j]] += amount
            k = kept[j]
            if k >= 0:
                grouped[key_first + k] += amount
                grouped[key_second + k] += amount
