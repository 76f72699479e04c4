"""How a run's process asks the C allocator for memory: freed arrays are kept for the next ones.

A replication makes and frees numpy arrays of a few hundred kilobytes to a few megabytes, window
after window. glibc's ``malloc`` serves a block over its *mmap threshold* with fresh pages of
the kernel, and hands the top of its heap back to the kernel whenever more than its *trim
threshold* lies free there; either way, the next array of that size faults its pages in again,
and the kernel zeroes each one. Both thresholds start at 128 KiB and only rise as large blocks
are freed (the mallopt(3) manual page, on ``M_MMAP_THRESHOLD``), so a run keeps paying for such
faults. At 1M users a replication took 580,000 to 690,000 of them, 1.3 to 1.8 s of the kernel's
time in 12 to 15 s.

:func:`keep_freed_memory` fixes the mmap threshold at 4 MiB and the trim threshold at 32 MiB
from the start: a window's arrays are reused in place, while anything larger, such as a tally's
counters, still gets pages of its own, which the kernel zeroes only where they are touched. The
results do not change (where an array lives has no bearing on its values), and peak memory
barely moves (up to 32 MiB freed at the top of the heap is kept for reuse instead of returned).

The ``trackloss`` program and the pool workers of a run call it; a notebook can, too. It changes
the allocator of the whole process, so the library does not do it on its own.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1
"""``mallopt`` parameter (glibc): free memory at the heap's top kept before it is returned."""
M_MMAP_THRESHOLD = -3
"""``mallopt`` parameter (glibc): blocks at least this large get pages of their own."""
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
"""Arrays up to this size come from the heap and are reused."""
TRIM_THRESHOLD_BYTES = 32 * 1024 * 1024
"""Free memory at the top of the heap kept for the next arrays."""

_applied: bool | None = None  # None: not tried yet in this process


def keep_freed_memory() -> bool:
    """Have glibc keep freed memory for reuse instead of returning it to the kernel at once.

    Sets ``M_MMAP_THRESHOLD`` to :data:`MMAP_THRESHOLD_BYTES` and ``M_TRIM_THRESHOLD`` to
    :data:`TRIM_THRESHOLD_BYTES` (see the module docstring). Elsewhere than on Linux with glibc
    (macOS, musl) it does nothing. Calling it again does nothing more.

    Returns
    -------
    bool
        Whether the process's allocator now runs with these settings.
    """
    global _applied
    if _applied is None:
        _applied = sys.platform == "linux" and _set_thresholds()
    return _applied


def _set_thresholds() -> bool:
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):  # a C library without mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success. Setting either turns glibc's rising thresholds off.
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


__all__ = ["keep_freed_memory"]
