"""Reading result records (the JSON of :func:`simulator.stats.summary.summarise`) for plots.

Plots take the record as a plain dict, so they work on a fresh run and on a JSON file read back
from disk alike. These helpers look rows up, check that a record has what a plot needs, and turn
bad input (a missing key, an unknown event name) into a :class:`RecordError` whose message is
one line naming what was wrong and what is allowed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any


class RecordError(ValueError):
    """A result record (or a request about it) that a plot cannot use; the message is one line."""


def load_record(path: str | Path) -> dict:
    """Read a result record written by ``trackloss run --json``.

    Parameters
    ----------
    path : str or pathlib.Path
        The JSON file.

    Returns
    -------
    dict
        The record, checked by :func:`check_record`.

    Raises
    ------
    RecordError
        If the file is missing, is not JSON, or is not a result record.
    """
    return read_record(path, check_record)


def read_record(path: str | Path, check: Callable[[Any], None]) -> Any:
    """Read a JSON file and check it with ``check`` (which raises :class:`RecordError`).

    Parameters
    ----------
    path : str or pathlib.Path
        The JSON file.
    check : callable
        Raises :class:`RecordError` when the JSON is not the record expected.

    Returns
    -------
    Any
        The JSON, checked.

    Raises
    ------
    RecordError
        One line naming the file and what is wrong with it.
    """
    path = Path(path)
    if path.is_dir():
        raise RecordError(f"{path}: is a folder, expected a result JSON file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RecordError(f"{path}: cannot read: {error}") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError(
            f"{path}: not JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    try:
        check(record)
    except RecordError as error:
        raise RecordError(f"{path}: {error}") from None
    return record


def check_record(record: Any) -> None:
    """Raise :class:`RecordError` unless ``record`` looks like a result record.

    A record is a dict with a non-empty ``results`` list whose rows each have ``plan``,
    ``event``, ``truth``, ``loss``, ``loss_ci`` and ``causes``.
    """
    if not isinstance(record, dict):
        raise RecordError(f"expected a result record (a JSON object), got {type(record).__name__}")
    check_rows(
        record.get("results"), "results", ("plan", "event", "truth", "loss", "loss_ci", "causes"),
        "not a result record: no 'results' list (write one with run --json)",
    )  # fmt: skip


def check_rows(rows: Any, where: str, needed: tuple[str, ...], absent: str) -> None:
    """Raise :class:`RecordError` unless ``rows`` is a non-empty list of dicts with ``needed``.

    Parameters
    ----------
    rows : Any
        The list read back from a record.
    where : str
        Its path in the record, for the message (``"results"``).
    needed : tuple of str
        Keys every row must have.
    absent : str
        The message when there is no such list, or it is empty.
    """
    if not isinstance(rows, list) or not rows:
        raise RecordError(absent)
    for i, row in enumerate(rows):
        missing = [k for k in needed if not isinstance(row, dict) or k not in row]
        if missing:
            raise RecordError(f"{where}[{i}] lacks {', '.join(missing)}")


def side_by_side(record: dict, others: list[tuple[str, dict]]) -> dict:
    """One record holding the rows of ``record`` and of each other record, for one plot.

    An estimate from a site's logs (``trackloss estimate --json``) has a run's rows under the
    plan ``estimate``, so it can be drawn beside a simulated run. A plan name already taken
    gets the other record's label in brackets.

    Parameters
    ----------
    record : dict
        The first result record (its scenario names the plot).
    others : list of (str, dict)
        Each further record with a label (its file name).

    Returns
    -------
    dict
        A new record: ``record``'s keys, with ``results`` and ``kpis`` joined.
    """
    merged = {**record, "results": list(record["results"]), "kpis": list(record.get("kpis") or [])}
    for label, other in others:
        taken = set(plans_of(merged))
        rename = {p: f"{p} ({label})" if p in taken else p for p in plans_of(other)}
        merged["results"] += [{**r, "plan": rename[r["plan"]]} for r in other["results"]]
        merged["kpis"] += [
            {**k, "plan": rename.get(k.get("plan"), k.get("plan"))} for k in other.get("kpis") or []
        ]
    return merged


def plans_of(record: dict) -> list[str]:
    """Plan names in the order the scenario declares them."""
    return _unique(row["plan"] for row in record["results"])


def events_of(record: dict) -> list[str]:
    """Event type names in the order the scenario declares them."""
    return _unique(row["event"] for row in record["results"])


def _unique(names) -> list[str]:
    return list(dict.fromkeys(names))


def choose(given: str | None, allowed: list[str], what: str) -> str:
    """Return ``given`` if it is in ``allowed`` (or the first allowed when ``None``).

    Raises
    ------
    RecordError
        Naming the parameter, the value given and the allowed values.
    """
    if not allowed:
        raise RecordError(f"the record has no {what} to choose from")
    if given is None:
        return allowed[0]
    if given not in allowed:
        raise RecordError(f"unknown {what} {given!r} (allowed: {', '.join(allowed)})")
    return given


def select(given: list[str] | None, allowed: list[str], what: str) -> list[str]:
    """Check a list of names against ``allowed``; ``None`` means all of them."""
    if given is None:
        return list(allowed)
    for name in given:
        choose(name, allowed, what)
    return list(given)


def row_of(record: dict, plan: str, event: str) -> dict:
    """The result row of one plan and event type."""
    for row in record["results"]:
        if row["plan"] == plan and row["event"] == event:
            return row
    raise RecordError(f"no result row for plan {plan!r} and event {event!r}")


def has_bias(record: dict) -> bool:
    """Whether the record carries composition bias."""
    return any(row.get("bias") for row in record["results"])


def dimensions_of(record: dict, event: str | None = None) -> list[str]:
    """Dimensions with composition bias in the record (for one event type if given)."""
    dims: list[str] = []
    for row in record["results"]:
        if event is None or row["event"] == event:
            dims.extend((row.get("bias") or {}).keys())
    return _unique(dims)


def kpi_rows(record: dict) -> list[dict]:
    """The record's KPI rows, or an empty list."""
    return list(record.get("kpis") or [])


