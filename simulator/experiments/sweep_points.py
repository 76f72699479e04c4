"""A sweep's points: what became of each, and their loss per point x plan x event as tidy CSV.

The CSV is long (one row per point, plan and event type, with the varied values as columns), the
shape pandas and spreadsheets pivot easily; a failed point is one row with its error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.config.scenario import Scenario
from simulator.experiments.grid import Axis, Point
from simulator.replications.runner import Task


@dataclass
class PointRecord:
    """One grid point and what became of it."""

    point: Point
    name: str
    key: str
    status: str = "pending"  # "ok", "error" (recorded), or "pending"
    data: dict | None = None
    scenario: Scenario | None = None  # with the run's replications and seed
    tasks: list[Task] = field(default_factory=list)


@dataclass
class SweepReport:
    """A finished (or resumed) sweep: every point's record and the folder holding the files."""

    out_dir: Path
    axes: list[Axis]
    records: list[PointRecord]
    scenario_name: str

    @property
    def failed(self) -> list[PointRecord]:
        """Points recorded with an error."""
        return [r for r in self.records if r.status == "error"]


FIELDS = ("point", "status", "plan", "event", "path", "truth", "loss", "loss_lo", "loss_hi")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell starting with one of these as a formula (CSV injection)."""


def csv_cell(value: Any) -> str:
    """A value as one CSV field: numbers to 12 significant digits, text safe and quoted.

    Twelve digits drop binary noise (``0.03970000000000001`` becomes ``0.0397``) and still
    give the same text for the same result. Text that a spreadsheet would run as a formula
    gets a leading apostrophe (``'=HYPERLINK(...)``), which spreadsheets show but do not run.
    Text holding a comma, quote, line feed or carriage return is quoted (RFC 4180), so it
    never splits a row.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format(value, ".12g")
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    if any(c in text for c in ',"\n\r') or text != text.strip():
        text = '"' + text.replace('"', '""') + '"'
    return text


def error_text(record: PointRecord) -> str:
    """What went wrong at a failed point, in one line."""
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
            error = error_text(r) if r.status == "error" else "not run"
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
    """The summary rows as CSV text (see :func:`csv_cell`; the same sweep gives the same bytes)."""
    paths = [p for a in report.axes for p in a.paths]
    columns = ["point", *paths, *FIELDS[1:], "error"]
    lines = [",".join(csv_cell(c) for c in columns)]
    for row in summary_rows(report):
        lines.append(",".join(csv_cell(row.get(c, "")) for c in columns))
    return "\n".join(lines) + "\n"


__all__ = [
    "FORMULA_STARTS",
    "PointRecord",
    "SweepReport",
    "csv_cell",
    "error_text",
    "summary_csv",
    "summary_rows",
]
