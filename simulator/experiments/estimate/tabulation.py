"""Pairing a log's copies out of core with DuckDB: from rows to tables per visitor group.

The estimate never needs the rows themselves, only, per stratum (event type x segment) and
group of visitors, how many events both paths saw, the client only and the server only. DuckDB
reads the columns it needs (Parquet natively, CSV and JSON Lines through pyarrow datasets),
groups the copies by their key (an integer key as it is, any other by its 64-bit hash: see
:func:`~simulator.experiments.estimate.log_view.key_sql`) in bounded memory (spilling to disk
beyond it), and hands back
tables whose size depends on the visitors and strata, not on the rows:

1. one entry per real event: which paths it arrived on (a bit mask), its visitor, its stratum
   (a hash of the event type and segment values), and the time of its first copy on each path;
2. per visitor: whether any of their copies came from the browser, and their first copy's time;
3. per visitor group, stratum and kind of visitor (with or without a client copy ever): the
   three cells. Visitors sorted by their id go round robin into the groups, as the bootstrap
   resamples them.

An event's copies normally agree on its type and segment; where they do not, its client
copy's values win, else those of its other copies with the smallest hash, so the result does
not depend on the order of the rows.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulator.experiments.estimate.checks import copy_agreement
from simulator.experiments.estimate.crawlers import crawler_agents, is_crawler_sql
from simulator.experiments.estimate.log_view import (
    MEMORY_LIMIT,
    connect,
    key_sql,
    milliseconds_sql,
    numeric,
    quote,
    source,
)
from simulator.experiments.estimate.reading import REQUIRED, THIRD_PATHS, LogError
from simulator.experiments.estimate.segment_counts import SegmentCounts, segment_counts

LATE_AFTER = 86_400.0
"""Default late-arrival window: a copy arriving over a day after its event's first copy misses
the daily figures it belonged to."""
CLIENT, SERVER, BAD_PATH, NO_VISITOR, BAD_TIME, THIRD = 1, 2, 4, 8, 16, 32
"""Bits of an event's mask: the paths its copies came by (a third source's apart), and what
was wrong with a copy."""
CLIENT_CRAWLER, OTHER_CRAWLER = 64, 128
"""Bits of an event's mask: a client copy, or another copy, whose user agent names a crawler."""
SERVER_AGENT_SHARE = 0.5
"""Above this share of the events both paths saw and whose client copy came from a browser, a
server copy naming a crawler or HTTP library carries the server's own user agent, not the
visitor's: server copies are then not filtered by it."""


TWO = "rm & 3 > 0"  # SQL: a copy came by the client or the server path (not a third source)
TOP = f"CAST({1 << 63} AS UBIGINT)"  # SQL: a hash's top bit, kept in 64 bits (not 128)


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
    segments : SegmentCounts
        The corrections' counts per visitor group and cell of event type x ``dims``.
    dims : tuple of str
        The segment columns counted: ``by``, then the further ones the log has.
    server_agents : dict, optional
        With a user-agent column: whether the server copies carry the server's own agent
        (``servers_own``), from the events both paths saw whose client copy came from a browser
        (``paired_events``) and those of them whose server copy names a crawler
        (``named_crawler``).
    agreement : dict, optional
        Whether an event's copies agree on their visitor, event type and segment values, from a
        sample of the events (:func:`~simulator.experiments.estimate.checks.copy_agreement`).
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
    dims: tuple[str, ...] = ()
    server_agents: dict[str, Any] | None = None
    agreement: dict[str, int] | None = None


