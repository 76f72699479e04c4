"""Pairing a log's copies out of core with DuckDB: from rows to tables per visitor group.

The estimate never needs the rows themselves, only, per stratum (event type x segment) and
group of visitors, how many events both paths saw, the client only and the server only. DuckDB
reads the columns it needs (Parquet natively, CSV and JSON Lines through pyarrow datasets),
groups the copies by their key in bounded memory (spilling to disk beyond it), and hands back
tables whose size depends on the visitors and strata, not on the rows:

1. one entry per real event: which paths it arrived on (a bit mask), its visitor, its stratum
   (a hash of the event type and segment values), the times of its first and last copy and the
   path of the last one;
2. per visitor: whether any of their copies came from the browser, and their first copy's time;
3. per visitor group, stratum and kind of visitor (with or without a client copy ever): the
   three cells. Visitors sorted by their id go round robin into the groups, as the bootstrap
   resamples them.

An event's copies normally agree on its type and segment; where they do not, the smallest
stratum hash wins, so the result does not depend on the order of the rows.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulator.experiments.estimate.reading import (
    CRAWLERS,
    REQUIRED,
    THIRD_PATHS,
    LogError,
    format_of,
)
from simulator.experiments.estimate.segment_counts import (
    SegmentCounts,
    segment_columns,
    segment_counts,
)

MEMORY_LIMIT = "640MB"
"""DuckDB's working memory; beyond it, the pairing spills to a temporary folder."""
LATE_AFTER = 86_400.0
"""Default late-arrival window: a copy arriving over a day after its event's first copy misses
the daily figures it belonged to."""
CLIENT, SERVER, BAD_PATH, NO_VISITOR, BAD_TIME, THIRD = 1, 2, 4, 8, 16, 32
"""Bits of an event's mask: the paths its copies came by (a third source's apart), and what
was wrong with a copy."""


TWO = "rm & 3 > 0"
"""SQL: a copy came by the client or the server path (not a third source)."""

NUMBERS = {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER",
           "USMALLINT", "UTINYINT", "DOUBLE", "FLOAT"}  # fmt: skip


@dataclass
class Tables:
    """What the estimate needs from a log, reduced per visitor group and stratum.

    Attributes
    ----------
    labels : list of tuple of str
        The labels (event type, then the ``by`` columns) of each stratum.
    group, stratum : numpy.ndarray
        Visitor group and stratum index of each entry.
    server_only : numpy.ndarray
        Whether the entry's visitors never sent a client copy (bool).
    cells : numpy.ndarray
        Shape (entries, 3): events seen by both paths, the client only, the server only.
    late : numpy.ndarray
        Shape (strata, 2): copies left out as late, by client and by server.
    """

    labels: list[tuple[str, ...]]
    group: np.ndarray
    stratum: np.ndarray
    server_only: np.ndarray
    cells: np.ndarray
    late: np.ndarray
    rows: int
    crawler_rows: int
    visitors: int
    server_only_visitors: int
    server_only_events: int
    minutes: np.ndarray
    start: int
    arrivals: np.ndarray
    shared_ids: dict[str, int] | None
    segments: SegmentCounts | None = None


def _connect(spill: str) -> tuple[Any, type[Exception]]:
    """A DuckDB connection with bounded memory spilling to ``spill``, and DuckDB's error class."""
    try:
        import duckdb
    except ImportError as error:
        raise ImportError(
            "trackloss estimate needs duckdb: pip install 'trackloss[estimate]'"
        ) from error
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET temp_directory = '" + spill.replace("'", "''") + "'")
    con.execute("SET preserve_insertion_order = false")
    return con, duckdb.Error


def _source(con: Any, path: Path, fmt: str | None) -> tuple[str, dict[str, str]]:
    """Register the log as the view ``log``; return its SQL name and column types."""
    kind = format_of(path, fmt)
    try:
        if kind == "parquet":
            files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
            files += [] if path.is_file() else sorted(path.rglob("*.pq"))
            listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE VIEW log AS SELECT * FROM read_parquet([{listing}])")
        else:
            from simulator.experiments.estimate.reading import require_dataset

            ds = require_dataset()
            con.register("log", ds.dataset(path, format=kind))
        described = con.execute("DESCRIBE SELECT * FROM log").fetchall()
    except (LogError, ImportError):
        raise
    except Exception as error:  # DuckDB and pyarrow raise their own kinds for unreadable files
        raise LogError(f"{path}: cannot be read: {str(error).splitlines()[0]}") from None
    return "log", {name: kind for name, kind, *_ in described}


