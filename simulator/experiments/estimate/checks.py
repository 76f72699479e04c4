"""Checks of the estimate's assumptions that the copies themselves can show.

Two paths that fail together break the independence that capture-recapture rests on: an
outage of the collector both paths send to makes them miss the same events, so the events
neither path saw are more than independence predicts and the true count comes out too low.
Such an outage leaves a trace: a stretch with no copy on either path far longer than the
arrival of visitors around it makes likely. :func:`silences` finds them.

The key, visitor and segment columns must mean the same on both paths. A browser's tag sends
its own anonymous id, while a server's call carries the signed-in user's id unless the site
passes the browser's id to it (``docs/sources.md`` §8, Segment's visitor ids on two paths):
mapped to such a column, the copies of one event name two visitors. Events still pair by their
key, so the losses stand, but every figure per visitor splits one person in two. A key must
belong to one event: an id that lives longer (a page view's, a session's, a cookie's) gathers
the copies of several events, which then count as one. And a server that names a segment
otherwise (``DESKTOP``) puts the events only it saw in segments of their own.
:func:`copy_agreement` counts all three in the copies.
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


SAMPLE_ROWS = 100_000
""":func:`copy_agreement` reads the copies of about one event in ``rows // SAMPLE_ROWS``,
chosen by their key's hash (every event in a log of fewer rows): a column that means something
else on the two paths, or a key that several events share, shows on nearly every event, and a
sample finds it in a fraction of the time of a second pairing."""


def copy_agreement(
    con: Any,
    src: str,
    columns: tuple[str, str, str],
    path: str,
    rows: int,
    segments: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Whether an event's copies agree on their visitor, event type and segment values.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The connection the log is read with.
    src : str
        The log's relation (a view or a ``read_...`` call).
    columns : tuple of str
        SQL for an event's key (:func:`~simulator.experiments.estimate.log_view.key_sql`),
        then the quoted visitor and event type columns.
    path : str
        SQL that is 1 for a client copy and 2 for a server copy.
    rows : int
        Rows in the log, which sets the sample (:data:`SAMPLE_ROWS`).
    segments : dict, optional
        Segment column name -> its quoted column in the log.

    Returns
    -------
    dict
        ``sampled``: one event in how many was read; ``events``: the sample's events (keys
        with a client or server copy); ``both_paths``: those both paths saw;
        ``different_visitor``: those of them whose copies name different visitors;
        ``mixed_types``: events whose copies on one path name more than one event type;
        ``different_segment``: per segment column, the events both paths saw whose client and
        server copies both fill it, with different values, and an ``example`` of such a pair
        (``[client, server]``, the least; ``None`` without one).
    """
    key, visitor, event = columns
    segments = segments or {}
    every = max(1, rows // SAMPLE_ROWS)
    pick = f"WHERE hash({key}) % {every} = 0" if every > 1 else ""
    one_path = " OR ".join(
        f"min({event}) FILTER (WHERE p = {p}) <> max({event}) FILTER (WHERE p = {p})"
        for p in (1, 2)
    )
    # Per segment column: the client's and the server's value of each event (as text).
    values = "".join(
        f", min(CAST({c} AS VARCHAR)) FILTER (WHERE p = {p}) AS s{i}_{p}"
        for i, c in enumerate(segments.values())
        for p in (1, 2)
    )
    apart = "".join(
        f", count(*) FILTER (WHERE paths = 3 AND s{i}_1 <> s{i}_2),"
        f" min([s{i}_1, s{i}_2]) FILTER (WHERE paths = 3 AND s{i}_1 <> s{i}_2)"
        for i in range(len(segments))
    )
    read = ", ".join([f"{key} AS k", visitor, event, *segments.values(), f"{path} AS p"])
    found = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE paths = 3),
               count(*) FILTER (WHERE paths = 3 AND lo <> hi), count(*) FILTER (WHERE mixed)
               {apart}
        FROM (SELECT bit_or(p) AS paths, min({visitor}) AS lo, max({visitor}) AS hi,
                     coalesce({one_path}, false) AS mixed {values}
              FROM (SELECT {read} FROM {src} {pick})
              WHERE p IN (1, 2) GROUP BY k)
    """).fetchone()  # noqa: S608 (our own expressions and quoted names)
    events, both, split, mixed = (int(x) for x in found[:4])
    differ = {
        name: {"events": int(found[4 + 2 * i]), "example": found[5 + 2 * i]}
        for i, name in enumerate(segments)
    }
    return {"sampled": every, "events": events, "both_paths": both, "different_visitor": split,
            "mixed_types": mixed, "different_segment": differ}  # fmt: skip


__all__ = ["EXPECTED_VISITORS", "SAMPLE_ROWS", "copy_agreement", "silences"]
