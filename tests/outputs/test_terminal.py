"""The terminal report: header, one aligned row per plan and event, causes and intervals."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.outputs.formatting import count, percent
from simulator.outputs.terminal import OVER_COUNT_NOTE, format_causes, format_summary


def row(plan: str, event: str, **changes: Any) -> dict[str, Any]:
    base = {
        "plan": plan,
        "event": event,
        "path": plan,
        "truth": 1000.0,
        "received": 800.0,
        "duplicates": 0.0,
        "loss": 0.2,
        "loss_ci": [0.18, 0.22],
        "causes": {"blocked": 0.181, "unload": 0.023, "network": 0.001},
        "value": None,
    }
    return {**base, **changes}


@pytest.fixture
def summary() -> dict[str, Any]:
    return {
        "version": "0.1.0",
        "scenario": {"name": "shop", "seed": 42, "replications": 1},
        "run": {"users": 2000.0, "visits": 2500.0, "events": 30000.0},
        "interval_method": "Wilson score, one replication (95%)",
        "results": [
            row("client", "page_viewed"),
            row(
                "client",
                "order_completed",
                value={"truth": 5000.5, "received": 4000.25, "loss": 0.2, "loss_ci": [0.1, 0.3]},
            ),
            row("server", "page_viewed", path="server", received=1000.0, loss=0.0,
                loss_ci=[-1e-9, 0.0], causes={}, duplicates=3.0),
        ],
    }  # fmt: skip


def test_header_says_what_was_simulated(summary: dict[str, Any]) -> None:
    first, second = format_summary(summary).splitlines()[:2]
    assert (
        first
        == "Scenario 'shop': 2,000 users, 2,500 sessions, 30,000 events; 1 replication; seed 42"
    )
    assert second == "Intervals: Wilson score, one replication (95%)"


def test_one_block_per_plan_with_a_row_per_event(summary: dict[str, Any]) -> None:
    lines = format_summary(summary).splitlines()
    assert [line for line in lines if line.startswith("Plan ")] == ["Plan client", "Plan server"]
    client = lines[lines.index("Plan client") + 2].split()
    assert client[:5] == ["page_viewed", "client", "1,000", "800", "20.0"]
    assert "[18.0, 22.0]" in lines[lines.index("Plan client") + 2]
    assert client[-6:] == ["blocked", "18.1%,", "unload", "2.3%", "0", "-"]  # no bots given


def test_value_row_follows_its_event(summary: dict[str, Any]) -> None:
    lines = format_summary(summary).splitlines()
    i = next(i for i, line in enumerate(lines) if "order_completed" in line)
    assert lines[i + 1].split() == ["value", "5,000.5", "4,000.2", "20.0", "[10.0,", "30.0]"]


def test_columns_line_up_across_plans(summary: dict[str, Any]) -> None:
    lines = format_summary(summary).splitlines()
    headers = [line for line in lines if line.strip().startswith("event ")]
    assert len(headers) == 2 and headers[0] == headers[1]
    column = headers[0].index("95% CI")
    rows = [line for line in lines if "page_viewed" in line]
    assert all(line[column] == "[" for line in rows)


def test_no_loss_shows_a_dash_and_no_negative_zero(summary: dict[str, Any]) -> None:
    server = next(line for line in format_summary(summary).splitlines() if " server " in line)
    assert "[0.0, 0.0]" in server
    assert "-0.0" not in server
    assert server.split()[-3:-1] == ["-", "3"]


def test_format_helpers() -> None:
    assert format_causes({"unload": 0.023, "blocked": 0.181, "network": 0.0001}) == (
        "blocked 18.1%, unload 2.3%"
    )
    assert format_causes({"network": 0.0001}) == "network <0.1%"
    assert format_causes({}) == "-"
    assert count(1234567) == "1,234,567"
    assert count(8738.33) == "8,738.3"
    assert count(None) == "-"
    assert percent(0.1816, unit=False) == "18.2"
    assert percent(-0.00001) == "0.0%"  # never -0.0
    assert percent(None) == "-"


def test_empty_summary_still_formats() -> None:
    assert format_summary({}).splitlines()[-1] == "No results."


def test_kpis_are_listed_with_their_bias_and_interval() -> None:
    summary = {
        "results": [],
        "kpis": [
            {
                "plan": "mixed",
                "name": "conversion_rate",
                "truth": 0.03,
                "observed": 0.0315,
                "relative_bias": 0.05,
                "relative_bias_ci": [0.04, 0.06],
            },
        ],
    }
    text = format_summary(summary)
    line = next(x for x in text.splitlines() if "conversion_rate" in x)
    assert line.split()[:4] == ["mixed", "conversion_rate", "0.03", "0.0315"]
    assert "5.0" in line and "[4.0, 6.0]" in line


def test_bots_explain_received_above_truth(summary: dict[str, Any]) -> None:
    row = next(r for r in summary["results"] if r["path"] == "server")
    row.update(received=1_120.0, bots=117.0, duplicates=3.0, truth=1_000.0)
    lines = format_summary(summary).splitlines()
    header = next(line for line in lines if line.strip().startswith("event"))
    assert header.split()[-2:] == ["dups", "bots"]
    server = next(line for line in lines if " server " in line)
    assert server.split()[-2:] == ["3", "117"]
    assert OVER_COUNT_NOTE in lines
    row.update(received=990.0, bots=0.0, duplicates=0.0)
    assert OVER_COUNT_NOTE not in format_summary(summary).splitlines()
