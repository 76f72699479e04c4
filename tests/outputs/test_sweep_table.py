"""The sweep's terminal table fits the terminal: event columns wrap into further blocks."""

from __future__ import annotations

from pathlib import Path

from simulator.experiments.grid import Axis, Point
from simulator.experiments.sweep_points import PointRecord, SweepReport
from simulator.outputs.sweep_table import format_table

EVENTS = [f"event_with_a_long_name_{i}" for i in range(12)]
PATH = "population.segments[0].blockers.extension_privacy"


def report() -> SweepReport:
    values = [0.0, 0.3, 0.6]
    axis = Axis((PATH,), tuple((v,) for v in values), tuple((str(v),) for v in values))
    records = []
    for i, v in enumerate(values):
        rows = [{"plan": plan, "event": e, "path": plan, "truth": 10.0, "loss": v / 2}
                for plan in ("client", "server") for e in EVENTS]  # fmt: skip
        records.append(PointRecord(Point(i, (), {PATH: v}), f"p{i}", "k", "ok", {"results": rows}))
    return SweepReport(Path("out"), [axis], records, "wide")


def test_every_line_fits_and_every_event_is_shown_once_per_block():
    for width in (60, 80, 120):
        text = format_table(report(), width=width)
        lines = text.splitlines()
        assert all(len(line) <= width for line in lines[2:]), width
        heads = [line.split() for line in lines if line.startswith("#")]
        shown = [e for head in heads for e in head if e.startswith("event_")]
        assert shown == EVENTS  # each event once, in order, across the blocks
        assert all(head[:3] == ["#", "extension_privacy", "plan"] for head in heads)
        rows = [line for line in lines if line.split()[:1] == ["0"]]
        assert len(rows) == len(heads)  # the point is named again in every block


def test_a_wide_terminal_keeps_one_block():
    text = format_table(report(), width=1000)
    assert sum(line.startswith("#") for line in text.splitlines()) == 1
