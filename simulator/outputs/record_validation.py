"""Result records read back from JSON are checked before any output uses them.

A record written by ``trackloss run --json`` may have been edited, truncated or produced by
another tool. :func:`validate_record` checks the types of everything the outputs read (rows,
counts, shares, intervals, causes, bias, value, attribution, KPIs, comparisons, rows per
replication) and raises :class:`InvalidRecord` with one line naming the field and the value,
as scenario files are checked, instead of letting a plot or table fail deep inside with a
``TypeError``.
:func:`read_record` reads a file and validates it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

NUMBER_FIELDS = (
    "truth", "received", "loss", "duplicates", "bots", "delivered", "pending", "anonymous",
    "net_error", "delivered_with_context",
)  # fmt: skip
"""Per-row counts and shares: a number, or null where it does not apply."""
TEXT_FIELDS = ("plan", "event")
"""Per-row names every output shows."""


class InvalidRecord(ValueError):
    """A result record that outputs cannot read; the message is one line naming the field."""


def _kind(value: Any) -> str:
    """The JSON name of a value's type, with a short quote of it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        text = value if len(value) <= 30 else value[:27] + "..."
        return f"text {json.dumps(text)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(where: str, value: Any) -> None:
    if value is not None and not _is_number(value):
        raise InvalidRecord(f"{where}: expected a number or null, got {_kind(value)}")


def _text(where: str, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidRecord(f"{where}: expected text, got {_kind(value)}")


def _interval(where: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidRecord(f"{where}: expected [low, high] or null, got {_kind(value)}")
    for i, bound in enumerate(value):
        _number(f"{where}[{i}]", bound)


def _mapping(where: str, value: Any, optional: bool = True) -> dict:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        wanted = "an object or null" if optional else "an object"
        raise InvalidRecord(f"{where}: expected {wanted}, got {_kind(value)}")
    return value


def _list(where: str, value: Any, optional: bool = True) -> list:
    if value is None and optional:
        return []
    if not isinstance(value, list):
        raise InvalidRecord(f"{where}: expected a list, got {_kind(value)}")
    return value


def _shares(where: str, shares: Any) -> None:
    for category, share in _mapping(where, shares).items():
        share = _mapping(f"{where}.{category}", share, optional=False)
        for key in ("truth", "received", "diff"):
            _number(f"{where}.{category}.{key}", share.get(key))
        _interval(f"{where}.{category}.diff_ci", share.get("diff_ci"))


def _row(where: str, row: Any) -> None:
    row = _mapping(where, row, optional=False)
    for key in TEXT_FIELDS:
        if key not in row:
            raise InvalidRecord(f"{where}: lacks {key!r}")
        _text(f"{where}.{key}", row[key])
    if "path" in row:
        _text(f"{where}.path", row["path"])
    for key in NUMBER_FIELDS:
        _number(f"{where}.{key}", row.get(key))
    _interval(f"{where}.loss_ci", row.get("loss_ci"))
    if "causes" in row and not isinstance(row["causes"], dict):
        raise InvalidRecord(f"{where}.causes: expected an object of cause shares, got "
                            f"{_kind(row['causes'])}")  # fmt: skip
    for cause, share in (row.get("causes") or {}).items():
        _number(f"{where}.causes.{cause}", share)
    for dim, bias in _mapping(f"{where}.bias", row.get("bias")).items():
        bias = _mapping(f"{where}.bias.{dim}", bias, optional=False)
        _number(f"{where}.bias.{dim}.tvd", bias.get("tvd"))
        _number(f"{where}.bias.{dim}.p_value", bias.get("p_value"))
        _interval(f"{where}.bias.{dim}.tvd_ci", bias.get("tvd_ci"))
        _shares(f"{where}.bias.{dim}.shares", bias.get("shares"))
    for key, number in _mapping(f"{where}.value", row.get("value")).items():
        check = _interval if key.endswith("_ci") else _number
        check(f"{where}.value.{key}", number)
    attribution = _mapping(f"{where}.attribution", row.get("attribution"))
    if attribution:
        _number(f"{where}.attribution.unattributed", attribution.get("unattributed"))
        _interval(f"{where}.attribution.unattributed_ci", attribution.get("unattributed_ci"))
        _shares(f"{where}.attribution.channels", attribution.get("channels"))


def _entries(where: str, entries: Any, texts: tuple[str, ...], check: Callable) -> None:
    for i, entry in enumerate(_list(where, entries)):
        entry = _mapping(f"{where}[{i}]", entry, optional=False)
        for key in texts:
            _text(f"{where}[{i}].{key}", entry.get(key))
        check(f"{where}[{i}]", entry)


def _kpi(where: str, kpi: dict) -> None:
    for key in ("truth", "observed", "relative_bias"):
        _number(f"{where}.{key}", kpi.get(key))
    _interval(f"{where}.relative_bias_ci", kpi.get("relative_bias_ci"))


def _comparison(where: str, comparison: dict) -> None:
    for key in ("loss_a", "loss_b", "loss_diff", "p_value"):
        _number(f"{where}.{key}", comparison.get(key))
    _interval(f"{where}.loss_diff_ci", comparison.get("loss_diff_ci"))


def _replication(where: str, row: dict) -> None:
    replication = row.get("replication")
    if not isinstance(replication, int) or isinstance(replication, bool) or replication < 1:
        raise InvalidRecord(f"{where}.replication: expected a whole number from 1, got "
                            f"{_kind(replication)}")  # fmt: skip
    for key in ("truth", "delivered", "received", "duplicates", "bots", "pending", "loss",
                "value_loss"):  # fmt: skip
        _number(f"{where}.{key}", row.get(key))


def validate_record(record: Any) -> dict:
    """Check that ``record`` is a result record every output can read.

    Parameters
    ----------
    record : object
        What was read from JSON.

    Returns
    -------
    dict
        ``record`` itself, unchanged.

    Raises
    ------
    InvalidRecord
        On the first field of the wrong type, naming it (``results[2].loss``) and the value.
    """
    if not isinstance(record, dict):
        raise InvalidRecord(f"expected a result record (a JSON object), got {_kind(record)}")
    rows = record.get("results")
    if not isinstance(rows, list) or not rows:
        raise InvalidRecord("not a result record: no 'results' list (write one with run --json)")
    for key in ("scenario", "run"):
        _mapping(key, record.get(key))
    for i, row in enumerate(rows):
        _row(f"results[{i}]", row)
    _entries("kpis", record.get("kpis"), ("plan", "name"), _kpi)
    _entries("comparisons", record.get("comparisons"), ("event", "plan_a", "plan_b"), _comparison)
    _entries("per_replication", record.get("per_replication"), TEXT_FIELDS, _replication)
    return record


def read_record(path: str | Path) -> dict:
    """Read and validate a result record written by ``trackloss run --json``.

    Parameters
    ----------
    path : str or pathlib.Path
        The JSON file.

    Returns
    -------
    dict
        The record.

    Raises
    ------
    InvalidRecord
        If the file is missing, unreadable, not JSON or not a valid record; the message starts
        with the path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidRecord(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidRecord(f"{path}: is a folder, expected a result JSON file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidRecord(f"{path}: cannot read: {error}") from None
    try:
        record = json.loads(text, parse_constant=lambda name: math.nan)
    except json.JSONDecodeError as error:
        raise InvalidRecord(
            f"{path}: not JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    try:
        return validate_record(record)
    except InvalidRecord as error:
        raise InvalidRecord(f"{path}: {error}") from None


__all__ = ["InvalidRecord", "read_record", "validate_record"]
