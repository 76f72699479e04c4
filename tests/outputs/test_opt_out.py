"""The privacy-respecting mode: nothing of an opted-out visitor is sent, and the report adds up."""

from __future__ import annotations

import numpy as np
import pytest
from support.factories import scenario
from support.running import run

from simulator.model.copies import BOT
from simulator.model.population import ANALYTICS_OPT_OUT, layout_of
from simulator.model.server import ServerQueues
from simulator.model.tally import CAUSES, FAULT_CAUSES, M
from simulator.model.tally_buffer import POSITION
from simulator.outputs.opt_out import (
    choice_markdown,
    mode_lines,
    mode_statement,
    plan_lines,
    split_loss,
)
from simulator.outputs.terminal import format_summary
from simulator.stats.summary import summarise

BLOCKERS = {"none": 0.5, "extension_default": 0.2, "extension_privacy": 0.2, "dns": 0.1}
PLANS = [
    {"name": "tracks_all", "default_path": "server"},
    {"name": "server", "default_path": "server", "respect_blocker_choice": True},
    {"name": "hybrid", "default_path": "hybrid", "respect_blocker_choice": True},
    {
        "name": "dual",
        "default_path": "dual",
        "respect_blocker_choice": True,
        "opted_out_count": "anonymous_count",
    },
]


def polite_site(**overrides):
    sc = scenario()
    segments = sc.population.model_dump(mode="json", by_alias=True)["segments"]
    for s in segments:
        s["blockers"] = BLOCKERS
    fields = dict(
        users=600,
        population={"segments": segments, "javascript_disabled": 0.05},
        plans=PLANS,
        # Faults on both paths, so that faults and withheld events must be told apart.
        client={"failure_probability": 0.05, "retry": {"store": "none"}},
        server={"failure_probability": 0.2, "max_retries": 0, "batch_size": 1},
    )
    return scenario(**{**fields, **overrides})


@pytest.fixture(scope="module")
def spied():
    """A run with every server push recorded as (plan, kind, flat offset)."""
    pushed = []
    original = ServerQueues.push

    def spy(self, plan, instance, t, payload):
        pushed.extend(
            (plan, k, o)
            for k, o in zip(payload["kind"].tolist(), payload["off"].tolist(), strict=True)
        )
        return original(self, plan, instance, t, payload)

    sc = polite_site()
    ServerQueues.push = spy
    try:
        result = run(sc, seed=8)
    finally:
        ServerQueues.push = original
    return sc, result, pushed


def test_no_server_or_hybrid_copy_of_an_opted_out_visitor_is_ever_sent(spied):
    sc, _, pushed = spied
    layout = layout_of(sc)
    n_measures = layout.shape[3]
    blocker_of_cell = layout.cell_category("blocker")
    opted_out = {layout.blockers.index(b) for b in ANALYTICS_OPT_OUT}
    respecting = {i for i, p in enumerate(sc.plans) if p.respect_blocker_choice}
    sent = {}
    for plan, kind, off in pushed:
        if kind == BOT:
            continue
        cell = ((off & POSITION) // n_measures) % layout.n_cells  # offsets carry the group
        key = (plan in respecting, int(blocker_of_cell[cell]) in opted_out)
        sent[key] = sent.get(key, 0) + 1
    assert sent.get((True, True), 0) == 0
    # The test can see such pushes: the plan that tracks everyone sends opted-out visitors'.
    assert sent[(False, True)] > 100 and sent[(True, False)] > 100


def test_withheld_counts_exactly_the_opted_out_visitors_events(spied):
    _, result, _ = spied
    counts = result.total.counts  # one replication: its whole tally
    layout = result.tallies[0].layout
    blocker = layout.cell_category("blocker")
    out_cells = np.isin(blocker, [layout.blockers.index(b) for b in ANALYTICS_OPT_OUT])
    for plan in ("server", "hybrid"):
        c = counts[layout.plans.index(plan)]
        # Every privacy-list and DNS blocker blocks the vendor here, so all of them opted out:
        # their events are all withheld, none delivered, and nobody else's is withheld.
        assert c[:, out_cells, M["delivered"]].sum() == 0
        assert c[:, out_cells, M["lost_withheld"]].sum() == c[:, out_cells, M["truth"]].sum() > 0
        assert c[:, ~out_cells, M["lost_withheld"]].sum() == 0
    dual = counts[layout.plans.index("dual")]
    assert dual[..., M["anonymous"]].sum() >= dual[..., M["lost_withheld"]].sum() > 0


def test_report_adds_up_truth_delivered_faults_withheld_pending(spied):
    sc, result, _ = spied
    summary = summarise(result)
    checked = 0
    for row in summary["results"]:
        split = split_loss(row)
        if split is None:
            continue
        total = split["delivered"] + split["faults"] + split["withheld"] + split["pending"]
        assert total == pytest.approx(split["truth"], rel=1e-9), (row["plan"], row["event"])
        if row["plan"] == "tracks_all":
            assert split["withheld"] == 0
        checked += 1
    assert checked == len(sc.plans) * len(sc.events)
    assert set(FAULT_CAUSES) | {"withheld"} == set(CAUSES)
    polite = [
        r for r in summary["results"] if r["plan"] == "server" and r["event"] == "page_viewed"
    ]
    split = split_loss(polite[0])
    assert split["faults_share"] > 0.05 and split["withheld_share"] > 0.15


def test_terminal_report_states_the_mode_and_splits_faults_from_choice(spied):
    _, result, _ = spied
    summary = summarise(result)
    text = format_summary(summary)
    assert "Plan server: Blocker choice respected" in text
    assert "Plans tracks_all: blocker choice not respected (the default)." in text
    assert text.count("Lost to faults vs withheld by choice") == 3
    tail = text[text.rindex("Plan dual") :]
    assert "anonymous" in tail and "withheld %" in tail
    md = choice_markdown(summary)
    assert md.startswith("## Respecting visitors' choice")
    assert md.count("### Plan ") == 3


def test_mode_lines_when_no_plan_respects_choice_or_the_config_is_missing():
    summary = {"scenario": {"config": {"plans": [{"name": "client"}]}}, "results": []}
    assert mode_lines(summary) == [mode_statement(False)]
    assert mode_lines({"results": []}) == []
    assert plan_lines(summary, "client", []) == []
    assert choice_markdown({}) == ""
    assert "anonymous count" in mode_statement(True, anonymous=True)
    assert split_loss({"truth": 0.0}) is None