def tabulate(
    path: str | Path,
    by: tuple[str, ...] = (),
    columns: dict[str, str] | None = None,
    fmt: str | None = None,
    late_after: float = float("inf"),
    groups: int = 4096,
    segments: tuple[str, ...] = (),
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
    segments : tuple of str
        Further segment columns whose counts the corrections need, where the log has them:
        with ``by`` they are ``Tables.dims``, counted in ``Tables.segments``
        (:mod:`~simulator.experiments.estimate.segment_counts`).

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
    mapping.update({name: name for name in segments if name not in mapping})
    mapping.update(columns or {})
    with tempfile.TemporaryDirectory(prefix="trackloss-estimate-") as spill:
        con, engine_error = connect(spill)
        try:
            return _tabulate(con, path, by, segments, mapping, fmt, late_after, groups)
        except engine_error as error:  # a file that breaks part way, a column of a wrong type
            raise LogError(f"{path}: cannot be read: {str(error).splitlines()[0]}") from None
        finally:
            con.close()


def _tabulate(con, path, by, segments, mapping, fmt, late_after, groups) -> Tables:
    src, types = source(con, path, fmt)
    if not types:
        raise LogError(f"{path}: the file is empty (expected a header and rows of copies)")
    for ours in (*REQUIRED, *by):
        if mapping[ours] not in types:
            found = ", ".join(types)
            raise LogError(
                f"{path}: missing column {mapping[ours]!r} ({ours}); the file has: {found}"
            )
    col = {ours: quote(mapping[ours]) for ours in mapping if mapping[ours] in types}
    dims = (*by, *(c for c in segments if c in col and c not in by))
    ms = milliseconds_sql(col["time"], types[mapping["time"]])
    path_text = f"CAST({col['path']} AS VARCHAR)"
    # A third source's copies (a pixel, a CDN log) are kept apart from the two paths' cells.
    third = f"coalesce(lower(trim({path_text})) IN {tuple(THIRD_PATHS)}, false)"
    paths = (
        f"CASE WHEN {path_text} = 'client' THEN {CLIENT} WHEN {path_text} = 'server' THEN {SERVER}"
        f" WHEN lower(trim({path_text})) = 'client' THEN {CLIENT}"
        f" WHEN lower(trim({path_text})) = 'server' THEN {SERVER} WHEN {third} THEN {THIRD}"
        f" ELSE {BAD_PATH} END"
    )
    mask = (
        f"{paths} | CASE WHEN {col['visitor']} IS NULL THEN {NO_VISITOR} ELSE 0 END"
        f" | CASE WHEN t IS NULL AND {col['time']} IS NOT NULL THEN {BAD_TIME} ELSE 0 END"
    )
    # Copies whose user agent names a crawler are marked, by path (which events they drop is
    # decided per event once they are paired: _drop_crawlers).
    crawler = ""
    if "user_agent" in col:
        crawler_agents(con, src, col["user_agent"])
        crawler = (
            f" | CASE WHEN {is_crawler_sql(col['user_agent'])} THEN CASE WHEN rp & {CLIENT} > 0"
            f" THEN {CLIENT_CRAWLER} ELSE {OTHER_CRAWLER} END ELSE 0 END"
        )
    message = (
        f", min({col['message_id']}) FILTER (WHERE {TWO}) AS id_lo,"
        f" max({col['message_id']}) FILTER (WHERE {TWO}) AS id_hi"
        if "message_id" in col
        else ""
    )
    # With user agents, an event's copies are counted: those of crawlers' events are dropped.
    message += ", count(*) AS n" if "user_agent" in col else ""
    has_value = "value" in col
    if has_value and not numeric(types[mapping["value"]]):
        raise LogError(
            f"{path}: column {mapping['value']!r} (value): expected numbers, found "
            f"{types[mapping['value']]}"
        )
    if has_value:
        message += f", max(coalesce(CAST({col['value']} AS DOUBLE), 0.0)) AS value"
    cell_cols = ", ".join(col[n] for n in ("event", *dims))
    key = key_sql(col["event_key"], types[mapping["event_key"]])
    # Per event: its paths (and what was wrong), visitor, cell (a 63-bit hash of the event type
    # and segment values of its client copy, else the smallest of its other copies': one
    # minimum over the hash with its top bit set on the other copies), and the time of its first
    # copy on each of the two paths. Further copies (duplicates, resent or retried) change
    # nothing: a path that delivered the event in time saw it, however late a copy came again.
    # Stored by visitor: in bounded memory the grouping hands events back scattered by their
    # key's hash, and the per-visitor table and the cells join below then take 0.75 s more
    # on ten million rows, against 0.6 s for the sort.
    con.execute(f"""
        CREATE TEMP TABLE ev AS
        SELECT {key} AS key, bit_or(rm) AS m, min({col["visitor"]}) AS visitor,
               min(hd | CASE WHEN rm & {CLIENT} > 0 THEN 0 ELSE {TOP} END) & ~{TOP} AS hd,
               min(t) FILTER (WHERE rm & {CLIENT} > 0) AS tc,
               min(t) FILTER (WHERE rm & {SERVER} > 0) AS ts {message}
        FROM (SELECT *, rp{crawler} AS rm
              FROM (SELECT *, {mask} AS rp, hash({cell_cols}) >> 1 AS hd
                    FROM (SELECT *, {ms} AS t FROM {src})))
        GROUP BY {key} ORDER BY visitor
    """)  # noqa: S608 (the names are quoted)
    rows = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
    problems = con.execute(
        "SELECT bit_or(m), count(*) FILTER (WHERE key IS NULL) FROM ev"
    ).fetchone()
    if rows == 0:
        raise LogError(f"{path}: the file has no rows (expected one row per received copy)")
    if (problems[0] or 0) & (BAD_PATH | NO_VISITOR | BAD_TIME) or problems[1]:
        _locate_problem(path, by, mapping, fmt)
    crawler_rows, server_agents = _drop_crawlers(con) if "user_agent" in col else (0, None)
    if rows == crawler_rows:
        raise LogError(
            f"{path}: all {rows:,} rows come from crawler user agents: no copy left to "
            "estimate from"
        )
    tables = _reduce(con, src, by, dims, col, late_after, groups, rows, crawler_rows, has_value)
    tables.server_agents = server_agents
    tables.agreement = copy_agreement(
        con, src, (key, col["visitor"], col["event"]), paths, rows, {d: col[d] for d in dims}
    )
    return tables


def _drop_crawlers(con) -> tuple[int, dict[str, Any]]:
    """Drop crawlers' events from ``ev``; return their copies and what the server's agents are.

    An event is a crawler's when one of its client copies names a crawler (a headless browser,
    say), or when it has no client copy and another copy does (a crawler reaches the server
    only). Some collectors record, as a server copy's user agent, the server's own HTTP client
    (python-requests, okhttp): the crawler list names those too. Then most events the client
    saw from a browser have a server copy that names one, and the server's agents say nothing
    of the visitor: no server copy is dropped for its agent, or every blocked visitor's events
    would go with the crawlers'.
    """
    paired, named = con.execute(f"""
        SELECT count(*) FILTER (WHERE m & 3 = 3 AND m & {CLIENT_CRAWLER} = 0),
               count(*) FILTER (WHERE m & 3 = 3 AND m & {CLIENT_CRAWLER} = 0
                                AND m & {OTHER_CRAWLER} > 0)
        FROM ev
    """).fetchone()
    own = bool(paired) and named > SERVER_AGENT_SHARE * paired
    drop = f"m & {CLIENT_CRAWLER} > 0"
    if not own:
        drop += f" OR (m & {CLIENT} = 0 AND m & {OTHER_CRAWLER} > 0)"
    dropped = con.execute(f"SELECT coalesce(sum(n), 0) FROM ev WHERE {drop}").fetchone()[0]
    con.execute(f"DELETE FROM ev WHERE {drop}")
    agents = {"servers_own": own, "paired_events": int(paired), "named_crawler": int(named)}
    return int(dropped), agents


def _locate_problem(path, by, mapping, fmt) -> None:
    """Find the first bad row with the row-by-row reader, whose message names it."""
    from simulator.experiments.estimate.reading import scan

    scan(path, by, {k: v for k, v in mapping.items() if k != "message_id"}, fmt)
    raise LogError(f"{path}: some rows have no event_key, visitor, path or readable time")


def _reduce(con, src, by, dims, col, late_after, groups, rows, crawler_rows, has_value) -> Tables:
    """From the events table to the cells, the late copies and what the checks need."""
    late = int(min(late_after, 1e12) * 1000)
    # Per visitor: whether any copy came from the browser, the first copy's time, the counts
    # the site profile needs and the cell of the event with the smallest key (their segment).
    # Visitors sorted by id go round robin into the groups.
    con.execute(f"""
        CREATE TEMP TABLE pv AS
        SELECT *, (row_number() OVER (ORDER BY visitor) - 1) % {int(groups)} AS g
        FROM (SELECT visitor, c > 0 AS any_client, c + s > 0 AS two, first_t, c, s, b, seg
              FROM (SELECT visitor, min(least(tc, ts)) // 1000 AS first_t,
                           count(*) FILTER (WHERE m & {CLIENT} > 0) AS c,
                           count(*) FILTER (WHERE m & {SERVER} > 0) AS s,
                           count(*) FILTER (WHERE m & 3 = 3) AS b,
                           arg_min(hd, CASE WHEN m & 3 > 0 THEN key END) AS seg
                    FROM ev GROUP BY visitor))
    """)
    # Of an event seen on both paths, the path whose first copy came more than the window after
    # the other's is late: left out of the two-source cells (that path missed the event in
    # time), counted apart.
    value = ", sum(value) AS value" if has_value else ""
    cells = con.execute(f"""
        SELECT g, NOT any_client AS server_only, m & {CLIENT | SERVER | THIRD} AS paths, late,
               hd, count(*) AS n {value}
        FROM (SELECT *, CASE WHEN m & 3 = 3 AND abs(tc - ts) > {late}
                             THEN CASE WHEN tc > ts THEN {CLIENT} ELSE {SERVER} END ELSE 0
                             END AS late FROM ev)
        JOIN pv USING (visitor) GROUP BY ALL
    """).fetchnumpy()
    names = ("event", *dims)
    label_sql = ", ".join(
        f"coalesce(CAST({col[n]} AS VARCHAR), '(none)') AS s{i}" for i, n in enumerate(names)
    )
    con.execute(f"""
        CREATE TEMP TABLE lab AS
        SELECT hash({", ".join(col[n] for n in names)}) >> 1 AS hd, {label_sql}
        FROM (SELECT DISTINCT {", ".join(col[n] for n in names)} FROM {src})
    """)  # noqa: S608 (the names are quoted)
    cell_labels = {int(r[0]): tuple(r[1:]) for r in con.execute("SELECT * FROM lab").fetchall()}
    paths = cells["paths"].astype(np.int64)
    two = paths & 3 > 0
    main = {k: np.asarray(v)[two] for k, v in cells.items()}
    # The two-source strata: event type and the by columns (the first of the segment columns).
    of_cell = {h: lab[: 1 + len(by)] for h, lab in cell_labels.items()}
    hashes, at = np.unique(main["hd"], return_inverse=True)
    labels = sorted({of_cell[int(h)] for h in hashes})
    index = {lab: i for i, lab in enumerate(labels)}
    stratum = np.array([index[of_cell[int(h)]] for h in hashes], np.int64)[at.ravel()]
    late_at = main["late"].astype(np.int64)
    seen = (paths[two] & 3) & ~late_at
    n = main["n"].astype(float)
    split = np.stack([n * (seen == 3), n * (seen == 1), n * (seen == 2)], axis=1)
    late_cells = np.zeros((len(labels), 2), np.int64)
    np.add.at(
        late_cells, stratum, np.stack([n * (late_at == 1), n * (late_at == 2)], 1).astype(int)
    )
    visitors = con.execute(
        "SELECT count(*) FILTER (WHERE two), count(*) FILTER (WHERE two AND NOT any_client) FROM pv"
    ).fetchone()
    # The minutes, from the first copy on, in which a path's first copy of some event arrived
    # (a duplicate is not counted apart).
    start = con.execute("SELECT min(least(tc, ts)) // 1000 FROM ev").fetchone()[0]
    start = int(start) if start is not None else 0
    spans = con.execute(f"""
        SELECT DISTINCT (t // 1000 - {start}) // 60 AS minute FROM
        (SELECT tc AS t FROM ev WHERE tc IS NOT NULL UNION ALL
         SELECT ts FROM ev WHERE ts IS NOT NULL)
    """).fetchnumpy()
    minutes = np.bincount(spans["minute"].astype(np.int64))
    arrivals = con.execute("SELECT first_t FROM pv WHERE two").fetchnumpy()["first_t"]
    shared = None
    if "message_id" in col:
        row = con.execute(
            "SELECT count(*) FILTER (WHERE m & 3 = 3), "
            "count(*) FILTER (WHERE m & 3 = 3 AND id_lo = id_hi) FROM ev"
        ).fetchone()
        shared = {"both_paths": int(row[0]), "same_id": int(row[1])}
    server_only = main["server_only"].astype(bool)
    return Tables(
        labels=labels,
        group=main["g"].astype(np.int64),
        stratum=stratum,
        server_only=server_only,
        cells=split,
        late=late_cells,
        rows=int(rows),
        crawler_rows=int(crawler_rows),
        visitors=int(visitors[0]),
        server_only_visitors=int(visitors[1]),
        server_only_events=int(split[server_only].sum()),
        minutes=minutes,
        start=start,
        arrivals=np.sort(arrivals),
        shared_ids=shared,
        segments=segment_counts(con, cells, cell_labels, dims, has_value),
        dims=dims,
    )


__all__ = ["LATE_AFTER", "MEMORY_LIMIT", "Tables", "tabulate"]
