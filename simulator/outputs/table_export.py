"""One tidy table of a result record as CSV or Parquet, for spreadsheets and data tools.

The tables are those of :mod:`simulator.outputs.frames` (``loss``, ``causes``, ``composition``,
``value``, ``attribution``, ``kpis``, ``comparisons``). CSV cells are written as in a sweep's
``summary.csv`` (:func:`simulator.experiments.sweep_points.csv_cell`): numbers to 12 significant
digits without binary noise, text quoted where needed and never read as a spreadsheet formula.
Parquet needs the optional ``pyarrow`` package.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simulator.experiments.sweep_points import csv_cell
from simulator.replications.files import write_bytes_atomic, write_text_atomic

FORMATS = ("csv", "parquet")
"""Formats :func:`export_table` writes."""


class ExportUnavailable(RuntimeError):
    """A format whose optional package is not installed; the message says what to install."""


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    return csv_cell(value)


def table_csv(record: Mapping[str, Any], table: str) -> str:
    """The table ``table`` of ``record`` as CSV text (a header line, then one line per row).

    Parameters
    ----------
    record : mapping
        A result record.
    table : str
        One of :data:`simulator.outputs.frames.TABLES`.

    Returns
    -------
    str
        The CSV text; empty cells for missing values.
    """
    from simulator.outputs.frames import to_frame

    frame = to_frame(record, table)
    lines = [",".join(_cell(c) for c in frame.columns)]
    lines += [",".join(_cell(v) for v in row) for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def parquet_available() -> bool:
    """Whether ``pyarrow`` can be imported, so Parquet can be written."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def table_parquet(record: Mapping[str, Any], table: str) -> bytes:
    """The table ``table`` of ``record`` as Parquet bytes.

    Raises
    ------
    ExportUnavailable
        When ``pyarrow`` is not installed.
    """
    if not parquet_available():
        raise ExportUnavailable(
            "Parquet needs the pyarrow package: pip install 'trackloss[parquet]' (or use "
            "--format csv)"
        )
    from simulator.outputs.frames import to_frame

    buffer = io.BytesIO()
    to_frame(record, table).to_parquet(buffer, index=False)
    return buffer.getvalue()


def export_table(record: Mapping[str, Any], table: str, fmt: str, path: str | Path) -> Path:
    """Write one table of ``record`` to ``path`` (atomically) as ``csv`` or ``parquet``.

    Parameters
    ----------
    record : mapping
        A result record.
    table : str
        One of :data:`simulator.outputs.frames.TABLES`.
    fmt : str
        One of :data:`FORMATS`.
    path : str or pathlib.Path
        Destination file.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    if fmt == "csv":
        write_text_atomic(path, table_csv(record, table))
    elif fmt == "parquet":
        write_bytes_atomic(path, table_parquet(record, table))
    else:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return path


__all__ = [
    "FORMATS",
    "ExportUnavailable",
    "export_table",
    "parquet_available",
    "table_csv",
    "table_parquet",
]
