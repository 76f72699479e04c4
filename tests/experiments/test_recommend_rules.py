"""The decision on synthetic measurements: every rule, the loss budget, ties and costs.

These tests feed :func:`simulator.experiments.recommend_rules.decide` hand-made measurements, so
each branch is exercised exactly; tests/experiments/test_recommend.py drives the same rules through
simulated scenarios.
"""

from __future__ import annotations

import math

import pytest

from simulator.config.recommend_spec import DEFAULT_COSTS, PATH_ORDER, RecommendConfig
from simulator.config.scenario import EventType
from simulator.experiments.recommend_rules import (
    Metric,
    PathMeasure,
    candidate_paths,
    decide,
    differs,
    fits_budget,
)


def metric(value: float, n: float = 100_000, reps: tuple[float, ...] | None = None) -> Metric:
    reps = (value,) if reps is None else reps
    return Metric(value, (value, value), reps, n)


def measure(path: str, loss: float, context_loss: float = 0.0) -> PathMeasure:
    """A path losing ``loss`` of true events and delivering ``context_loss`` of the rest bare."""
    return PathMeasure(
        path=path,
        truth=100_000,
        delivered=100_000 * (1 - loss),
        delivered_context=100_000 * (1 - loss) * (1 - context_loss),
        faults=100_000 * loss,
        withheld=0.0,
        pending=0.0,
        anonymous=0.0,
        loss=metric(loss),
        budget_loss=metric(loss),
        context_coverage=metric((1 - loss) * (1 - context_loss)),
    )


def measures(losses: dict[str, float], context: dict[str, float] | None = None) -> dict:
    context = context or {}
    return {p: measure(p, loss, context.get(p, 0.0)) for p, loss in losses.items()}


def with_loss(m: PathMeasure, value: float, ci: tuple[float, float], n: float = 1e4) -> PathMeasure:
    return PathMeasure(**{**m.__dict__, "budget_loss": Metric(value, ci, (value,), n)})


# Client loses to blockers; server is reliable but blind; hybrid forwards context; dual mixes.
TYPICAL = dict(
    losses={"client": 0.30, "server": 0.001, "hybrid": 0.001, "dual": 0.0005},
    context={"client": 0.0, "server": 1.0, "hybrid": 0.002, "dual": 0.30},
)
CONFIG = RecommendConfig()


def event(**fields) -> EventType:
    return EventType.model_validate({"name": "e", "kind": "ui", **fields})


def test_default_config_and_costs():
    assert CONFIG.loss_budget == 0.05
    assert CONFIG.all_costs() == DEFAULT_COSTS
    assert list(DEFAULT_COSTS) == list(PATH_ORDER)
    assert sorted(PATH_ORDER, key=CONFIG.cost) == ["client", "server", "hybrid", "dual"]
    assert RecommendConfig(costs={"server": 9}).all_costs()["server"] == 9


def test_candidate_paths_follow_the_event_kind():
    assert candidate_paths(event(kind="client_only")) == ("client",)
    assert candidate_paths(event(kind="offsite")) == ("server",)
    assert candidate_paths(event(kind="page_view")) == PATH_ORDER


def test_client_only_goes_to_the_client_whatever_it_loses():
    d = decide(event(kind="client_only"), measures({"client": 0.4}), CONFIG)
    assert (d.path, d.rule) == ("client", "client_only")
    assert d.warnings and "no other path can carry it" in d.warnings[0]


def test_offsite_goes_to_the_server():
    d = decide(event(kind="offsite"), measures({"server": 0.0}), CONFIG)
    assert (d.path, d.rule, d.warnings) == ("server", "offsite", [])


