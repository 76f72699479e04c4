"""Plan and scenario comparisons on common random numbers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from support.bias_factories import two_devices
from support.running import run

from simulator.outputs.terminal import format_comparison
from simulator.stats.comparison import compare_runs, loss_per_replication
from simulator.stats.summary import summarise

PLANS = [{"name": "client"}, {"name": "server", "default_path": "server"}]


def test_plan_differences_are_paired_and_signed_b_minus_a():
    record = summarise(run(two_devices(users=400, plans=PLANS), replications=3, seed=2))
    rows = [c for c in record["comparisons"] if c["event"] == "page_viewed"]
    assert len(rows) == 1
    c = rows[0]
    assert (c["plan_a"], c["plan_b"], c["path_a"], c["path_b"]) == (
        "client",
        "server",
        "client",
        "server",
    )
    assert c["loss_diff"] == pytest.approx(c["loss_b"] - c["loss_a"])
    assert c["loss_diff_ci"][1] < 0 and c["p_value"] < 0.05


def test_one_replication_compares_plans_paired_by_groups_of_visitors():
    record = summarise(run(two_devices(users=400, plans=PLANS), seed=2))
    c = next(c for c in record["comparisons"] if c["event"] == "session_started")
    client = next(
        r for r in record["results"] if r["plan"] == "client" and r["event"] == "session_started"
    )
    # The server path loses nothing here, so the difference is minus the client's loss, group
    # by group: the same jackknife interval, mirrored.
    assert c["loss_b"] == 0.0 and c["loss_diff"] == pytest.approx(-client["loss"])
    lo, hi = client["loss_ci"]
    assert c["loss_diff_ci"] == pytest.approx([-hi, -lo])
    assert c["p_value"] < 0.05
    assert "random groups of visitors" in record["methods"]["comparisons"]


def test_scenarios_share_their_visitors_so_the_paired_interval_is_narrow():
    # B blocks 35% of desktop visitors instead of 30%: on common random numbers, B's blocked
    # visitors are A's plus a few, so the difference varies far less than either loss.
    # Over many replications the paired sd is 0.39 of either loss's sd (measured: 40
    # replications), so the paired interval is about 0.3 of the unpaired (Welch) one.
    a = run(two_devices(users=300, desktop_blocked=0.3), replications=10, seed=6)
    b = run(two_devices(users=300, desktop_blocked=0.35), replications=10, seed=6)
    record = compare_runs(a, b)
    row = next(r for r in record["events"] if r["event"] == "page_viewed")
    assert row["truth_a"] == row["truth_b"]  # blockers change nothing that happens
    assert row["loss_diff"] > 0 and row["p_value"] < 0.05
    # Paired beats unpaired: the Welch interval of the same losses is wider.
    la = loss_per_replication(np.stack([t.totals() for t in a.tallies]))[:, 0, 1]
    lb = loss_per_replication(np.stack([t.totals() for t in b.tallies]))[:, 0, 1]
    welch = stats.ttest_ind(lb, la, equal_var=False).confidence_interval()
    lo, hi = row["loss_diff_ci"]
    assert hi - lo < 0.6 * (welch.high - welch.low)
    kpis = [k for k in record["kpis"]]
    assert kpis == []  # no funnel, no KPIs by default
    text = format_comparison(record)
    assert text.splitlines()[0].startswith("Compare 'lossless' (a) with 'lossless' (b)")
    assert "page_viewed" in text


def test_scenarios_must_share_seed_and_replications():
    a = run(two_devices(users=50), seed=1)
    b = run(two_devices(users=50), seed=2)
    with pytest.raises(ValueError, match="same seed and replications"):
        compare_runs(a, b)


def test_unmatched_plans_and_events_are_listed_and_left_out():
    a = run(two_devices(users=50, plans=PLANS), seed=1)
    b = run(two_devices(users=50, events=[{"name": "page_viewed", "kind": "page_view"}]), seed=1)
    record = compare_runs(a, b)
    assert record["unmatched"] == {"plans": ["server"], "events": ["session_started"]}
    assert [(r["plan"], r["event"]) for r in record["events"]] == [("client", "page_viewed")]
    assert "left out" in format_comparison(record)
