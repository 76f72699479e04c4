"""Checks of the estimate's assumptions that the copies themselves can show.

Two paths that fail together break the independence that capture-recapture rests on: an
outage of the collector both paths send to makes them miss the same events, so the events
neither path saw are more than independence predicts and the true count comes out too low.
Such an outage leaves a trace: a stretch with no copy on either path far longer than the
arrival of visitors around it makes likely. :func:`silences` finds them.

The visitor column must name one visitor the same way on both paths. A browser's tag sends
its own anonymous id, while a server's call carries the signed-in user's id unless the site
passes the browser's id to it (``docs/sources.md`` §8, Segment's visitor ids on two paths):
mapped to such a column, the copies of one event name two visitors. Events still pair by their
key, so the losses stand, but every figure per visitor splits one person in two.
:func:`visitor_agreement` counts the events both paths saw whose copies disagree.
"""

from __future__ import annotations

from typing import Any

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


SAMPLE_ROWS = 500_000
""":func:`visitor_agreement` reads the copies of about one event in ``rows // SAMPLE_ROWS``,
chosen by their key's hash (every event in a log of fewer rows): a column that names visitors
differently on the two paths shows on nearly every event, and a sample finds it in a fraction
of the time of a second pairing."""


def visitor_agreement(con: Any, src: str, key: str, visitor: str, path: str, rows: int) -> dict:
    """Of the events both paths saw, how many name a different visitor on each path.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The connection the log is read with.
    src : str
        The log's relation (a view or a ``read_...`` call).
    key, visitor : str
        SQL for an event's key (:func:`~simulator.experiments.estimate.log_view.key_sql`) and
        the quoted visitor column.
    path : str
        SQL that is 1 for a client copy and 2 for a server copy.
    rows : int
        Rows in the log, which sets the sample (:data:`SAMPLE_ROWS`).

    Returns
    -------
    dict
        ``sampled``: one event in how many was read; ``both_paths``: events of the sample
        both paths saw; ``different_visitor``: those whose client and server copies name
        different visitors.
    """
    every = max(1, rows // SAMPLE_ROWS)
    pick = f"WHERE hash({key}) % {every} = 0" if every > 1 else ""
    both, split = con.execute(f"""
        SELECT count(*) FILTER (WHERE paths = 3),
               count(*) FILTER (WHERE paths = 3 AND lo <> hi)
        FROM (SELECT bit_or(p) AS paths, min({visitor}) AS lo, max({visitor}) AS hi
              FROM (SELECT {key} AS k, {visitor}, {path} AS p FROM {src} {pick})
              WHERE p IN (1, 2) GROUP BY k)
    """).fetchone()  # noqa: S608 (our own expressions and quoted names)
    return {"sampled": every, "both_paths": int(both), "different_visitor": int(split)}


__all__ = ["EXPECTED_VISITORS", "SAMPLE_ROWS", "silences", "visitor_agreement"]
