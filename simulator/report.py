"""Terminal report of a run: how much of each event type each tracking plan loses, and why.

:func:`format_summary` reads the summary dict that :func:`simulator.results.summarise` returns
(the same dict ``trackloss run --json`` writes) and lays it out as plain, aligned columns, one
block per plan. It reads these keys and nothing else:

- ``scenario``: ``name``, ``seed``, ``replications``;
- ``run`` (optional): ``users``, ``visits`` (sessions) and ``events``, means per replication;
  missing entries are left out;
- ``interval_method`` (optional): how the 95% intervals were computed;
- ``results``: a list of rows with ``plan``, ``event``, ``path``, ``truth``, ``received``,
  ``loss`` and ``loss_ci`` (fractions of truth), ``causes`` (cause -> fraction of truth),
  ``duplicates`` and ``value`` (``None``, or ``truth``, ``received``, ``loss``, ``loss_ci``).

When ``scenario.config`` is present the header states whether each plan respects visitors'
blocker choice, and a plan that does gets a second table splitting its losses into faults and
events withheld by choice (:mod:`simulator.choice`).

Counts are means per replication, so they may be fractional; a column shows one decimal only
when some count in the run is fractional, so digits line up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from simulator import choice

TOP_CAUSES = 2
"""How many loss causes each row names."""

_COLUMNS = ("event", "path", "truth", "received", "loss %", "95% CI", "top causes", "dups")
_RIGHT = {"truth", "received", "loss %", "dups"}


def format_summary(summary: Mapping[str, Any]) -> str:
    """Format a run summary as a compact terminal table.

    Parameters
    ----------
    summary : mapping
        The dict returned by :func:`simulator.results.summarise` (see the module docstring
        for the keys read).

    Returns
    -------
    str
        A header saying what was simulated, then per plan one row per event type: true count,
        received count, loss in percent with its 95% interval, the top causes of loss (as
        shares of the true count) and duplicates. Events that carry a value (revenue) get a
        second row for it. No trailing newline.
    """
    rows_by_plan: dict[str, list[Mapping[str, Any]]] = {}
    for row in summary.get("results", []):
        rows_by_plan.setdefault(str(row.get("plan", "?")), []).append(row)
    results = [r for rows in rows_by_plan.values() for r in rows]
    counts = _decimals(r.get(k) for r in results for k in ("truth", "received", "duplicates"))
    money = _decimals(
        r["value"].get(k) for r in results if r.get("value") for k in ("truth", "received")
    )
    tables: dict[str, list[Sequence[str]]] = {}
    for plan, rows in rows_by_plan.items():
        table: list[Sequence[str]] = [_COLUMNS]
        for row in rows:
            table.append(_event_row(row, counts))
            if row.get("value"):
                table.append(_value_row(row["value"], money))
        tables[plan] = table
    # One set of column widths for every plan, so plans line up and compare at a glance.
    widths = [
        max([len(_COLUMNS[i])] + [len(row[i]) for t in tables.values() for row in t])
        for i in range(len(_COLUMNS))
    ]
    lines = [_header(summary), *choice.mode_lines(summary)]
    if not tables:
        lines += ["", "No results."]
    for plan, table in tables.items():
        lines += ["", f"Plan {plan}"]
        lines += ["  " + line for line in _align(table, widths)]
        lines += choice.plan_lines(summary, plan, rows_by_plan[plan])
    lines += _kpi_lines(summary.get("kpis") or [])
    return "\n".join(lines)


def _kpi_lines(kpis: Sequence[Mapping[str, Any]]) -> list[str]:
    """KPIs computed from received data against the truth, one line per plan and KPI."""
    if not kpis:
        return []
    table = [("plan", "kpi", "truth", "observed", "bias %", "95% CI")]
    for k in kpis:
        table.append((
            str(k.get("plan", "?")), str(k.get("name", "?")), _kpi_value(k.get("truth")),
            _kpi_value(k.get("observed")), format_percent(k.get("relative_bias")),
            format_interval(k.get("relative_bias_ci")),
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    out = ["", "KPIs from received data vs the truth (relative bias; + means over-stated)"]
    for row in table:
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def _kpi_value(x: Any) -> str:
    if not _is_number(x) or not math.isfinite(x):
        return "-"
    return f"{x:.4g}"


def _header(summary: Mapping[str, Any]) -> str:
    """Say what was simulated: scenario, volume, replications, seed and interval method."""
    scenario = summary.get("scenario", {}) or {}
    run = summary.get("run", {}) or {}
    volume = [
        f"{format_count(run[key])} {label}"
        for key, label in (("users", "users"), ("visits", "sessions"), ("events", "events"))
        if _is_number(run.get(key))
    ]
    replications = scenario.get("replications")
    parts = [f"Scenario {scenario.get('name', '?')!r}"]
    if volume:
        per = " per replication" if _is_number(replications) and replications > 1 else ""
        parts.append(", ".join(volume) + per)
    if replications is not None:
        parts.append(f"{replications} replication{'' if replications == 1 else 's'}")
    parts.append(f"seed {scenario.get('seed', '?')}")
    header = ": ".join(parts[:2]) + "".join(f"; {p}" for p in parts[2:])
    if summary.get("interval_method"):
        header += f"\nIntervals: {summary['interval_method']}"
    return header


def _decimals(values: Iterable[Any]) -> int:
    """One decimal if any of ``values`` is fractional, else none."""
    return int(any(_is_number(v) and not float(v).is_integer() for v in values))


def _event_row(row: Mapping[str, Any], decimals: int) -> list[str]:
    return [
        str(row.get("event", "?")),
        str(row.get("path", "?")),
        format_count(row.get("truth"), decimals),
        format_count(row.get("received"), decimals),
        format_percent(row.get("loss")),
        format_interval(row.get("loss_ci")),
        format_causes(row.get("causes") or {}),
        format_count(row.get("duplicates"), decimals),
    ]


def _value_row(value: Mapping[str, Any], decimals: int) -> list[str]:
    return [
        "  value",
        "",
        format_count(value.get("truth"), decimals),
        format_count(value.get("received"), decimals),
        format_percent(value.get("loss")),
        format_interval(value.get("loss_ci")),
        "",
        "",
    ]


def _align(table: Sequence[Sequence[str]], widths: Sequence[int]) -> list[str]:
    """Pad cells into columns: numbers right-aligned, text left-aligned."""
    out = []
    for row in table:
        cells = [
            cell.rjust(width) if name in _RIGHT else cell.ljust(width)
            for cell, width, name in zip(row, widths, _COLUMNS, strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    return out


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def format_count(x: Any, decimals: int | None = None) -> str:
    """Format a count (or a mean count) with thousands separators; ``-`` when unknown.

    Parameters
    ----------
    x : float or int or None
        The count.
    decimals : int, optional
        Digits after the point; by default none for whole numbers and one otherwise.

    Returns
    -------
    str
        For example ``"12,345"`` or ``"8,738.3"``.
    """
    if not _is_number(x) or not math.isfinite(x):
        return "-" if x is None else str(x)
    if decimals is None:
        decimals = _decimals([x])
    return f"{x:,.{decimals}f}"


def format_percent(fraction: Any) -> str:
    """Format a fraction as a percentage with one decimal (``0.181`` -> ``18.1``)."""
    if not _is_number(fraction) or not math.isfinite(fraction):
        return "-"
    return f"{round(100 * fraction, 1) + 0.0:.1f}"  # + 0.0 turns -0.0 into 0.0


def format_interval(ci: Any) -> str:
    """Format a ``[low, high]`` pair of fractions as ``[17.9, 18.5]`` (percent)."""
    if not isinstance(ci, Sequence) or len(ci) != 2 or not all(_is_number(v) for v in ci):
        return "-"
    return f"[{format_percent(ci[0])}, {format_percent(ci[1])}]"


def format_causes(causes: Mapping[str, Any], top: int = TOP_CAUSES) -> str:
    """Name the ``top`` largest loss causes with their share of the true count.

    Parameters
    ----------
    causes : mapping of str to float
        Cause -> fraction of the true count lost to it.
    top : int, optional
        How many causes to name.

    Returns
    -------
    str
        For example ``"blocked 18.1%, unload 2.3%"``; ``"-"`` when nothing was lost.
    """
    ranked = sorted(
        ((share, name) for name, share in causes.items() if _is_number(share) and share > 0),
        key=lambda item: (-item[0], item[1]),
    )
    if not ranked:
        return "-"
    return ", ".join(f"{name} {_share(share)}" for share, name in ranked[:top])


def _share(fraction: float) -> str:
    """A positive share as a percentage; ``<0.1%`` rather than a misleading ``0.0%``."""
    return "<0.1%" if fraction < 0.0005 else f"{format_percent(fraction)}%"


__all__ = [
    "TOP_CAUSES",
    "format_causes",
    "format_count",
    "format_interval",
    "format_percent",
    "format_summary",
]