FOCUS_SKIPS = ("blocker", "segment")
"""Dimensions :func:`default_focus` passes over when others have bias: blocker kind is the
cause of client loss rather than a bias a reader acts on, and segments repeat device and
browser."""


def default_focus(
    record: dict, event: str | None = None, dimension: str | None = None
) -> tuple[str, str]:
    """The event type and dimension with the clearest composition bias.

    Clearest means: significant (the independence test's p-value below 0.05) before not, then
    the largest lower bound of the total variation distance's interval over every plan, so that
    a noisy small event type does not win on its point estimate alone. Dimensions in
    :data:`FOCUS_SKIPS` are chosen only when no other has bias or when asked for.

    Parameters
    ----------
    record : dict
        A result record with composition bias.
    event, dimension : str, optional
        Look only at this event type, or only at this dimension.

    Returns
    -------
    tuple of str
        ``(event, dimension)``.

    Raises
    ------
    RecordError
        If the record has no composition bias.
    """
    best: tuple[int, int, float, float, str, str] | None = None
    for row in record["results"]:
        if event is not None and row["event"] != event:
            continue
        for dim, b in (row.get("bias") or {}).items():
            if dimension is not None and dim != dimension:
                continue
            tvd = _number(b.get("tvd"))
            ci = b.get("tvd_ci") or [tvd, tvd]
            p = b.get("p_value")
            significant = int(isinstance(p, int | float) and p < 0.05)
            key = (int(dim not in FOCUS_SKIPS), significant, _number(ci[0]), tvd, row["event"], dim)
            if best is None or key[:4] > best[:4]:
                best = key
    if best is None:
        asked = (("event", event), ("dimension", dimension))
        where = "".join(f" for {k} {v!r}" for k, v in asked if v)
        raise RecordError(f"the record has no composition bias{where}")
    return best[4], best[5]


def _number(x: Any) -> float:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else 0.0


def category_error(record: dict, plan: str, event: str, dimension: str) -> list[dict]:
    """How wrong the count of each category is under one plan: the loss within a segment.

    A category's received count is its received share times the events received; its true count
    is its true share times the true events. Their ratio minus one is the category's error, so a
    plan that loses 20% overall can lose 40% of one segment.

    Parameters
    ----------
    record : dict
        A result record with composition bias.
    plan, event, dimension : str
        What to read.

    Returns
    -------
    list of dict
        One per category: ``category``, ``truth_share``, ``received_share``, ``truth``
        (events), ``received`` (events) and ``error`` (``received / truth - 1``, ``None`` when
        the category has no true events).
    """
    row = row_of(record, plan, event)
    bias = (row.get("bias") or {}).get(dimension)
    if bias is None:
        allowed = list((row.get("bias") or {}).keys())
        raise RecordError(
            f"no composition bias for dimension {dimension!r} in {plan}/{event} "
            f"(allowed: {', '.join(allowed) or 'none'})"
        )
    out = []
    for category, s in bias["shares"].items():
        truth = s["truth"] * row["truth"]
        received = s["received"] * row["received"]
        out.append(
            {
                "category": category,
                "truth_share": s["truth"],
                "received_share": s["received"],
                "truth": truth,
                "received": received,
                "error": received / truth - 1 if truth > 0 else None,
            }
        )
    return out


def ci_errors(values: list[float], intervals: list) -> list[list[float]]:
    """Asymmetric error-bar lengths ``[[below...], [above...]]`` for ``Axes.errorbar``.

    A missing interval draws no bar (zero length on both sides).
    """
    below, above = [], []
    for v, ci in zip(values, intervals, strict=True):
        if ci is None or v is None:
            below.append(0.0)
            above.append(0.0)
        else:
            below.append(max(v - ci[0], 0.0))
            above.append(max(ci[1] - v, 0.0))
    return [below, above]
