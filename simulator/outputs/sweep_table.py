"""A sweep as a terminal table: a row per point and plan, loss % per event type."""

from __future__ import annotations

import shutil
from typing import Any

from simulator.experiments.grid import leaf
from simulator.experiments.sweep_points import SweepReport, error_text
from simulator.outputs.formatting import percent


def format_table(report: SweepReport, width: int | None = None) -> str:
    """The loss table for the terminal: a row per point and plan, loss % per event type.

    Parameters
    ----------
    report : SweepReport
        The sweep's records.
    width : int, optional
        Characters per line (default: the terminal's width, or 100 when not a terminal). When
        the event columns do not fit, they continue in further blocks below, each repeating
        the point, the varied values and the plan.

    Returns
    -------
    str
        A header line, the table, and one line per failed point with its error.
    """
    if width is None:
        width = shutil.get_terminal_size((100, 24)).columns
    paths = [p for a in report.axes for p in a.paths]
    ok = [r for r in report.records if r.status == "ok"]
    events: list[str] = []
    for r in ok:
        for row in r.data["results"]:
            if row["event"] not in events:
                events.append(row["event"])
    heads = ["#", *(_label(p, paths) for p in paths), "plan", *events]
    lines: list[list[str]] = []
    failures = []
    for r in sorted(report.records, key=lambda r: r.point.index):
        values = [str(r.point.index), *(_text(r.point.values[p]) for p in paths)]
        if r.status != "ok":
            failures.append(f"point {r.point.index} ({r.name}): {error_text(r)}")
            lines.append([*values, "FAILED", *("" for _ in events)])
            continue
        by_plan: dict[str, dict[str, str]] = {}
        for row in r.data["results"]:
            by_plan.setdefault(row["plan"], {})[row["event"]] = percent(row["loss"], unit=False)
        for k, (plan, losses) in enumerate(by_plan.items()):
            lead = values if k == 0 else ["" for _ in values]
            lines.append([*lead, plan, *(losses.get(e, "") for e in events)])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(heads)]
    lead = len(heads) - len(events)

    def fmt(cells: list[str], columns: list[int]) -> str:
        out = [
            cells[i].ljust(widths[i]) if i < lead else cells[i].rjust(widths[i]) for i in columns
        ]
        return "  ".join(out).rstrip()

    title = (
        f"Sweep of {report.scenario_name!r}: {len(report.records)} points, "
        f"{len(report.failed)} failed; loss % of true events per plan\nFiles in {report.out_dir}"
    )
    out = [title]
    for k, block in enumerate(_blocks(widths, lead, width)):
        columns = [*range(lead), *block]
        out += [""] if k else []
        out += [fmt(heads, columns), *(fmt(line, columns) for line in lines)]
    return "\n".join([*out, *failures])


def _blocks(widths: list[int], lead: int, width: int) -> list[list[int]]:
    """Event columns in groups that fit ``width`` beside the leading columns (at least one)."""
    used = sum(widths[:lead]) + 2 * lead
    blocks: list[list[int]] = [[]]
    line = used
    for i in range(lead, len(widths)):
        if blocks[-1] and line + widths[i] > width:
            blocks.append([])
            line = used
        blocks[-1].append(i)
        line += widths[i] + 2
    return blocks


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _label(path: str, paths: list[str]) -> str:
    """The last component of a path, or the whole path when that would be ambiguous."""
    short = leaf(path)
    return path if sum(leaf(p) == short for p in paths) > 1 else short


__all__ = ["format_table"]