@pytest.mark.parametrize(
    ("flags", "rule", "path"),
    [
        ({"sensitive": True}, "sensitive", "server"),
        ({"sensitive": True, "needs_context": ["utm"]}, "sensitive", "hybrid"),
        ({"mission_critical": True}, "mission_critical", "server"),
        (
            {"mission_critical": True, "needs_context": ["utm", "cookies"]},
            "mission_critical",
            "hybrid",
        ),
        ({"sensitive": True, "mission_critical": True}, "sensitive", "server"),
    ],
)
def test_sensitive_and_mission_critical_go_server_side(flags, rule, path):
    # The rule holds even where the client would fit the budget and cost less.
    d = decide(event(kind="funnel", **flags), measures(dict.fromkeys(PATH_ORDER, 0.0)), CONFIG)
    assert (d.path, d.rule) == (path, rule)


def test_a_rule_path_over_budget_is_flagged():
    m = measures({"client": 0.3, "server": 0.08, "hybrid": 0.08, "dual": 0.02})
    d = decide(event(kind="signup", mission_critical=True), m, CONFIG)
    assert d.path == "server"
    assert d.warnings == ["the server path still loses 8.0%, over the 5.0% budget"]


def test_context_needed_goes_to_the_most_context_coverage_within_budget():
    d = decide(event(kind="page_view", needs_context=["utm"]), measures(**TYPICAL), CONFIG)
    assert (d.path, d.rule) == ("hybrid", "most_context_coverage")


def test_losing_events_does_not_buy_context():
    # A first visit: the client loses 4.6% (all it delivers has context), hybrid loses nothing
    # and forwards context on 99.8% of events. Measured on delivered events the client looked
    # better (0% against 0.2% without context); on true events hybrid brings the context on
    # 99.8%, the client on 95.4%.
    m = measures(
        {"client": 0.046, "server": 0.0, "hybrid": 0.0, "dual": 0.0},
        {"client": 0.0, "server": 1.0, "hybrid": 0.002, "dual": 0.046},
    )
    d = decide(event(kind="first_visit", needs_context=["utm", "referrer"]), m, CONFIG)
    assert (d.path, d.rule, d.tied_with) == ("hybrid", "most_context_coverage", [])
    assert "99.8% of them" in d.reason


def test_no_context_needed_goes_to_the_cheapest_path_within_budget():
    d = decide(event(), measures(**TYPICAL), CONFIG)
    assert (d.path, d.rule) == ("server", "cheapest_within_budget")
    assert d.tied_with == ["hybrid", "dual"]


def test_a_larger_budget_keeps_the_client():
    generous = RecommendConfig(loss_budget=0.4)
    assert decide(event(), measures(**TYPICAL), generous).path == "client"
    # ... but not for an event that needs context: its 30% loss is 30% of events without it.
    d = decide(event(needs_context=["utm"]), measures(**TYPICAL), generous)
    assert (d.path, d.rule) == ("hybrid", "most_context_coverage")


def test_context_ties_go_to_the_cheaper_path():
    # The client brings context on 99.7% of events, hybrid on 99.8%: within the tie margin.
    m = measures({"client": 0.003, "server": 0.0, "hybrid": 0.0, "dual": 0.0}, TYPICAL["context"])
    d = decide(event(needs_context=["utm"]), m, CONFIG)
    assert (d.path, d.tied_with) == ("client", ["hybrid"])
    assert "hybrid did not bring it on significantly more" in d.reason
    # With the hybrid path made cheaper than the client, the same tie goes the other way.
    cheap_hybrid = RecommendConfig(costs={"hybrid": 0.5})
    assert decide(event(needs_context=["utm"]), m, cheap_hybrid).path == "hybrid"


def test_costs_are_configurable():
    d = decide(event(), measures(**TYPICAL), RecommendConfig(costs={"server": 5.0}))
    assert d.path == "hybrid"


def test_over_budget_everywhere_takes_the_least_loss():
    m = measures({"client": 0.30, "server": 0.50, "hybrid": 0.50, "dual": 0.15})
    d = decide(event(), m, CONFIG)
    assert (d.path, d.rule) == ("dual", "least_loss")
    assert d.warnings == ["no path meets the 5.0% loss budget"]


def test_over_budget_ties_on_loss_are_settled_by_context_then_cost():
    m = measures(
        {"client": 0.30, "server": 0.10, "hybrid": 0.10, "dual": 0.10},
        {"server": 1.0, "hybrid": 0.0, "dual": 0.0},
    )
    assert decide(event(needs_context=["utm"]), m, CONFIG).path == "hybrid"
    assert decide(event(), m, CONFIG).path == "server"