def _numeric(kind: str) -> bool:
    return kind in NUMBERS or kind.startswith("DECIMAL")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _milliseconds_sql(column: str, kind: str) -> str:
    """SQL for the milliseconds since 1970 of a time column of DuckDB type ``kind``.

    Numbers are seconds since 1970.
    """
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return f"epoch_ms(CAST({column} AS TIMESTAMPTZ))"
    if _numeric(kind):
        return f"CAST(floor({column} * 1000) AS BIGINT)"
    return f"epoch_ms(try_cast({column} AS TIMESTAMPTZ))"


def tabulate(
    path: str | Path,
    by: tuple[str, ...] = (),
    columns: dict[str, str] | None = None,
    fmt: str | None = None,
    late_after: float = float("inf"),
    groups: int = 4096,
    dims: tuple[str, ...] = (),
) -> Tables:
    """Read a log of copies and reduce it to the cells per visitor group and stratum.

    Parameters
    ----------
    path : str or Path
        A CSV, Parquet or JSON Lines file, or a folder of them.
    by : tuple of str
        Segment columns (besides ``event``).
    columns : dict, optional
        Our column name -> the file's column name.
    fmt : str, optional
        ``csv``, ``parquet`` or ``jsonl``; guessed from the suffix when omitted.
    late_after : float
        A copy arriving more than this many seconds after its event's first copy is late: it
        is left out of the cells and counted apart.
    groups : int
        Visitor groups (visitors go round robin into them, in the order of their ids).
    dims : tuple of str
        Segment columns whose counts per event the corrections need (``by`` among them):
        ``Tables.segments`` (:mod:`~simulator.experiments.estimate.segment_counts`).

    Returns
    -------
    Tables
        The cells, the segment counts and what the checks need.

    Raises
    ------
    LogError
        When the log cannot be read as copies (the message names the file, row and column).
    """
    path = Path(path)
    if not path.exists():
        raise LogError(f"{path}: no such file or folder")
    mapping = {name: name for name in (*REQUIRED, "user_agent", "message_id", "value", *by)}
    mapping.update({name: name for name in dims if name not in mapping})
    mapping.update(columns or {})
    with tempfile.TemporaryDirectory(prefix="trackloss-estimate-") as spill:
        con, engine_error = _connect(spill)
        try:
            return _tabulate(con, path, by, dims, mapping, fmt, late_after, groups)
        except engine_error as error:  # a file that breaks part way, a column of a wrong type
            raise LogError(f"{path}: cannot be read: {str(error).splitlines()[0]}") from None
        finally:
            con.close()


