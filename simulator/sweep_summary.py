"""The summary of a sweep: loss per point x plan x event, as tidy CSV and as a terminal table.

The CSV is long (one row per point, plan and event type, with the varied values as columns), the
shape pandas and spreadsheets pivot easily; a failed point is one row with its error. The
terminal table is the same numbers pivoted: a row per point and plan, a column per event type.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from simulator.grid import leaf
from simulator.sweep import PointRecord, SweepReport

FIELDS = ("point", "status", "plan", "event", "path", "truth", "loss", "loss_lo", "loss_hi")


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | dict):
        return str(value)
    return value


def _error_text(record: PointRecord) -> str:
    error = (record.data or {}).get("error", {})
    problems = error.get("problems")
    return "; ".join(problems) if problems else f"{error.get('type')}: {error.get('message')}"


def summary_rows(report: SweepReport) -> list[dict[str, Any]]:
    """One dict per point x plan x event (or per failed point), ordered by point index.

    Parameters
    ----------
    report : SweepReport
        The sweep's records.

    Returns
    -------
    list of dict
        Keys: ``point``, the varied paths, ``status``, ``plan``, ``event``, ``path``, ``truth``,
        ``loss``, ``loss_lo``, ``loss_hi`` and ``error``.
    """
    paths = [p for a in report.axes for p in a.paths]
    rows = []
    for r in sorted(report.records, key=lambda r: r.point.index):
        head = {"point": r.point.index, **{p: r.point.values[p] for p in paths}}
        if r.status != "ok":
            error = _error_text(r) if r.status == "error" else "not run"
            rows.append({**head, "status": r.status, "error": error})
            continue
        for row in r.data["results"]:
            ci = row.get("loss_ci") or [None, None]
            rows.append(
                {
                    **head,
                    "status": "ok",
                    "plan": row["plan"],
                    "event": row["event"],
                    "path": row["path"],
                    "truth": row["truth"],
                    "loss": row["loss"],
                    "loss_lo": ci[0],
                    "loss_hi": ci[1],
                    "error": "",
                }
            )
    return rows


def summary_csv(report: SweepReport) -> str:
    """The summary rows as CSV text (floats written exactly, so the file is reproducible)."""
    paths = [p for a in report.axes for p in a.paths]
    columns = ["point", *paths, *FIELDS[1:], "error"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    for row in summary_rows(report):
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue()


def _label(path: str, paths: list[str]) -> str:
    """The last component of a path, or the whole path when that would be ambiguous."""
    short = leaf(path)
    return path if sum(leaf(p) == short for p in paths) > 1 else short


def _percent(loss: float | None) -> str:
    return "-" if loss is None else f"{100 * loss:.1f}"


def format_table(report: SweepReport) -> str:
    """The loss table for the terminal: a row per point and plan, loss % per event type.

    Parameters
    ----------
    report : SweepReport
        The sweep's records.

    Returns
    -------
    str
        A header line, the table, and one line per failed point with its error.
    """
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
            failures.append(f"point {r.point.index} ({r.name}): {_error_text(r)}")
            lines.append([*values, "FAILED", *("" for _ in events)])
            continue
        by_plan: dict[str, dict[str, str]] = {}
        for row in r.data["results"]:
            by_plan.setdefault(row["plan"], {})[row["event"]] = _percent(row["loss"])
        for k, (plan, losses) in enumerate(by_plan.items()):
            lead = values if k == 0 else ["" for _ in values]
            lines.append([*lead, plan, *(losses.get(e, "") for e in events)])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(heads)]
    numeric = len(heads) - len(events)

    def fmt(cells: list[str]) -> str:
        out = [
            c.ljust(w) if i < numeric else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    title = (
        f"Sweep of {report.scenario_name!r}: {len(report.records)} points, "
        f"{len(report.failed)} failed; loss % of true events per plan (files in {report.out_dir})"
    )
    return "\n".join([title, fmt(heads), *(fmt(line) for line in lines), *failures])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


__all__ = ["format_table", "summary_csv", "summary_rows"]
