# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The server copies of dual events, written in one pass: compiled.

A dual event's server copy carries its tally offset and value, and the outcome of its browser
copy (first arrival, arrivals, late copies, cause, or a reference to where it waits), so that the
collector can join the two when the server copy settles. On arrays,
:func:`~simulator.model.copies.dual_payload` gathers each of those columns and writes it into the
rows field by field, a strided pass each; :func:`fill` gathers and writes a row at a time, the
same bytes (``tests/model/test_copies.py``).
"""

from libc.stdint cimport int8_t, int32_t, int64_t
from libc.string cimport memset


def fill(
    unsigned char[:, ::1] out,
    const int64_t[::1] rows,
    const int64_t[::1] off,
    const double[::1] value,
    const double[::1] first,
    const int64_t[::1] arrivals,
    const int64_t[::1] late,
    const int64_t[::1] cause,
    const int64_t[::1] ref,
    const int64_t[::1] at,
    int8_t kind,
):
    """Write row ``i`` of ``out`` from message ``rows[i]`` of the columns.

    Parameters
    ----------
    out : memoryview of uint8, shape (n, itemsize)
        The rows of :data:`~simulator.model.copies.PAYLOAD` or ``PAYLOAD_WITH_IDS``, as bytes.
    rows : memoryview of int64
        The message of each row.
    off, value, first, arrivals, late, cause, ref : memoryview
        Per message: tally offset, value, and the browser copy's first arrival, arrivals, late
        copies, outcome code and waiting reference.
    at : memoryview of int64
        Where each field starts in a row: ``off``, ``value``, ``c_first``, ``ref``, ``c_n``,
        ``c_late``, ``c_cause``, ``kind`` (and ``context``, left false, as every other byte
        not written).
    kind : int
        The copies' kind (``DUAL``).
    """
    cdef Py_ssize_t n = rows.shape[0], width = out.shape[1], i
    cdef int64_t r
    cdef unsigned char* row
    if out.shape[0] != n or at.shape[0] != 8:
        raise ValueError(f"{out.shape[0]} rows for {n} messages, {at.shape[0]} fields")
    for i in range(n):
        r = rows[i]
        row = &out[i, 0]
        memset(row, 0, width)
        (<int64_t*>(row + at[0]))[0] = off[r]
        (<double*>(row + at[1]))[0] = value[r]
        (<double*>(row + at[2]))[0] = first[r]
        (<int64_t*>(row + at[3]))[0] = ref[r]
        (<int32_t*>(row + at[4]))[0] = <int32_t>arrivals[r]
        (<int32_t*>(row + at[5]))[0] = <int32_t>late[r]
        (<int32_t*>(row + at[6]))[0] = <int32_t>cause[r]
        (<int8_t*>(row + at[7]))[0] = kind