def _tabulate(con, path, by, dims, mapping, fmt, late_after, groups) -> Tables:
    src, types = _source(con, path, fmt)
    if not types:
        raise LogError(f"{path}: the file is empty (expected a header and rows of copies)")
    for ours in (*REQUIRED, *by):
        if mapping[ours] not in types:
            found = ", ".join(types)
            raise LogError(
                f"{path}: missing column {mapping[ours]!r} ({ours}); the file has: {found}"
            )
    col = {ours: _quote(mapping[ours]) for ours in mapping if mapping[ours] in types}
    stratum_cols = ", ".join(col[n] for n in ("event", *by))
    ms = _milliseconds_sql(col["time"], types[mapping["time"]])
    path_text = f"CAST({col['path']} AS VARCHAR)"
    # A third source's copies (a pixel, a CDN log) are kept apart from the two paths' cells.
    third = f"coalesce(lower(trim({path_text})) IN {tuple(THIRD_PATHS)}, false)"
    mask = (
        f"CASE WHEN {path_text} = 'client' THEN {CLIENT} WHEN {path_text} = 'server' THEN {SERVER}"
        f" WHEN lower(trim({path_text})) = 'client' THEN {CLIENT}"
        f" WHEN lower(trim({path_text})) = 'server' THEN {SERVER} WHEN {third} THEN {THIRD}"
        f" ELSE {BAD_PATH} END"
        f" | CASE WHEN {col['visitor']} IS NULL THEN {NO_VISITOR} ELSE 0 END"
        f" | CASE WHEN t IS NULL AND {col['time']} IS NOT NULL THEN {BAD_TIME} ELSE 0 END"
    )
    crawler = (
        f"regexp_matches(coalesce(CAST({col['user_agent']} AS VARCHAR), ''), "
        f"'{CRAWLERS.pattern}', 'i')"
        if "user_agent" in col
        else "false"
    )
    message = (
        f", min({col['message_id']}) FILTER (WHERE {TWO}) AS id_lo,"
        f" max({col['message_id']}) FILTER (WHERE {TWO}) AS id_hi"
        if "message_id" in col
        else ""
    )
    # With user agents, the rows kept are counted as they are grouped: the crawler rows are
    # the rest, and the pattern runs once per row.
    message += ", count(*) AS n" if "user_agent" in col else ""
    has_value = "value" in col
    if has_value and not _numeric(types[mapping["value"]]):
        raise LogError(
            f"{path}: column {mapping['value']!r} (value): expected numbers, found "
            f"{types[mapping['value']]}"
        )
    segments = segment_columns(col, dims, has_value, f"rm & {CLIENT} > 0")
    # Per event: its paths (and what was wrong), visitor, stratum, and its first and last
    # copies' times, each with its path in the two low bits (one number: a narrower table);
    # then the columns the corrections need. The stratum and times are the client and server
    # copies' only.
    con.execute(f"""
        CREATE TEMP TABLE ev AS
        SELECT {col["event_key"]} AS key, bit_or(rm) AS m, min({col["visitor"]}) AS visitor,
               min(hash({stratum_cols})) FILTER (WHERE {TWO}) AS h,
               min(t * 4 + (rm & 3)) FILTER (WHERE {TWO}) AS lo,
               max(t * 4 + (rm & 3)) FILTER (WHERE {TWO}) AS hi {message} {segments}
        FROM (SELECT *, {mask} AS rm FROM (SELECT *, {ms} AS t FROM {src} WHERE NOT {crawler}))
        GROUP BY {col["event_key"]}
    """)  # noqa: S608 (the names are quoted, the pattern is ours)
    rows = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
    crawler_rows = (
        rows - (con.execute("SELECT sum(n) FROM ev").fetchone()[0] or 0)
        if "user_agent" in col
        else 0
    )
    problems = con.execute(
        "SELECT bit_or(m), count(*) FILTER (WHERE key IS NULL) FROM ev"
    ).fetchone()
    if rows == 0:
        raise LogError(f"{path}: the file has no rows (expected one row per received copy)")
    if (problems[0] or 0) & (BAD_PATH | NO_VISITOR | BAD_TIME) or problems[1]:
        _locate_problem(path, by, mapping, fmt)
    if rows == crawler_rows:
        raise LogError(
            f"{path}: all {rows:,} rows come from crawler user agents: no copy left to "
            "estimate from"
        )
    tables = _reduce(con, src, by, col, late_after, groups, rows, crawler_rows, "message_id" in col)
    tables.segments = segment_counts(con, dims, has_value, groups)
    return tables


def _locate_problem(path, by, mapping, fmt) -> None:
    """Find the first bad row with the row-by-row reader, whose message names it."""
    from simulator.experiments.estimate.reading import scan

    scan(path, by, {k: v for k, v in mapping.items() if k != "message_id"}, fmt)
    raise LogError(f"{path}: some rows have no event_key, visitor, path or readable time")


