"""Composition, value and attribution bias against closed forms and monotonic checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from support.bias_factories import expected_received_share, segment, two_devices
from support.factories import const, scenario
from support.running import run

from simulator.model.tally import M
from simulator.stats.summary import summarise


def row(record: dict, plan: str, event: str) -> dict:
    return next(r for r in record["results"] if r["plan"] == plan and r["event"] == event)


def covers(ci: list[float], x: float) -> bool:
    return ci[0] <= x <= ci[1]


# --------------------------------------------------------------------------- composition


def _device_shift(seed: int):
    sc = two_devices(users=2000, desktop_share=0.3, desktop_blocked=0.4, mobile_blocked=0.1)
    result = run(sc, replications=4, seed=seed)
    # Oracle: shares straight from the tally marginals, replication by replication.
    e = result.tallies[0].layout.events.index("page_viewed")
    diffs = []
    for t in result.tallies:
        m = t.marginal("device")[0, e]  # desktop, mobile
        truth = m[:, M["truth"]]
        received = m[:, M["delivered"]] + m[:, M["duplicates"]] + m[:, M["bots"]]
        diffs.append(received[0] / received.sum() - truth[0] / truth.sum())
    return summarise(result), np.array(diffs)


def test_device_dependent_blocking_shifts_shares_as_thinning_predicts():
    expected = expected_received_share(0.3, 0.4, 0.1) - 0.3  # 0.18 / 0.81 - 0.3 = -0.078
    record, diffs = _device_shift(1)
    if stats.ttest_1samp(diffs, expected).pvalue < 0.001:
        record, diffs = _device_shift(2)
    assert stats.ttest_1samp(diffs, expected).pvalue >= 0.001
    bias = row(record, "client", "page_viewed")["bias"]["device"]
    desk, mob = bias["shares"]["desktop"], bias["shares"]["mobile"]
    assert desk["diff"] == pytest.approx(diffs.mean(), abs=1e-12)
    assert desk["diff"] < 0 < mob["diff"] and desk["diff_ci"][1] < 0
    assert mob["diff"] == pytest.approx(-desk["diff"])
    # Two categories: the TVD is |diff| less its expected noise, sqrt(2/pi) se (corrected).
    se = (desk["diff_ci"][1] - desk["diff"]) / stats.t.ppf(0.975, 3)
    assert bias["tvd"] == pytest.approx(abs(desk["diff"]) - np.sqrt(2 / np.pi) * se)
    assert bias["p_value"] < 0.05
    # Blocker kind: the blocked kind vanishes from what arrives.
    blockers = row(record, "client", "page_viewed")["bias"]["blocker"]["shares"]
    assert blockers["extension_privacy"]["received"] == 0.0
    assert blockers["extension_privacy"]["truth"] > 0.1


def _privacy_run(desktop_privacy: float):
    sc = two_devices(
        users=600,
        desktop_blocked=desktop_privacy,
        mobile_blocked=0.05,
        plans=[{"name": "client"}, {"name": "server", "default_path": "server"}],
        server={"failure_probability": 0.2, "max_retries": 0, "deploys_per_day": 0.0},
    )
    return summarise(run(sc, replications=2, seed=11))


def test_more_privacy_lists_mean_more_client_loss_and_device_bias_and_no_server_change():
    records = [_privacy_run(q) for q in (0.1, 0.3, 0.5)]
    loss = [row(r, "client", "page_viewed")["loss"] for r in records]
    tvd = [row(r, "client", "page_viewed")["bias"]["device"]["tvd"] for r in records]
    assert loss[0] < loss[1] < loss[2]
    assert tvd[0] < tvd[1] < tvd[2]
    servers = [row(r, "server", "page_viewed") for r in records]
    assert servers[0]["loss"] > 0.1  # the server path loses something of its own
    for s in servers[1:]:
        assert s["loss"] == servers[0]["loss"] and s["causes"] == servers[0]["causes"]
        assert s["bias"]["device"] == servers[0]["bias"]["device"]


# --------------------------------------------------------------------------- value


def _spenders(seed: int, replications: int):
    """Desktop spends 100 per order and half is blocked; mobile spends 50, none blocked."""
    segs = [
        segment("desk", "desktop", "chrome", 0.5, 0.5),
        segment("mob", "mobile", "safari", 0.5, 0.0),
    ]
    segs[0]["behaviour"] = {"order_value": const(100.0)}
    segs[1]["behaviour"] = {"order_value": const(50.0)}
    sc = scenario(
        users=1000,
        population={"segments": segs},
        events=[
            {"name": "session_started", "kind": "session_start"},
            {"name": "order", "kind": "funnel", "has_value": True},
        ],
        behaviour={"return_probability": 0.0, "funnel": [1.0]},
    )
    return summarise(run(sc, replications=replications, seed=seed))


@pytest.mark.parametrize("replications", [1, 3])
def test_value_bias_when_blocked_visitors_spend_more(replications):
    # Truth mean (100 + 50) / 2 = 75; received (0.5 * 100 + 50) / 1.5 = 66.7: -1/9.
    # Total received (50 + 50) / 150 of the truth: -1/3.
    def check(seed):
        v = row(_spenders(seed, replications), "client", "order")["value"]
        ok = covers(v["mean_relative_bias_ci"], -1 / 9) and covers(
            v["total_relative_bias_ci"], -1 / 3
        )
        return ok, v

    ok, v = check(1)
    if not ok:
        ok, v = check(2)
    assert ok, v
    assert v["mean_relative_bias_ci"][1] < 0 and v["mean_received"] < v["mean_truth"]
    # the mean of per-replication ratios and the ratio of mean totals agree within the interval
    assert covers(v["total_relative_bias_ci"], v["received"] / v["truth"] - 1)


# --------------------------------------------------------------------------- attribution


def test_attribution_needs_browser_context():
    sc = scenario(
        users=1500,
        population={
            "javascript_disabled": 0.1,
            "channels": {"direct": {}, "ads": {"source": "google", "medium": "cpc"}},
            "segments": [
                {
                    **segment("desk", "desktop", "chrome", 1.0, 0.0),
                    "channels": {"direct": 0.4, "ads": 0.6},
                }
            ],
        },
        events=[
            {"name": "session_started", "kind": "session_start"},
            {"name": "order", "kind": "funnel", "has_value": True},
        ],
        behaviour={"return_probability": 0.0, "funnel": [0.5]},
        plans=[
            {"name": "client"},
            {"name": "server", "default_path": "server"},
            {"name": "hybrid", "default_path": "hybrid"},
        ],
    )
    record = summarise(run(sc, replications=2, seed=4))
    client = row(record, "client", "order")["attribution"]
    server = row(record, "server", "order")["attribution"]
    hybrid = row(record, "hybrid", "order")["attribution"]
    assert server["unattributed"] == 1.0
    assert all(c["received"] == 0.0 for c in server["channels"].values())
    # The client path loses the no-JavaScript visitors, but what it keeps carries context.
    assert client["unattributed"] == 0.0
    # One order at most per visitor (no returns), so shares of orders are binomial: allow
    # five standard errors over the orders of both replications.
    orders = row(record, "client", "order")["truth"] * 2

    def within(share, p):
        return abs(share - p) < 5 * (p * (1 - p) / orders) ** 0.5

    # Hybrid forwards context, except for visitors whose browser ran no script.
    assert within(hybrid["unattributed"], 0.1)
    assert within(client["channels"]["ads"]["truth"], 0.6)
    assert row(record, "client", "session_started")["attribution"] is None


# --------------------------------------------------------------------------- over-count


def test_bots_show_as_positive_bias_not_as_zero_loss():
    sc = two_devices(
        users=800,
        desktop_blocked=0.0,
        mobile_blocked=0.0,
        population={
            "bots": {"share": 0.2, "filtered": 0.0},
            "segments": [
                segment("desk", "desktop", "chrome", 0.5, 0.0),
                segment("mob", "mobile", "safari", 0.5, 0.0),
            ],
        },
        plans=[{"name": "server", "default_path": "server"}],
    )
    record = summarise(run(sc, replications=2, seed=3))
    r = row(record, "server", "page_viewed")
    assert r["loss"] == 0.0 and r["net_error"] > 0.1
    traffic = r["bias"]["traffic"]
    assert traffic["shares"]["bot"]["truth"] == 0.0
    # a mean of per-replication shares, so close to (not equal to) the ratio of means
    assert traffic["shares"]["bot"]["received"] == pytest.approx(
        r["bots"] / r["received"], rel=0.01
    )
    assert traffic["tvd"] > 0.1 and traffic["p_value"] is None  # no loss to test


# --------------------------------------------------------------------------- the JSON contract


def test_record_has_issue_3_keys_no_nan_and_same_bytes_for_same_seed():
    sc = two_devices(users=200, plans=[{"name": "c"}, {"name": "s", "default_path": "server"}])
    a = summarise(run(sc, replications=2, seed=8))
    b = summarise(run(sc, replications=2, seed=8))
    text = json.dumps(a, sort_keys=True, allow_nan=False)
    assert text == json.dumps(b, sort_keys=True, allow_nan=False)
    for r in a["results"]:
        for dim, bias in r["bias"].items():
            assert {"tvd", "tvd_ci", "p_value", "shares"} <= set(bias), dim
            for share in bias["shares"].values():
                assert set(share) == {"truth", "received", "diff", "diff_ci"}
    for k in a["kpis"]:
        assert {"plan", "name", "truth", "observed", "relative_bias", "relative_bias_ci"} <= set(k)
    for c in a["comparisons"]:
        assert {"event", "plan_a", "plan_b", "loss_diff", "loss_diff_ci", "p_value"} <= set(c)
    assert set(a["methods"]) >= {"loss", "composition", "mcar_test", "kpis", "comparisons"}
