"""``trackloss run --report`` and ``trackloss compare``: files written, exit codes, messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simulator.cli.main import main


@pytest.fixture
def tiny(minimal_scenario_dict: dict[str, Any]) -> dict[str, Any]:
    minimal_scenario_dict["population"]["users"] = 60
    minimal_scenario_dict["simulation"] = {"horizon_hours": 2, "drain_hours": 1}
    return minimal_scenario_dict


def test_run_writes_a_markdown_or_html_report(tiny, write_scenario, tmp_path, capsys):
    path = write_scenario(tiny)
    md, html = tmp_path / "report.md", tmp_path / "report.html"
    assert main(["run", str(path), "--quiet", "--report", str(md)]) == 0
    assert main(["run", str(path), "--quiet", "--report", str(html)]) == 0
    assert "## Headlines" in md.read_text(encoding="utf-8")
    assert '<h2 id="headlines">Headlines</h2>' in html.read_text(encoding="utf-8")
    assert capsys.readouterr().out.startswith("Scenario 'minimal'")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("report.txt", "the name must end in .md, .markdown, .html, .htm, got '.txt'"),
        ("missing/report.md", "folder"),
    ],
)
def test_a_bad_report_path_is_refused_before_simulating(
    tiny, write_scenario, tmp_path, capsys, name, message
):
    path = write_scenario(tiny)
    target = tmp_path / name
    assert main(["run", str(path), "--quiet", "--report", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing was simulated
    assert captured.err.startswith(f"{target}: cannot write the report: ")
    assert message in captured.err


def test_compare_prints_paired_differences_and_writes_json(tiny, write_scenario, tmp_path, capsys):
    a = write_scenario(tiny, "a.toml")
    tiny["population"]["segments"][0]["blockers"] = {"none": 0.5, "extension_privacy": 0.5}
    b = write_scenario(tiny, "b.toml")
    out = tmp_path / "cmp.json"
    argv = ["compare", str(a), str(b), "--replications", "2", "--seed", "4", "--quiet"]
    assert main([*argv, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == (
        "Compare 'minimal' (a) with 'minimal' (b): seed 4, 2 replications each"
    )
    record = json.loads(out.read_text(encoding="utf-8"))
    assert set(record) == {"version", "comparison", "a", "b"}
    rows = record["comparison"]["events"]
    assert rows and all(r["loss_diff"] > 0 for r in rows if r["event"] == "page_viewed")
    assert record["a"]["scenario"]["seed"] == record["b"]["scenario"]["seed"] == 4


def test_compare_reports_every_invalid_scenario(tiny, write_scenario, capsys):
    good = write_scenario(tiny, "good.toml")
    tiny["population"]["users"] = 0
    bad = write_scenario(tiny, "bad.toml")
    assert main(["compare", str(bad), str(good), "--quiet"]) == 2
    assert capsys.readouterr().err == f"{bad}: population.users: must be greater than 0, got 0\n"
