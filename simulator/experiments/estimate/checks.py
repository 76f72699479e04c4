"""Checks of the estimate's assumptions that the copies themselves can show.

Two paths that fail together break the independence that capture-recapture rests on: an
outage of the collector both paths send to makes them miss the same events, so the events
neither path saw are more than independence predicts and the true count comes out too low.
Such an outage leaves a trace: a stretch with no copy on either path far longer than the
arrival of visitors around it makes likely. :func:`silences` finds them.
"""

from __future__ import annotations

import numpy as np

EXPECTED_VISITORS = 12.0
"""A silence counts when the visitors the hour around it brings would have made this many
visits' worth of copies in it: with visits arriving at random, a lull that long happens with
probability about exp(-12), once in a hundred thousand stretches."""
AROUND_SECONDS = 3600.0


def silences(
    minutes: np.ndarray, start: int, arrivals: np.ndarray, expected: float = EXPECTED_VISITORS
) -> dict[str, int]:
    """Silences of the collector, from copies counted per minute and visitors' first copies.

    Parameters
    ----------
    minutes : numpy.ndarray
        Copies (both paths) in each minute from ``start`` on.
    start : int
        The time of the first copy (seconds).
    arrivals : numpy.ndarray
        The time of each visitor's first copy, sorted.
    expected : float
        Visitors the surrounding rate predicts in the silence for it to count.

    Returns
    -------
    dict
        ``stretches`` and ``minutes``: how many silences, and how long in all.
    """
    if minutes.size == 0:
        return {"stretches": 0, "minutes": 0}
    silent = np.asarray(minutes) == 0
    edges = np.diff(np.concatenate([[0], silent.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1) * 60 + start
    ends = np.flatnonzero(edges == -1) * 60 + start
    lo = np.searchsorted(arrivals, starts - AROUND_SECONDS)
    hi = np.searchsorted(arrivals, ends + AROUND_SECONDS)
    rate = (hi - lo) / (2 * AROUND_SECONDS)  # visitors a second around the silence
    hit = rate * (ends - starts) >= expected
    return {"stretches": int(hit.sum()), "minutes": int(((ends - starts)[hit] // 60).sum())}


__all__ = ["EXPECTED_VISITORS", "silences"]
