"""The Markdown/HTML report and the tidy DataFrames, both read from the result record."""

from __future__ import annotations

import functools
import json
import re

import pytest
from support.bias_factories import two_devices
from support.running import run

from simulator.outputs.document import build, render, write_report
from simulator.outputs.frames import TABLES, to_frame
from simulator.outputs.headlines import event_sentence, kpi_sentence
from simulator.stats.summary import summarise

EVENTS = [
    {"name": "session_started", "kind": "session_start"},
    {"name": "page_viewed", "kind": "page_view"},
    {"name": "order_completed", "kind": "funnel", "has_value": True},
]


@functools.cache
def _record() -> str:
    sc = two_devices(
        users=400,
        desktop_blocked=0.3,
        mobile_blocked=0.05,
        events=EVENTS,
        behaviour={"return_probability": 0.0, "funnel": [0.3]},
        plans=[{"name": "client"}, {"name": "mixed", "paths": {"order_completed": "server"}}],
    )
    return json.dumps(summarise(run(sc, replications=2, seed=3)))


def record() -> dict:
    return json.loads(_record())


def test_event_sentence_reads_like_the_issue_example():
    row = {"event": "Orders", "path": "client", "truth": 1000.0, "loss": 0.182,
           "loss_ci": [0.179, 0.185], "causes": {"blocked": 0.17, "unload": 0.012}}  # fmt: skip
    assert event_sentence(row) == (
        "Orders: 18.2% lost on the client path (95% CI 17.9–18.5%), "
        "mostly to ad and privacy blockers."
    )
    over = {**row, "loss": 0.0, "causes": {}, "bots": 120.0, "duplicates": 10.0}
    assert event_sentence(over) == (
        "Orders: nothing lost on the client path; analytics also counts 13.0% extra "
        "(bots 12.0%, duplicates 1.0%)."
    )


def test_kpi_sentence_only_when_the_interval_excludes_zero():
    k = {"name": "conversion_rate", "relative_bias": 0.09, "relative_bias_ci": [0.07, 0.11]}
    assert kpi_sentence(k) == (
        "The recorded conversion rate is 9.0% too high (95% CI +7.0% to +11.0%)."
    )
    assert kpi_sentence({**k, "relative_bias_ci": [-0.01, 0.2]}) is None


def test_headline_names_the_mixed_plan_trap():
    text = render(record(), "markdown")
    mixed = text.split("### Plan mixed\n\n")[1].split("\n\n")[0].splitlines()
    assert all(line.startswith("- ") for line in mixed)  # short bullets, not one paragraph
    assert any("The recorded conversion rate is" in s and "too high" in s for s in mixed)
    assert "- order_completed: nothing lost on the server path." in mixed


def test_a_plan_that_behaves_like_an_earlier_one_is_not_repeated():
    data = record()
    twin = [{**r, "plan": "twin", "path": "dual"} for r in data["results"] if r["plan"] == "mixed"]
    data["results"] += twin
    blocks = build(data)
    at = next(i for i, b in enumerate(blocks) if b.kind == "h3" and b.text == "Plan twin")
    assert blocks[at + 1].items == ["The same as plans client and mixed."]


def test_markdown_has_every_section_and_well_formed_tables():
    text = render(record(), "markdown")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Headlines", "## Loss by event type", "## Respecting visitors' choice",
        "## Composition bias", "## Value bias",
        "## Attribution", "## KPIs", "## Plan comparisons", "## Methods",
    ]  # fmt: skip
    for block in build(record()):
        if block.kind == "table":
            assert all(len(row) == len(block.header) for row in block.rows)
    for table in re.findall(r"(?:^\|.*\|$\n?)+", text, flags=re.M):
        widths = {line.count(" | ") for line in table.strip().splitlines()}
        assert len(widths) == 1  # no stray pipes inside cells