def _reduce(con, src, by, col, late_after, groups, rows, crawler_rows, has_ids) -> Tables:
    """From the events table to the cells, the late copies and what the checks need."""
    late = int(min(late_after, 1e12) * 1000)
    con.execute(f"""
        CREATE TEMP TABLE vis AS
        SELECT visitor, any_client, first_t,
               (row_number() OVER (ORDER BY visitor) - 1) % {int(groups)} AS g
        FROM (SELECT visitor, bool_or(m & {CLIENT} > 0) AS any_client,
                     min(lo // 4) // 1000 AS first_t
              FROM ev WHERE m & 3 > 0 GROUP BY visitor)
    """)
    # The later copy of an event seen on both paths, when it came after the window, is late:
    # left out of the cells (its path missed the event in time) and counted apart.
    cells = con.execute(f"""
        SELECT g, h, NOT any_client AS server_only,
               count(*) FILTER (WHERE seen = 3) AS n11, count(*) FILTER (WHERE seen = 1) AS n10,
               count(*) FILTER (WHERE seen = 2) AS n01, count(*) FILTER (WHERE late = 1) AS late1,
               count(*) FILTER (WHERE late = 2) AS late2
        FROM (SELECT visitor, h, (m & 3) & ~late AS seen, late FROM
              (SELECT *, CASE WHEN m & 3 = 3 AND hi // 4 - lo // 4 > {late} THEN hi % 4 ELSE 0
                              END AS late FROM ev WHERE m & 3 > 0))
        JOIN vis USING (visitor) GROUP BY ALL
    """).fetchnumpy()
    names = ("event", *by)
    label_sql = ", ".join(
        f"coalesce(CAST({col[n]} AS VARCHAR), '(none)') AS {_quote(n)}" for n in names
    )
    strata = con.execute(f"""
        SELECT hash({", ".join(col[n] for n in names)}) AS h, {label_sql}
        FROM {src} GROUP BY ALL ORDER BY ALL
    """).fetchall()
    hashes = sorted({int(x) for x in cells["h"]}, key=lambda h: _label_of(strata, h))
    index = {h: i for i, h in enumerate(hashes)}
    labels = [_label_of(strata, h) for h in hashes]
    stratum = np.array([index[int(h)] for h in cells["h"]], np.int64)
    late_cells = np.zeros((len(hashes), 2), np.int64)
    np.add.at(late_cells, stratum, np.stack([cells["late1"], cells["late2"]], axis=1))
    visitors = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT any_client) FROM vis"
    ).fetchone()
    # Copies per minute from the first copy, from each event's first and last copy (a third
    # copy of one event, a duplicate, falls between them and is not counted apart).
    start = con.execute("SELECT min(lo // 4) // 1000 FROM ev").fetchone()[0]
    start = int(start) if start is not None else 0
    spans = con.execute(f"""
        SELECT DISTINCT (t // 1000 - {start}) // 60 AS minute FROM
        (SELECT lo // 4 AS t FROM ev WHERE lo IS NOT NULL UNION ALL
         SELECT hi // 4 FROM ev WHERE hi IS NOT NULL)
    """).fetchnumpy()
    minutes = np.bincount(spans["minute"].astype(np.int64))
    arrivals = np.sort(con.execute("SELECT first_t FROM vis").fetchnumpy()["first_t"])
    shared = None
    if has_ids:
        row = con.execute(
            "SELECT count(*) FILTER (WHERE m & 3 = 3), "
            "count(*) FILTER (WHERE m & 3 = 3 AND id_lo = id_hi) FROM ev"
        ).fetchone()
        shared = {"both_paths": int(row[0]), "same_id": int(row[1])}
    return Tables(
        labels=labels,
        group=cells["g"].astype(np.int64),
        stratum=stratum,
        server_only=cells["server_only"].astype(bool),
        cells=np.stack([cells["n11"], cells["n10"], cells["n01"]], axis=1).astype(float),
        late=late_cells,
        rows=int(rows),
        crawler_rows=int(crawler_rows),
        visitors=int(visitors[0]),
        server_only_visitors=int(visitors[1]),
        server_only_events=int(
            (cells["n11"] + cells["n10"] + cells["n01"])[cells["server_only"]].sum()
        ),
        minutes=minutes,
        start=start,
        arrivals=arrivals,
        shared_ids=shared,
    )


def _label_of(strata: list[tuple], h: int) -> tuple[str, ...]:
    for row in strata:
        if int(row[0]) == h:
            return tuple(row[1:])
    raise KeyError(h)


__all__ = ["LATE_AFTER", "MEMORY_LIMIT", "Tables", "tabulate"]
