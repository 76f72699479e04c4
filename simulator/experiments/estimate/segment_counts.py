"""Counts of paired events per visitor group and segment, for the corrections, out of core.

The corrected composition, the logistic capture model, the third-source test and the site
profile weight single events by their segment, but none needs an event on its own: each needs
only how many events of each kind (the paths that saw them) fall in each cell of event type x
segment columns, per group of visitors (the bootstrap resamples groups), and, for the site
profile, a few sums over the visitors of each device x browser segment. DuckDB computes these
from the events table the pairing builds (one row per event, on disk beyond its memory limit),
so Python holds counts per visitor group and cell, never a row per event.

An event's segment values are those of its client copy when it has one (the browser knows its
device), whatever the order of the rows. A visitor's
segment, country and channel are those of their event with the smallest key (by its hash, for
text keys: see :func:`~simulator.experiments.estimate.log_view.key_sql`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

NONE_LABEL = "(none)"
"""Label of a missing category."""
PROFILE_COLUMNS = ("device", "browser")
"""The columns whose combinations are the site profile's segments."""
MIX_COLUMNS = ("country", "channel")
"""The columns whose mix of visitors the site profile gives per segment."""
FEATURES = ("visitors", "server_visitors", "silent", "look_silent", "n11", "n01")
"""Sums per segment of the site profile (see
:mod:`~simulator.experiments.estimate.site_profile`)."""


@dataclass
class SegmentCounts:
    """What the corrections need from a log, as counts per visitor group.

    Attributes
    ----------
    events : dict of numpy.ndarray
        One entry per visitor group x event type x segment values x paths: ``group``,
        ``client``, ``server``, ``third`` (bool), ``count`` (events), ``value`` (their summed
        value, when the log has one) and the codes of ``event`` and of each segment column.
    labels : dict
        Column -> code -> category (codes in the categories' sorted order).
    profile : dict
        The site profile's sums: ``segments`` (device and browser of each), ``group``,
        ``segment`` and ``features`` (entries x :data:`FEATURES`), ``mixes`` (per
        :data:`MIX_COLUMNS` column, the visitors of each segment per category) and
        ``visitors``.
    """

    events: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, dict[int, str]] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)


def _codes(values: list[str]) -> tuple[np.ndarray, dict[int, str]]:
    """Codes of labels in their sorted order, and the label of each code."""
    distinct, codes = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return codes.ravel().astype(np.int64), {i: str(v) for i, v in enumerate(distinct)}


def segment_counts(
    con: Any,
    cells: dict[str, np.ndarray],
    cell_labels: dict[int, tuple[str, ...]],
    dims: tuple[str, ...],
    has_value: bool,
) -> SegmentCounts:
    """The corrections' counts from the pairing's counts per visitor group and cell.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The connection holding the pairing's tables: ``pv`` (one row per visitor: group
        ``g``, ``c``, ``s`` and ``b`` their client, server and both-path events, ``seg`` the
        cell of their first event) and ``lab`` (each cell's labels, ``hd`` first).
    cells : dict of numpy.ndarray
        Events per visitor group, cell and paths: ``g``, ``paths`` (bits 1 client, 2 server,
        32 a third source), ``hd`` (the cell), ``n`` and ``value`` when the log has one.
    cell_labels : dict
        Cell -> its labels (event type, then ``dims``).
    dims : tuple of str
        The segment columns.
    has_value : bool
        Whether ``cells`` has ``value``.

    Returns
    -------
    SegmentCounts
        The counts.
    """
    names = ("event", *dims)
    paths = np.asarray(cells["paths"], np.int64)
    out = SegmentCounts()
    out.events = {
        "group": np.asarray(cells["g"], np.int64),
        "client": paths & 1 > 0,
        "server": paths & 2 > 0,
        "third": paths & 32 > 0,
        "count": np.asarray(cells["n"], float),
    }
    if has_value:
        out.events["value"] = np.nan_to_num(np.asarray(cells["value"], float))
    hashes, at = np.unique(np.asarray(cells["hd"]), return_inverse=True)
    of_hash = [cell_labels[int(h)] for h in hashes]
    for i, n in enumerate(names):
        codes, out.labels[n] = _codes([lab[i] for lab in of_hash])
        out.events[n] = codes[at.ravel()]
    out.profile = _profile(con, dims)
    return out


def _profile(con: Any, dims: tuple[str, ...]) -> dict[str, Any]:
    """The site profile's sums per visitor group and device x browser segment."""
    names = ("event", *dims)
    # lab's columns: hd, then s0, s1, ... the labels of the event type and each segment column.
    segment = ", ".join(
        f"lab.s{names.index(c)} AS {c}" if c in dims else f"'' AS {c}"
        for c in (*PROFILE_COLUMNS, *MIX_COLUMNS)
    )
    # Visitors of the two paths with their segment: per segment the unblocked capture rate
    # p = n11 / (n11 + n01) of the visitors with client copies, and per visitor the chance
    # (1 - p)^k that all k of their server-seen events missed the client.
    con.execute(f"""
        CREATE TEMP TABLE ps AS
        SELECT g, c, s, b, {segment} FROM pv JOIN lab ON pv.seg = lab.hd WHERE two
    """)  # noqa: S608 (our own column names)
    talking = "s > 0 AND c > 0"
    sums = con.execute(f"""
        WITH seg AS (
            SELECT device, browser,
                   CAST(sum(b) FILTER (WHERE {talking}) AS DOUBLE) AS n11,
                   CAST(sum(s - b) FILTER (WHERE {talking}) AS DOUBLE) AS n01
            FROM ps GROUP BY ALL)
        SELECT g, device, browser, count(*) AS visitors,
               count(*) FILTER (WHERE s > 0) AS server_visitors,
               count(*) FILTER (WHERE s > 0 AND c = 0) AS silent,
               coalesce(sum(CASE WHEN {talking} AND miss < 1 THEN miss / (1 - miss) ELSE 0 END),
                        0) AS look_silent,
               coalesce(sum(b) FILTER (WHERE {talking}), 0) AS n11,
               coalesce(sum(s - b) FILTER (WHERE {talking}), 0) AS n01
        FROM (SELECT *, pow(1 - CASE WHEN coalesce(n11 + n01, 0) > 0 THEN n11 / (n11 + n01)
                                     ELSE 1 END, s) AS miss
              FROM ps JOIN seg USING (device, browser))
        GROUP BY ALL
    """).fetchnumpy()
    pairs = list(zip(sums["device"].tolist(), sums["browser"].tolist(), strict=True))
    segments = sorted(set(pairs))
    where = {s: i for i, s in enumerate(segments)}
    mixes = {}
    for c in (m for m in MIX_COLUMNS if m in dims):
        rows = con.execute(f"SELECT device, browser, {c}, count(*) FROM ps GROUP BY ALL").fetchall()
        mixes[c] = [{} for _ in segments]
        for device, browser, category, n in sorted(rows, key=lambda r: str(r[2])):
            mixes[c][where[(device, browser)]][category] = int(n)
    return {
        "segments": [
            tuple(v if c in dims else None for c, v in zip(PROFILE_COLUMNS, s, strict=True))
            for s in segments
        ],
        "group": np.asarray(sums["g"], np.int64),
        "segment": np.array([where[p] for p in pairs], np.int64),
        "features": np.stack([np.asarray(sums[f], float) for f in FEATURES], axis=1),
        "mixes": mixes,
        "visitors": int(con.execute("SELECT count(*) FROM ps").fetchone()[0]),
    }


__all__ = ["FEATURES", "SegmentCounts", "segment_counts"]
