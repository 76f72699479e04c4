"""Terminal report of a run: how much of each event type each tracking plan loses, and why.

:func:`format_summary` reads the summary dict that :func:`simulator.stats.summary.summarise` returns
(the same dict ``trackloss run --json`` writes) and lays it out as plain, aligned columns, one
block per plan. It reads these keys and nothing else:

- ``scenario``: ``name``, ``seed``, ``replications``;
- ``run`` (optional): ``users``, ``visits`` (sessions) and ``events``, means per replication;
  missing entries are left out;
- ``interval_method`` (optional): how the 95% intervals were computed;
- ``results``: a list of rows with ``plan``, ``event``, ``path``, ``truth``, ``received``,
  ``loss`` and ``loss_ci`` (fractions of truth), ``causes`` (cause -> fraction of truth),
  ``duplicates``, ``bots`` and ``value`` (``None``, or ``truth``, ``received``, ``loss``,
  ``loss_ci``).

When ``scenario.config`` is present the header states whether each plan respects visitors'
blocker choice, and a plan that does gets a second table splitting its losses into faults and
events withheld by choice (:mod:`simulator.outputs.opt_out`).

Counts are means per replication, so they may be fractional; a column shows one decimal only
when some count in the run is fractional, so digits line up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from simulator.outputs import opt_out as choice
from simulator.outputs.formatting import count, finite, interval, p_value, percent, plural, share

TOP_CAUSES = 2
"""How many loss causes each row names."""

_COLUMNS = ("event", "path", "truth", "received", "loss %", "95% CI", "top causes", "dups", "bots")
_RIGHT = {"truth", "received", "loss %", "dups", "bots"}

OVER_COUNT_NOTE = (
    "received = truth - lost + dups + bots: duplicates and bot events arrive on top of what "
    "happened, so received can exceed truth."
)
"""Said under the tables when some event is received more often than it happened."""


def format_summary(summary: Mapping[str, Any]) -> str:
    """Format a run summary as a compact terminal table.

    Parameters
    ----------
    summary : mapping
        The dict returned by :func:`simulator.stats.summary.summarise` (see the module docstring
        for the keys read).

    Returns
    -------
    str
        A header saying what was simulated, then per plan one row per event type: true count,
        received count, loss in percent with its 95% interval, the top causes of loss (as
        shares of the true count), duplicates and bot events kept. Events that carry a value
        (revenue) get a second row for it. No trailing newline.
    """
    rows_by_plan: dict[str, list[Mapping[str, Any]]] = {}
    for row in summary.get("results", []):
        rows_by_plan.setdefault(str(row.get("plan", "?")), []).append(row)
    results = [r for rows in rows_by_plan.values() for r in rows]
    counts = _decimals(
        r.get(k) for r in results for k in ("truth", "received", "duplicates", "bots")
    )
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
    if any(_over_counted(r) for r in results):
        lines += ["", OVER_COUNT_NOTE]
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
            _kpi_value(k.get("observed")), percent(k.get("relative_bias"), unit=False),
            interval(k.get("relative_bias_ci")),
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
    return f"{x:.4g}" if finite(x) else "-"


def _header(summary: Mapping[str, Any]) -> str:
    """Say what was simulated: scenario, volume, replications, seed and interval method."""
    scenario = summary.get("scenario", {}) or {}
    run = summary.get("run", {}) or {}
    volume = [
        f"{count(run[key])} {label}"
        for key, label in (("users", "users"), ("visits", "sessions"), ("events", "events"))
        if finite(run.get(key))
    ]
    replications = scenario.get("replications")
    parts = [f"Scenario {scenario.get('name', '?')!r}"]
    if volume:
        per = " per replication" if finite(replications) and replications > 1 else ""
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
    return int(any(finite(v) and not float(v).is_integer() for v in values))


def _event_row(row: Mapping[str, Any], decimals: int) -> list[str]:
    return [
        str(row.get("event", "?")),
        str(row.get("path", "?")),
        count(row.get("truth"), decimals),
        count(row.get("received"), decimals),
        percent(row.get("loss"), unit=False),
        interval(row.get("loss_ci")),
        format_causes(row.get("causes") or {}),
        count(row.get("duplicates"), decimals),
        count(row.get("bots"), decimals),
    ]


def _over_counted(row: Mapping[str, Any]) -> bool:
    truth, received = row.get("truth"), row.get("received")
    return finite(truth) and finite(received) and received > truth


def _value_row(value: Mapping[str, Any], decimals: int) -> list[str]:
    return [
        "  value",
        "",
        count(value.get("truth"), decimals),
        count(value.get("received"), decimals),
        percent(value.get("loss"), unit=False),
        interval(value.get("loss_ci")),
        "",
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
        ((lost, name) for name, lost in causes.items() if finite(lost) and lost > 0),
        key=lambda item: (-item[0], item[1]),
    )
    if not ranked:
        return "-"
    return ", ".join(f"{name} {share(lost)}" for lost, name in ranked[:top])


def format_comparison(record: dict) -> str:
    """Terminal table of a comparison of two runs: loss and KPI differences, b minus a.

    Parameters
    ----------
    record : dict
        The dict returned by :func:`simulator.stats.comparison.compare_runs`.

    Returns
    -------
    str
        A header naming both scenarios and the method, then one line per plan and event type
        and one per plan and KPI. Percentages are points of loss (or of relative bias).
    """
    a, b = record["scenario_a"], record["scenario_b"]
    lines = [
        f"Compare {a['name']!r} (a) with {b['name']!r} (b): seed {a['seed']}, "
        f"{plural(a['replications'], 'replication')} each",
        f"Intervals: {record['method']}",
    ]
    if record["unmatched"]["plans"] or record["unmatched"]["events"]:
        left = record["unmatched"]["plans"] + record["unmatched"]["events"]
        lines.append(f"In one scenario only (left out): {', '.join(left)}")
    table = [("plan", "event", "loss a %", "loss b %", "b - a", "95% CI", "p")]
    for r in record["events"]:
        table.append(
            (r["plan"], r["event"], _percent_cell(r["loss_a"]), _percent_cell(r["loss_b"]),
             _percent_cell(r["loss_diff"]), interval(r["loss_diff_ci"]), p_value(r["p_value"]))
        )  # fmt: skip
    kpis = [("plan", "KPI", "bias a %", "bias b %", "b - a", "95% CI", "p")]
    for r in record["kpis"]:
        kpis.append(
            (r["plan"], r["name"], _percent_cell(r["relative_bias_a"]),
             _percent_cell(r["relative_bias_b"]),
             _percent_cell(r["relative_bias_diff"]), interval(r["relative_bias_diff_ci"]),
             p_value(r["relative_bias_p_value"]))
        )  # fmt: skip
    for title, rows in (("Loss by event type", table), ("KPI relative bias", kpis)):
        if len(rows) == 1:
            continue
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines += ["", title]
        for row in rows:
            cells = [
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


def _percent_cell(x: Any) -> str:
    return percent(x, unit=False)


__all__ = [
    "format_comparison",
    "TOP_CAUSES",
    "format_causes",
    "format_summary",
]