def test_html_is_self_contained_escaped_and_embeds_the_plots():
    data = record()
    data["scenario"]["description"] = "<script>alert(1)</script> & more"
    page = render(data, "html")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script>" not in page and "&lt;script&gt;" in page
    sources = re.findall(r'src\s*=\s*"([^"]*)"', page)
    assert len(sources) == 5 and all(u.startswith("data:image/png;base64,") for u in sources)
    # loss, composition, attribution, KPIs, dashboard: nothing fetched elsewhere
    assert page.count("<figure>") == 5
    assert page.count("<table>") == sum(b.kind == "table" for b in build(data))
    anchors = re.findall(r'href="#([^"]+)"', page)
    assert "headlines" in anchors and all(f'id="{a}"' in page for a in anchors)
    plain = render(data, "html", plots=False)
    assert "<figure>" not in plain and '<h3 id="plan-client">Plan client</h3>' in plain
    assert "<img" not in render(data, "markdown")


def test_write_report_picks_the_format_from_the_suffix(tmp_path):
    md = write_report(record(), tmp_path / "r.md")
    html = write_report(record(), tmp_path / "r.HTML")
    assert md.read_text(encoding="utf-8").startswith("# Tracking loss report: lossless")
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(ValueError, match=r"must end in \.md"):
        write_report(record(), tmp_path / "r.txt")
    images = [f"r-{n}.png" for n in ("attribution", "bias", "dashboard", "kpi", "loss")]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["r.HTML", *images, "r.md"])
    text = md.read_text(encoding="utf-8")
    assert all(f"](<{name}>)" in text for name in images)  # linked beside the report


def test_frames_are_tidy_views_of_the_record():
    data = record()
    loss = to_frame(data, "loss")
    assert len(loss) == len(data["results"])
    assert (loss["loss_lo"] <= loss["loss"]).all() and (loss["loss"] <= loss["loss_hi"]).all()
    comp = to_frame(data, "composition")
    n_shares = sum(len(b["shares"]) for r in data["results"] for b in r["bias"].values())
    assert len(comp) == n_shares
    assert set(comp["dimension"]) == set(data["results"][0]["bias"])
    kpis = to_frame(data, "kpis")
    assert list(kpis["kpi"]) == [k["name"] for k in data["kpis"]]
    attribution = to_frame(data, "attribution")
    assert "(unattributed)" in set(attribution["channel"])
    for name in TABLES:
        assert to_frame(data, name).columns.is_unique
    with pytest.raises(ValueError, match="table must be one of"):
        to_frame(data, "nope")
    assert len(to_frame(run(two_devices(users=30), seed=1))) == 2  # a run is summarised first


@pytest.mark.parametrize(
    ("cell", "numeric"),
    [
        ("4.9 [4.6, 5.2]", True),
        ("-1.2 [-1.6, -0.9]", True),
        ("12,345", True),
        ("17.9–18.5%", True),
        ("-", True),
        ("1.2 [0.0, 3.3] device", False),
        ("client", False),
    ],
)
def test_numbers_with_their_interval_are_right_aligned(cell, numeric):
    from simulator.outputs.markup import is_number

    assert is_number(cell) is numeric


def test_per_replication_rows_are_what_each_replication_gave():
    """The mean of the per-replication rows is the record's figure; their spread is its CI's."""
    from scipy import stats

    sc = two_devices(users=200, desktop_blocked=0.3, mobile_blocked=0.05, events=EVENTS,
                     behaviour={"return_probability": 0.0, "funnel": [0.3]})  # fmt: skip
    record = summarise(run(sc, replications=4, seed=7))
    frame = to_frame(record, "replications")
    assert sorted(set(frame["replication"])) == [1, 2, 3, 4]
    assert len(frame) == 4 * len(record["results"])
    for row in record["results"]:
        mine = frame[(frame["plan"] == row["plan"]) & (frame["event"] == row["event"])]
        assert mine["truth"].mean() == pytest.approx(row["truth"])
        assert mine["received"].mean() == pytest.approx(row["received"])
        assert (mine["received"] == mine["delivered"] + mine["duplicates"] + mine["bots"]).all()
        # The record's loss and interval are Student t on these rows' own losses.
        losses = mine["loss"].dropna()
        assert row["loss"] == pytest.approx(losses.mean())
        half = stats.t.ppf(0.975, len(losses) - 1) * losses.std(ddof=1) / len(losses) ** 0.5
        expected = [max(0.0, losses.mean() - half), min(1.0, losses.mean() + half)]
        assert row["loss_ci"] == pytest.approx(expected, abs=1e-12)
    valued = frame[frame["event"] == "order_completed"]
    assert valued["value_loss"].notna().all() and frame["value_loss"].isna().any()
