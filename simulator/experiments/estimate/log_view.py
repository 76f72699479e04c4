"""A site's log as DuckDB sees it: a connection with bounded memory, the log as a view, SQL.

The pairing (:mod:`~simulator.experiments.estimate.tabulation`) runs its queries on one
DuckDB connection whose working memory is capped (beyond it, DuckDB spills to a temporary
folder) and on which the log, whatever its format, is the view ``log``: Parquet files are read
by DuckDB itself, CSV and JSON Lines through pyarrow datasets. This module opens that
connection, registers the view with the column types it found, and writes the bits of SQL that
depend on those types (numbers, times, quoted names).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from simulator.experiments.estimate.reading import FORMATS, REQUIRED, LogError, format_of

MEMORY_LIMIT = "800MB"
"""DuckDB's working memory; beyond it, the pairing spills to a temporary folder."""
NUMBERS = {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER",
           "USMALLINT", "UTINYINT", "DOUBLE", "FLOAT"}  # fmt: skip
"""DuckDB's numeric column types (besides ``DECIMAL(p, s)``)."""
INTEGERS = {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER",
            "USMALLINT", "UTINYINT"}  # fmt: skip
"""DuckDB's integer column types: keys of these types are grouped as they are."""


def connect(spill: str) -> tuple[Any, type[Exception]]:
    """A DuckDB connection with bounded memory spilling to ``spill``, and DuckDB's error class.

    Parameters
    ----------
    spill : str
        The folder DuckDB writes to beyond :data:`MEMORY_LIMIT`.

    Returns
    -------
    tuple
        The connection and ``duckdb.Error``.

    Raises
    ------
    ImportError
        Without duckdb, naming the extra that provides it.
    """
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
    try:  # no bar on the terminal; in Jupyter DuckDB refuses the setting without ipywidgets
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        pass
    return con, duckdb.Error


def source(con: Any, path: Path, fmt: str | None) -> tuple[str, dict[str, str]]:
    """Register the log as the view ``log``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The connection.
    path : Path
        A CSV, Parquet or JSON Lines file, or a folder of them.
    fmt : str, optional
        ``csv``, ``parquet`` or ``jsonl``; guessed from the suffix when omitted.

    Returns
    -------
    tuple
        The view's SQL name and the DuckDB type of each column, by name.

    Raises
    ------
    LogError
        When the file cannot be read.
    """
    kind = format_of(path, fmt)
    _refuse_empty(path, kind)
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
        message = str(error).splitlines()[0]
        twice = re.search(r"contained multiple columns named (.+)$", message)
        if twice:  # a CSV without a header: its first row of values is read as the names
            raise LogError(
                f"{path}: the first row names two columns {twice.group(1)!r}: a CSV's first row "
                f"must name its columns ({', '.join(REQUIRED)}, ...)"
            ) from None
        raise LogError(f"{path}: cannot be read: {message}") from None
    return "log", {name: kind for name, kind, *_ in described}


def _refuse_empty(path: Path, kind: str) -> None:
    """Name an empty log in one line (the readers' own messages speak of schemas and streams)."""
    files = [path] if path.is_file() else [
        f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in FORMATS
    ]  # fmt: skip
    if files and all(f.stat().st_size == 0 for f in files):
        what = "the file is" if path.is_file() else "its files are"
        header = "a header and " if kind == "csv" else ""
        raise LogError(f"{path}: {what} empty (expected {header}one row per received copy)")


def numeric(kind: str) -> bool:
    """Whether the DuckDB column type ``kind`` holds numbers.

    Parameters
    ----------
    kind : str
        A type name as ``DESCRIBE`` gives it.

    Returns
    -------
    bool
        True for integers, floating point and decimals.
    """
    return kind in NUMBERS or kind.startswith("DECIMAL")


def quote(name: str) -> str:
    """A column name quoted for SQL.

    Parameters
    ----------
    name : str
        The name, as the file spells it.

    Returns
    -------
    str
        The name in double quotes, inner quotes doubled.
    """
    return '"' + name.replace('"', '""') + '"'


def key_sql(column: str, kind: str) -> str:
    """SQL for the key an event's copies are grouped by.

    Integer keys are grouped as they are. Any other key (text such as a UUID or a message id)
    is grouped by its 64-bit hash: a hash table of 64-bit numbers is several times faster to
    build and smaller than one of strings, which is what bounds the memory on long logs. Two
    different keys share a hash with probability about n**2 / 2**65 for n distinct keys
    (3e-6 for ten million), and would then count as one event.

    Parameters
    ----------
    column : str
        The quoted key column.
    kind : str
        Its DuckDB type.

    Returns
    -------
    str
        An SQL expression, NULL where the key is missing.
    """
    if kind in INTEGERS:
        return column
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE hash({column}) END"


def milliseconds_sql(column: str, kind: str) -> str:
    """SQL for the milliseconds since 1970 of a time column.

    Parameters
    ----------
    column : str
        The quoted column name.
    kind : str
        Its DuckDB type: timestamps and dates are converted, numbers are seconds since 1970,
        text is parsed (NULL where it cannot be).

    Returns
    -------
    str
        An SQL expression of type BIGINT.
    """
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return f"epoch_ms(CAST({column} AS TIMESTAMPTZ))"
    if numeric(kind):
        return f"CAST(floor({column} * 1000) AS BIGINT)"
    return f"epoch_ms(try_cast({column} AS TIMESTAMPTZ))"


__all__ = [
    "INTEGERS", "MEMORY_LIMIT", "NUMBERS", "connect", "key_sql", "milliseconds_sql", "numeric",
    "quote", "source",
]  # fmt: skip
