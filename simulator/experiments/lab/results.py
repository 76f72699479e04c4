"""The lab's results file: a tidy CSV, one row per cell, rewritten atomically after each cell.

An interrupted run therefore keeps every finished cell, and a new run with the same file skips
them (a cell is the same when all its factors and its trial count are). A file measured with
another browser or browser version is refused rather than mixed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path

import numpy as np

from simulator.experiments.lab.cells import Cell
from simulator.replications.files import write_text_atomic

CELL_COLUMNS = tuple(f.name for f in fields(Cell))
COUNT_COLUMNS = (
    "delivered",  # the collector read the whole event
    "acknowledged",  # the page saw the collector's response before it was torn down
    "accepted",  # the transport took the request (sendBeacon and keepalive quotas can refuse)
    "reported",  # the page's page-hide report arrived (the handler ran)
    "errors",  # the page saw an error sending
    "on_warm_connection",  # delivered on the connection the warm-up request opened
)
COLUMNS = (
    ("browser", "browser_version")
    + CELL_COLUMNS
    + COUNT_COLUMNS
    + ("teardown_p50_ms", "teardown_p90_ms", "teardown_max_ms", "latency_method", "concurrent")
)
"""The columns, in order. Teardown times run from the start of the page's end (navigation or
``window.close()``) to its page-hide handler, over the trials that reported."""


class ResultsMismatch(ValueError):
    """The results file cannot be extended by this run; the message says why."""


def cell_of(row: dict) -> Cell:
    """The cell a row measured."""
    values = {}
    for name in CELL_COLUMNS:
        value = row[name]
        values[name] = int(value) if name in ("latency_ms", "gap_ms", "trials") else str(value)
    return Cell(**values)


def read_results(path: Path, browser: str, version: str) -> dict[tuple, dict]:
    """The finished rows of ``path``, by cell key (none when the file does not exist).

    Raises
    ------
    ResultsMismatch
        When the file is not a lab results file, or holds another browser's results.
    """
    if not path.exists():
        return {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ResultsMismatch(f"{path}: cannot be read ({error})") from error
    done = {}
    for number, row in enumerate(rows, start=2):
        if set(COLUMNS) - set(row):
            raise ResultsMismatch(f"{path}: not a lab results file (line 1 lacks lab columns)")
        if (row["browser"], row["browser_version"]) != (browser, version):
            raise ResultsMismatch(
                f"{path}: line {number} was measured with {row['browser']} "
                f"{row['browser_version']}, this run uses {browser} {version}: "
                "choose another --out"
            )
        try:
            done[cell_of(row).key] = row
        except (TypeError, ValueError) as error:
            raise ResultsMismatch(f"{path}: line {number} is damaged ({error})") from error
    return done


def cell_row(
    cell: Cell,
    counts: dict[str, int],
    teardowns_ms: Iterable[float],
    *,
    browser: str,
    version: str,
    latency_method: str,
    concurrent: int,
) -> dict:
    """One results row for a measured cell."""
    times = np.asarray(list(teardowns_ms), dtype=float)
    quantiles = (
        [f"{v:.1f}" for v in np.quantile(times, [0.5, 0.9, 1.0])] if times.size else ["", "", ""]
    )
    row = {"browser": browser, "browser_version": version}
    row.update({name: getattr(cell, name) for name in CELL_COLUMNS})
    row.update({name: int(counts.get(name, 0)) for name in COUNT_COLUMNS})
    row.update(
        zip(("teardown_p50_ms", "teardown_p90_ms", "teardown_max_ms"), quantiles, strict=True)
    )
    row.update({"latency_method": latency_method, "concurrent": concurrent})
    return row


def write_results(path: Path, rows: Iterable[dict]) -> None:
    """Write the rows (sorted by cell) to ``path`` atomically."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: cell_of(r)):
        writer.writerow({name: row[name] for name in COLUMNS})
    write_text_atomic(path, out.getvalue())
