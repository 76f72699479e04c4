"""KPIs: declared or default, validated against the events, and the mixed-plan trap."""

from __future__ import annotations

import pytest
from support.bias_factories import two_devices
from support.factories import lossless_dict, scenario
from support.running import run

from simulator.config.kpi_spec import KPI
from simulator.config.loading import ScenarioError, parse_scenario
from simulator.stats.kpis import default_kpis, quantity
from simulator.stats.summary import summarise

SHOP_EVENTS = [
    {"name": "session_started", "kind": "session_start"},
    {"name": "page_viewed", "kind": "page_view"},
    {"name": "order", "kind": "funnel", "has_value": True},
]


def kpi(record: dict, plan: str, name: str) -> dict:
    return next(k for k in record["kpis"] if k["plan"] == plan and k["name"] == name)


def test_declared_kpis_must_name_events_and_be_unique():
    data = lossless_dict(
        kpis=[
            {"name": "cr", "numerator": "order_completed", "denominator": "sessions"},
            {"name": "aov", "numerator": "value:ordr", "denominator": "order_completed"},
        ]
    )
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    [problem] = info.value.problems
    assert problem.startswith("kpis[1].numerator: must be an event name, value:<event>,")
    assert problem.endswith("got 'value:ordr'")
    data["kpis"][1] = {"name": "cr", "numerator": "signed_up", "denominator": "visitors"}
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert info.value.problems == ["kpis[1].name: must be unique, got 'cr'"]
    data["kpis"][1]["unknown"] = 1
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert info.value.problems[0].startswith("kpis[1].unknown: unknown key")


def test_defaults_follow_the_events():
    names = [k.name for k in default_kpis(scenario())]
    assert names == [
        "conversion_rate",
        "average_order_value",
        "revenue_per_visitor",
        "cart_to_order_rate",
    ]
    no_first_visit = [e.model_dump() for e in scenario().events if e.kind != "first_visit"]
    assert [k.name for k in default_kpis(scenario(events=no_first_visit))][2] == (
        "revenue_per_session"
    )
    assert default_kpis(scenario(events=[{"name": "pv", "kind": "page_view"}])) == []
    declared = [KPI(name="x", numerator="signed_up", denominator="sessions")]
    sc = scenario(users=100, kpis=[k.model_dump() for k in declared])
    rows = summarise(run(sc, seed=1))["kpis"]
    assert [(k["plan"], k["name"]) for k in rows] == [("client", "x")]


def test_sessions_fall_back_to_page_views_and_say_so():
    sc = scenario(events=SHOP_EVENTS[1:], behaviour={"funnel": [0.5]})
    q = quantity(sc, "sessions")
    assert q.events == (0,) and "page views" in q.note
    assert (
        quantity(scenario(events=SHOP_EVENTS, behaviour={"funnel": [0.5]}), "sessions").note == ""
    )
    assert (
        "visitors counted as sessions"
        in quantity(scenario(events=SHOP_EVENTS, behaviour={"funnel": [0.5]}), "visitors").note
    )
    with_first = scenario()
    q = quantity(with_first, "visitors")
    assert q.note == "" and [with_first.events[i].kind for i in q.events] == ["first_visit"]


def test_a_lossless_site_has_unbiased_kpis():
    sc = scenario(users=300, plans=[{"name": "c"}, {"name": "s", "default_path": "server"}])
    for k in summarise(run(sc, replications=2, seed=2))["kpis"]:
        assert k["relative_bias"] == 0.0 and k["truth"] == k["observed"], k


def _trap(seed: int, replications: int) -> dict:
    sc = two_devices(
        users=1500,
        desktop_blocked=0.3,
        mobile_blocked=0.3,
        events=SHOP_EVENTS[:1] + SHOP_EVENTS[2:],
        behaviour={"return_probability": 0.0, "funnel": [0.3]},
        plans=[{"name": "client"}, {"name": "mixed", "paths": {"order": "server"}}],
    )
    return summarise(run(sc, replications=replications, seed=seed))


@pytest.mark.parametrize("replications", [1, 3])
def test_sessions_on_the_client_and_orders_on_the_server_inflate_conversion(replications):
    # Blocking hides 30% of sessions from every visitor group alike, so the client plan's
    # conversion rate is unbiased, while the mixed plan divides every order by 70% of the
    # sessions: +1 / 0.7 - 1 = +42.9%.
    def check(seed):
        record = _trap(seed, replications)
        mixed, client = (
            kpi(record, "mixed", "conversion_rate"),
            kpi(record, "client", "conversion_rate"),
        )
        lo, hi = mixed["relative_bias_ci"]
        clo, chi = client["relative_bias_ci"]
        return lo <= 1 / 0.7 - 1 <= hi and clo <= 0 <= chi, (mixed, client)

    ok, found = check(1)
    if not ok:
        ok, found = check(2)
    assert ok, found
    mixed = found[0]
    assert mixed["relative_bias_ci"][0] > 0.3
    assert mixed["paths"] == ["client", "server"]
    assert mixed["observed"] > mixed["truth"]