def test_borderline_loss_is_flagged():
    m = measures({"client": 0.049, "server": 0.0, "hybrid": 0.0, "dual": 0.0})
    m["client"] = with_loss(m["client"], 0.049, (0.045, 0.053))
    d = decide(event(), m, CONFIG)
    assert d.path == "client"
    assert d.warnings and d.warnings[0].startswith("borderline")


def test_a_loss_that_ties_with_the_budget_fits_it():
    budget, margin = 0.05, 0.005
    assert fits_budget(metric(0.05), budget, margin)
    assert fits_budget(metric(0.054), budget, margin)  # over by less than the margin
    assert not fits_budget(metric(0.056), budget, margin)  # over, significantly
    assert fits_budget(
        Metric(0.06, (0.045, 0.075), (0.06,), 500), budget, margin
    )  # not significant
    assert not fits_budget(Metric(math.nan, None, (math.nan,), 0.0), budget, margin)
    m = measures({"client": 0.06, "server": 0.0, "hybrid": 0.0, "dual": 0.0})
    m["client"] = with_loss(m["client"], 0.06, (0.045, 0.075))
    d = decide(event(), m, CONFIG)
    assert (d.path, d.rule) == ("client", "cheapest_within_budget")
    assert "not significantly over it" in d.reason
    assert d.warnings and d.warnings[0].startswith("borderline")
    m["client"] = with_loss(m["client"], 0.06, (0.056, 0.064))
    assert decide(event(), m, CONFIG).path == "server"


def test_differs_needs_both_significance_and_size():
    # One replication: two-proportion z test on the counts.
    assert differs(metric(0.10, n=10_000), metric(0.12, n=10_000), margin=0.005)
    assert not differs(metric(0.10, n=100), metric(0.12, n=100), margin=0.005)  # not significant
    assert not differs(metric(0.10, n=1e7), metric(0.104, n=1e7), margin=0.005)  # too small
    # Several replications: paired t test on the per-replication differences.
    a = metric(0.10, reps=(0.10, 0.11, 0.09, 0.10))
    b = metric(0.12, reps=(0.12, 0.13, 0.11, 0.12))  # always 2 points above: significant
    c = metric(0.12, reps=(0.05, 0.20, 0.02, 0.21))  # same mean, noisy: not significant
    assert differs(a, b, 0.005) and not differs(a, c, 0.005)
    assert not differs(metric(0.0), metric(0.0), 0.0)
    undefined = Metric(math.nan, None, (math.nan,), 0.0)
    assert differs(metric(0.0), undefined, 0.0) and not differs(undefined, undefined, 0.0)


def test_recommend_table_validates_like_the_rest_of_the_scenario():
    from simulator.config.loading import ScenarioError, parse_scenario

    base = {
        "population": {
            "users": 10,
            "segments": [
                {
                    "name": "s",
                    "share": 1.0,
                    "device": "desktop",
                    "browser": "chrome",
                    "countries": {"us": 1.0},
                    "channels": {"direct": 1.0},
                    "blockers": {"none": 1.0},
                }
            ],
        }
    }
    ok = parse_scenario({**base, "recommend": {"loss_budget": 0.1, "costs": {"dual": 2.5}}})
    assert ok.recommend.loss_budget == 0.1 and ok.recommend.cost("dual") == 2.5
    bad = {"loss_budget": 1.5, "costs": {"server": 0, "edge": 1}, "speed": 1}
    with pytest.raises(ScenarioError) as info:
        parse_scenario({**base, "recommend": bad})
    assert sorted(info.value.problems) == [
        "recommend.costs.edge: unknown key (allowed: client, server, hybrid, dual)",
        "recommend.costs.server: must be greater than 0, got 0",
        "recommend.loss_budget: must be less than or equal to 1, got 1.5",
        "recommend.speed: unknown key (allowed: costs, loss_budget, tie_margin)",
    ]
