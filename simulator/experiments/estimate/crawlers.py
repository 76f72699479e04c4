"""Crawler user agents, by a well-kept list: which of a log's user agents name a crawler.

The list is crawler-user-agents (``docs/sources.md`` §8): about 1,500 patterns for search
engines, monitors, link previews, headless browsers and HTTP libraries, kept up by its
contributors, each with examples it must match. Patterns are case sensitive and written in the
syntax that Python, JavaScript and Go's RE2 share; tests/experiments/test_estimate_crawlers.py
checks that DuckDB's RE2 matches them as the list's own package does, and no browser's agent.

A log has far fewer distinct user agents than rows, so each distinct agent is matched once, in
DuckDB, and the rows are then marked by a lookup (:func:`crawler_agents`). DuckDB's RE2 runs a
few hundred patterns joined by ``|`` in one pass, but slows by two orders of magnitude when all
of them are joined into one (its automaton outgrows its memory), so the patterns go in chunks
of :data:`CHUNK`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

CHUNK = 300
"""Patterns joined into one regular expression: 50,000 distinct agents take 0.16-0.24 s in
chunks of 300 (0.11-0.17 s in chunks of 400 to 800, which leave RE2 less headroom as the list
grows), and 37 s with all 1,504 patterns in one."""
TABLE = "crawler_agents"
"""The temporary table of the log's user agents that name a crawler (one column, ``ua``)."""


@cache
def patterns() -> tuple[str, ...]:
    """The crawler patterns of the crawler-user-agents list.

    Returns
    -------
    tuple of str
        Regular expressions, each matched anywhere in a user agent, case sensitive.

    Raises
    ------
    ImportError
        Without the list, naming the extra that provides it.
    """
    try:
        from crawleruseragents import CRAWLER_USER_AGENTS_DATA
    except ImportError as error:
        raise ImportError(
            "trackloss estimate needs the crawler list: pip install 'trackloss[estimate]'"
        ) from error
    return tuple(entry["pattern"] for entry in CRAWLER_USER_AGENTS_DATA)


def matches_sql(column: str) -> str:
    """SQL that is true where the text ``column`` matches a crawler pattern.

    Parameters
    ----------
    column : str
        An SQL expression of type VARCHAR.

    Returns
    -------
    str
        One ``regexp_matches`` per chunk of :data:`CHUNK` patterns, joined by ``OR``.
    """
    found = patterns()
    chunks = ("|".join(found[i : i + CHUNK]) for i in range(0, len(found), CHUNK))
    return " OR ".join(
        f"regexp_matches({column}, '" + chunk.replace("'", "''") + "')" for chunk in chunks
    )


def crawler_agents(con: Any, source: str, column: str) -> None:
    """Create the table :data:`TABLE` of the log's distinct user agents that name a crawler.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The connection the log is registered on.
    source : str
        The log's view.
    column : str
        Its quoted user-agent column.
    """
    # The distinct agents are stored first: in one query DuckDB would push the match below the
    # DISTINCT and run it on every row.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {TABLE} AS
        SELECT DISTINCT CAST({column} AS VARCHAR) AS ua FROM {source} WHERE {column} IS NOT NULL
    """)  # noqa: S608 (the column is quoted)
    con.execute(f"DELETE FROM {TABLE} WHERE NOT ({matches_sql('ua')})")


def is_crawler_sql(column: str) -> str:
    """SQL that is true where the log's user agent ``column`` is in :data:`TABLE`.

    Parameters
    ----------
    column : str
        The quoted user-agent column (NULL gives NULL, which ``CASE`` takes as false).

    Returns
    -------
    str
        An ``IN`` test against the table :func:`crawler_agents` made.
    """
    return f"CAST({column} AS VARCHAR) IN (SELECT ua FROM {TABLE})"


__all__ = ["CHUNK", "TABLE", "crawler_agents", "is_crawler_sql", "matches_sql", "patterns"]
