"""Names that try to break outputs: Markdown reports and summary.csv print them as text.

A scenario, plan or event name may hold anything the scenario file can: pipes, backslashes,
carriage returns, newlines, HTML, spreadsheet formulas. Outputs must show it as written and
never let it forge structure (a heading, a table row, a script, a formula).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from simulator.experiments.grid import Axis, Point
from simulator.experiments.sweep_points import PointRecord, SweepReport, csv_cell, summary_csv
from simulator.outputs.document import build
from simulator.outputs.markup import Block, md_text, to_markdown

HOSTILE = [
    "back\\| slash",
    "carriage\rreturn",
    "new\n# Forged heading",
    "row\n| forged | table |",
    "<script>alert(1)</script>",
    "**bold** _under_ [link](http://x) `code`",
    "1. ordered",
    "- item",
    "&lt;entity&gt;",
]


def unescaped_pipes(line: str) -> int:
    """Pipes not escaped by a backslash (an odd run of backslashes escapes the next pipe)."""
    return sum(1 for m in re.finditer(r"(\\*)\|", line) if len(m.group(1)) % 2 == 0)


def record_named(name: str) -> dict:
    """A small record whose scenario, description, plan and event carry ``name``."""
    row = {"plan": name, "event": name, "path": "client", "truth": 10.0, "received": 9.0,
           "loss": 0.1, "loss_ci": [0.05, 0.15], "causes": {"blocked": 0.1},
           "duplicates": 0.0, "bots": 0.0}  # fmt: skip
    return {"scenario": {"name": name, "description": name, "replications": 1, "seed": 1},
            "run": {}, "results": [row], "kpis": [], "comparisons": []}  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE)
def test_markdown_report_shows_names_as_text(name):
    text = to_markdown(build(record_named(name)))
    assert "\r" not in text
    assert "<script>" not in text and "<" not in text.replace("\\<", "")
    lines = text.splitlines()
    assert not any(line.startswith("# Forged") for line in lines)
    assert sum(line.startswith("# ") for line in lines) == 1  # the title only
    assert not any(line.startswith("| forged") for line in lines)
    for table in re.findall(r"(?:^\|.*\|$\n?)+", text, flags=re.M):
        widths = {unescaped_pipes(line) for line in table.strip().splitlines()}
        assert len(widths) == 1, table  # every row has the header's cells


def test_markdown_escaping_round_trips_through_a_commonmark_reading():
    # Removing one backslash before each escaped character gives back the text on one line.
    for name in HOSTILE:
        escaped = md_text(name)
        assert re.sub(r"\\(.)", r"\1", escaped) == name.replace("\r", " ").replace("\n", " ")


def test_leading_markers_are_escaped_only_where_they_start_a_block():
    assert md_text("1. ordered", starts_block=True) == "1\\. ordered"
    assert md_text("- item", starts_block=True) == "\\- item"
    assert md_text("# title", starts_block=True) == "\\# title"
    assert md_text("4.5%") == "4.5%" and md_text("-") == "-"  # table cells stay readable
    paragraph = to_markdown([Block("p", "# not a heading")])
    assert paragraph == "\\# not a heading\n"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (0.03970000000000001, "0.0397"),
        (-0.25, "-0.25"),
        (3, "3"),
        (None, ""),
        ('=HYPERLINK("http://x")', '"\'=HYPERLINK(""http://x"")"'),
        ("+1", "'+1"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("a\rb", '"a\rb"'),
        ("a,b", '"a,b"'),
    ],
)
def test_csv_cells_are_exact_quoted_and_never_formulas(value, cell):
    assert csv_cell(value) == cell


def test_summary_csv_keeps_one_row_per_point_whatever_the_names():
    axis = Axis(("plan.name",), tuple((n,) for n in HOSTILE), tuple((n,) for n in HOSTILE))
    records = []
    for i, name in enumerate(HOSTILE):
        data = {"results": [{"plan": name, "event": "=1+1", "path": "client", "truth": 10.0,
                             "loss": 0.1 + 0.2,
                             "loss_ci": [0.03970000000000001, 0.5]}]}  # fmt: skip
        records.append(PointRecord(Point(i, (), {"plan.name": name}), f"p{i}", "k", "ok", data))
    text = summary_csv(SweepReport(Path("."), [axis], records, "hostile"))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + len(HOSTILE)
    assert {len(r) for r in rows} == {len(rows[0])}
    assert [r[1] for r in rows[1:]] == [n if n[0] not in "=+-@" else "'" + n for n in HOSTILE]
    body = rows[1:]
    assert all(r[rows[0].index("event")] == "'=1+1" for r in body)
    assert all(r[rows[0].index("loss")] == "0.3" for r in body)  # not 0.30000000000000004
    assert all(r[rows[0].index("loss_lo")] == "0.0397" for r in body)
