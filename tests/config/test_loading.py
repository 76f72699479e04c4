"""Scenario loading: every validation rule's message, TOML errors, and ``--set`` overrides."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.config.loading import ScenarioError, load_scenario, parse_scenario
from simulator.config.overrides import parse_override
from simulator.config.scenario import Scenario

Data = dict[str, Any]


def seg(d: Data, i: int = 0) -> Data:
    return d["population"]["segments"][i]


def behaviour(d: Data) -> Data:
    return d.setdefault("behaviour", {})


def second_segment(d: Data, **changes: Any) -> None:
    other = copy.deepcopy(seg(d))
    other.update({"name": "second", **changes})
    d["population"]["segments"].append(other)


def problems_of(data: Data, overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, overrides)
    assert info.value.problems, "a ScenarioError must list at least one problem"
    return info.value.problems


def problem_at(problems: list[str], path: str) -> str:
    """Return the single problem reported at exactly ``path``."""
    found = [p for p in problems if p.startswith(f"{path}: ")]
    assert len(found) == 1, f"expected one problem at {path!r}, got {problems}"
    return found[0][len(path) + 2 :]


# (id, mutation, dotted path, rule fragment, value fragment)
INVALID: list[tuple[str, Callable[[Data], Any], str, str, str]] = [
    # --- scenario.py: population and segments
    ("zero users", lambda d: d["population"].update(users=0),
     "population.users", "must be greater than 0", "got 0"),
    ("users not an integer", lambda d: d["population"].update(users="many"),
     "population.users", "must be a valid integer", "got 'many'"),
    ("segment share above 1", lambda d: seg(d).update(share=1.7),
     "population.segments[0].share", "must be less than or equal to 1", "got 1.7"),
    ("segment share zero", lambda d: second_segment(d, share=0),
     "population.segments[1].share", "must be greater than 0", "got 0"),
    ("segment shares do not sum to 1", lambda d: second_segment(d, share=0.2),
     "population.segments[*].share", "must sum to 1", "got 1.2"),
    ("duplicate segment names",
     lambda d: (seg(d).update(share=0.5), second_segment(d, share=0.5, name="desktop_chrome")),
     "population.segments", "names must be unique", "got ['desktop_chrome', 'desktop_chrome']"),
    ("no segments", lambda d: d["population"].update(segments=[]),
     "population.segments", "must have at least 1 item", "got []"),
    ("country shares do not sum to 1", lambda d: seg(d).update(countries={"us": 0.5, "de": 0.4}),
     "population.segments[0].countries", "shares must sum to 1", "got 0.9"),
    ("country share out of range", lambda d: seg(d).update(countries={"us": 1.5, "de": -0.5}),
     "population.segments[0].countries.us", "must be between 0 and 1", "got 1.5"),
    ("blocker shares do not sum to 1", lambda d: seg(d).update(blockers={"none": 0.5}),
     "population.segments[0].blockers", "shares must sum to 1", "got 0.5"),
    ("unknown blocker kind", lambda d: seg(d).update(blockers={"adblock": 1.0}),
     "population.segments[0].blockers.adblock", "unknown key (allowed: none, extension_default",
     "dns)"),
    ("unknown device", lambda d: seg(d).update(device="phone"),
     "population.segments[0].device", "must be 'desktop', 'mobile' or 'tablet'", "got 'phone'"),
    ("undeclared channel", lambda d: seg(d).update(channels={"newsletter": 1.0}),
     "population.segments[0].channels", "names undeclared channels ['newsletter']",
     "declared: ['direct']"),
    ("bots share of 1", lambda d: d["population"].update(bots={"share": 1.0}),
     "population.bots.share", "must be less than or equal to 0.99", "got 1.0"),
    ("javascript_disabled out of range", lambda d: d["population"].update(javascript_disabled=-0.1),
     "population.javascript_disabled", "must be greater than or equal to 0", "got -0.1"),
    ("unknown key", lambda d: seg(d).update(devcie="desktop"),
     "population.segments[0].devcie",
     "unknown key (allowed: behaviour, blockers, blockers_by_country, browser, browser_versions, "
     "channels, countries, device, name, os, share)", "unknown key"),
    ("missing required key", lambda d: seg(d).pop("device"),
     "population.segments[0].device", "required key missing", "missing"),
    ("population missing", lambda d: d.pop("population"),
     "population", "required key missing", "missing"),
    ("population not a table", lambda d: d.update(population=3),
     "population", "must be a table", "got 3"),
    # --- scenario.py: behaviour
    ("probability out of range", lambda d: behaviour(d).update(return_probability=1.5),
     "behaviour.return_probability", "must be less than or equal to 1", "got 1.5"),
    ("funnel probability out of range",
     lambda d: behaviour(d).update(funnel=[0.4, 1.3, 0.6, 0.7]),
     "behaviour.funnel[1]", "must be between 0 and 1", "got 1.3"),
    ("funnel length mismatch", lambda d: behaviour(d).update(funnel=[0.4, 0.3, 0.6]),
     "behaviour.funnel", "must give one probability per funnel event (4:", "got 3"),
    ("segment funnel length mismatch",
     lambda d: seg(d).update(behaviour={"funnel": [0.5, 0.5]}),
     "population.segments[0].behaviour.funnel", "one probability per funnel event", "got 2"),
    ("last page exit shares", lambda d: behaviour(d).update(last_page_exit={"close": 0.5}),
     "behaviour.last_page_exit", "shares must sum to 1", "got 0.5"),
    # --- scenario.py: events, plans, simulation
    ("duplicate event names",
     lambda d: d.update(events=[{"name": "x", "kind": "ui"}, {"name": "x", "kind": "ui"}]),
     "events", "names must be unique", "got ['x', 'x']"),
    ("event name with a space", lambda d: d.update(events=[{"name": "a b", "kind": "ui"}]),
     "events[0].name", "may contain only letters, digits, '_', '.' and '-'", "got 'a b'"),
    ("duplicate plan names", lambda d: d.update(plans=[{"name": "p"}, {"name": "p"}]),
     "plans", "names must be unique", "got ['p', 'p']"),
    ("plan maps an unknown event",
     lambda d: d.update(events=[{"name": "view", "kind": "page_view"}],
                        plans=[{"name": "p", "paths": {"nope": "client"}}]),
     "plans[0].paths.nope", "maps unknown event 'nope'", "events: ['view']"),
    ("client_only on server",
     lambda d: d.update(events=[{"name": "replay", "kind": "client_only"}],
                        plans=[{"name": "p", "paths": {"replay": "server"}}]),
     "plans[0].paths.replay", "client_only and can only take the client path", "got 'server'"),
    ("offsite on client",
     lambda d: d.update(events=[{"name": "usage", "kind": "offsite"}],
                        plans=[{"name": "p", "paths": {"usage": "client"}}]),
     "plans[0].paths.usage", "offsite (no browser) and can only take the server path",
     "got 'client'"),
    ("unknown path", lambda d: d.update(plans=[{"name": "p", "default_path": "cloud"}]),
     "plans[0].default_path", "must be 'client', 'server', 'hybrid' or 'dual'", "got 'cloud'"),
    ("zero horizon", lambda d: d.update(simulation={"horizon_hours": 0}),
     "simulation.horizon_hours", "must be greater than 0", "got 0"),
    ("zero replications", lambda d: d.update(simulation={"replications": 0}),
     "simulation.replications", "must be greater than or equal to 1", "got 0"),
    # --- tracking_config.py
    ("handler_fires bad key", lambda d: d.update(client={"handler_fires": {"phone": 1.0}}),
     "client.handler_fires.phone", "must be a device ('desktop', 'mobile', 'tablet')",
     "'device.browser'"),
    ("handler_fires missing device",
     lambda d: d.update(client={"handler_fires": {"desktop": 1.0, "mobile": 1.0}}),
     "client.handler_fires", "needs a probability for every device", "missing ['tablet']"),
    ("handler_fires probability out of range",
     lambda d: d.update(client={"handler_fires": {"desktop": 1, "mobile": 1.2, "tablet": 1}}),
     'client.handler_fires.mobile', "must be between 0 and 1", "got 1.2"),
    ("handler_fires quoted key out of range",
     lambda d: d.update(client={"handler_fires": {"desktop": 1, "mobile": 1, "tablet": 1,
                                                  "desktop.safari": 2}}),
     'client.handler_fires."desktop.safari"', "must be between 0 and 1", "got 2"),
    ("unknown transport", lambda d: d.update(client={"transport": "websocket"}),
     "client.transport", "must be 'xhr', 'fetch', 'fetch_keepalive' or 'beacon'",
     "got 'websocket'"),
    ("client failure probability", lambda d: d.update(client={"failure_probability": 2}),
     "client.failure_probability", "must be less than or equal to 1", "got 2"),
    ("blocker rule probability", lambda d: d.update(client={"blocking": {"dns": {
        "vendor": 1, "cname": 1.5, "proxy": 0, "ads": 1, "beacon": 0}}}),
     "client.blocking.dns.cname", "must be less than or equal to 1", "got 1.5"),
    ("server queue size", lambda d: d.update(server={"max_queue_size": 0}),
     "server.max_queue_size", "must be greater than or equal to 1", "got 0"),
    ("collector dedupe window", lambda d: d.update(collector={"dedupe_window_hours": -1}),
     "collector.dedupe_window_hours", "must be greater than 0", "got -1"),
    # --- distributions.py
    ("unknown distribution kind", lambda d: behaviour(d).update(dwell_seconds={"kind": "weibull"}),
     "behaviour.dwell_seconds.kind", "unknown kind 'weibull' (allowed: constant, exponential, "
     "lognormal, gamma, uniform, geometric, poisson, empirical)", "'weibull'"),
    ("distribution without kind", lambda d: behaviour(d).update(dwell_seconds={"mean": 3}),
     "behaviour.dwell_seconds.kind", "required key missing (allowed kinds: constant", "empirical"),
    ("distribution not a table", lambda d: behaviour(d).update(dwell_seconds=5),
     "behaviour.dwell_seconds", "must be a table", "got 5"),
    ("lognormal median not positive",
     lambda d: behaviour(d).update(dwell_seconds={"kind": "lognormal", "median": -1, "sigma": 1}),
     "behaviour.dwell_seconds.median", "must be greater than 0", "got -1"),
    ("exponential mean not positive",
     lambda d: behaviour(d).update(return_gap_hours={"kind": "exponential", "mean": 0}),
     "behaviour.return_gap_hours.mean", "must be greater than 0", "got 0"),
    ("geometric mean below 1",
     lambda d: behaviour(d).update(pages_per_visit={"kind": "geometric", "mean": 0.5}),
     "behaviour.pages_per_visit.mean", "must be greater than or equal to 1", "got 0.5"),
    ("gamma unknown parameter",
     lambda d: behaviour(d).update(order_value={"kind": "gamma", "shape": 2, "scale": 3, "k": 1}),
     "behaviour.order_value.k", "unknown key (allowed: kind, scale, shape)", "unknown key"),
    ("uniform low >= high",
     lambda d: behaviour(d).update(order_value={"kind": "uniform", "low": 5, "high": 5}),
     "behaviour.order_value.high", "must be greater than low", "got low=5, high=5"),
    ("empirical weights mismatch",
     lambda d: behaviour(d).update(
         order_value={"kind": "empirical", "values": [1, 2, 3], "weights": [1, 2]}),
     "behaviour.order_value.weights", "must have one entry per value (3)", "got 2"),
    ("empirical negative weights",
     lambda d: behaviour(d).update(
         order_value={"kind": "empirical", "values": [1, 2], "weights": [1, -2]}),
     "behaviour.order_value.weights", "must be >= 0 with a positive sum", "got [1.0, -2.0]"),
    ("empirical without values",
     lambda d: behaviour(d).update(order_value={"kind": "empirical", "values": []}),
     "behaviour.order_value.values", "must have at least 1 item", "got []"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "path", "rule", "value"),
    [pytest.param(m, p, r, v, id=i) for i, m, p, r, v in INVALID],
)
def test_invalid_input_names_path_rule_and_value(
    minimal_scenario_dict: Data, mutate: Callable[[Data], Any], path: str, rule: str, value: str
) -> None:
    mutate(minimal_scenario_dict)
    message = problem_at(problems_of(minimal_scenario_dict), path)
    assert rule in message
    assert value in message


def test_minimal_scenario_is_valid(minimal_scenario_dict: Data) -> None:
    scenario = parse_scenario(minimal_scenario_dict)
    assert isinstance(scenario, Scenario)
    assert scenario.population.users == 200
    assert scenario.population.segments[0].blockers == {"none": 0.8, "extension_privacy": 0.2}


def test_parse_does_not_modify_its_input(minimal_scenario_dict: Data) -> None:
    before = copy.deepcopy(minimal_scenario_dict)
    parse_scenario(minimal_scenario_dict, ["population.users=5", "client.transport=beacon"])
    assert minimal_scenario_dict == before


def test_every_problem_is_reported_at_once(minimal_scenario_dict: Data) -> None:
    d = minimal_scenario_dict
    d["population"]["users"] = 0
    seg(d)["share"] = 1.7
    seg(d)["typo"] = 1
    d["simulation"] = {"horizon_hours": 0}
    d["client"] = {"transport": "pigeon"}
    problems = problems_of(d)
    assert len(problems) == 5
    paths = sorted(p.split(": ", 1)[0] for p in problems)
    assert paths == [
        "client.transport",
        "population.segments[0].share",
        "population.segments[0].typo",
        "population.users",
        "simulation.horizon_hours",
    ]


def test_error_string_prefixes_each_problem_with_the_source(minimal_scenario_dict: Data) -> None:
    minimal_scenario_dict["population"]["users"] = 0
    with pytest.raises(ScenarioError) as info:
        parse_scenario(minimal_scenario_dict, source="shop.toml")
    assert info.value.source == "shop.toml"
    assert str(info.value) == "shop.toml: population.users: must be greater than 0, got 0"


# --------------------------------------------------------------------------- files


def test_load_scenario_reads_a_file(minimal_scenario_dict: Data, write_scenario) -> None:
    path = write_scenario(minimal_scenario_dict)
    assert load_scenario(path).name == "minimal"
    assert load_scenario(str(path), ["name=renamed"]).name == "renamed"


def test_toml_syntax_error_names_file_line_and_column(tmp_path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n[population]\nusers = \n', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.problems == ["TOML syntax error at line 3, column 9: invalid value"]
    assert str(info.value).startswith(f"{path}: TOML syntax error at line 3, column 9")


def test_toml_error_at_end_of_file_still_names_line_and_column(tmp_path) -> None:
    path = tmp_path / "open.toml"
    path.write_text('name = "x"\nlist = [1,\n  2,', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    (problem,) = info.value.problems
    assert problem.startswith("TOML syntax error at line 3, column 5:")
    assert "end of file" in problem


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(lambda p: p / "absent.toml", "no such file", id="missing"),
        pytest.param(lambda p: p, "is a directory, not a scenario file", id="directory"),
        pytest.param(
            lambda p: (p / "latin1.toml").write_bytes(b'name = "caf\xe9"\n') and p / "latin1.toml",
            "not UTF-8 text: byte 0xe9 at line 1, column 12",
            id="not utf-8",
        ),
    ],
)
def test_unreadable_files_give_one_clear_line(tmp_path, make, expected) -> None:
    path = make(tmp_path)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith(expected)
    assert info.value.source == str(path)


# --------------------------------------------------------------------------- --set


@pytest.mark.parametrize(
    ("text", "parts", "value"),
    [
        ("population.users=5000", ["population", "users"], 5000),
        ("simulation.horizon_hours = 1.5", ["simulation", "horizon_hours"], 1.5),
        ("client.retry.store=none", ["client", "retry", "store"], "none"),
        ("name=My shop", ["name"], "My shop"),
        ('description="a = b"', ["description"], "a = b"),
        ("server.flush_on_exit=true", ["server", "flush_on_exit"], True),
        ("population.segments[0].share=0.5", ["population", "segments", 0, "share"], 0.5),
        ('client.handler_fires."desktop.safari"=0.9',
         ["client", "handler_fires", "desktop.safari"], 0.9),
        ("behaviour.funnel=[0.5, 0.5, 0.5, 0.5]", ["behaviour", "funnel"], [0.5] * 4),
        ("behaviour.dwell_seconds={kind='constant', value=3}", ["behaviour", "dwell_seconds"],
         {"kind": "constant", "value": 3}),
    ],
)  # fmt: skip
def test_parse_override(text: str, parts: list, value: Any) -> None:
    assert parse_override(text) == (parts, value)


def test_set_scalar(minimal_scenario_dict: Data) -> None:
    scenario = parse_scenario(minimal_scenario_dict, ["population.users=5000", "name=shop"])
    assert scenario.population.users == 5000
    assert scenario.name == "shop"


def test_set_creates_missing_nested_tables(minimal_scenario_dict: Data) -> None:
    scenario = parse_scenario(
        minimal_scenario_dict, ["client.retry.max_attempts=3", "simulation.seed=7"]
    )
    assert scenario.client.retry.max_attempts == 3
    assert scenario.client.retry.store == "local_storage"  # the rest keeps its default
    assert scenario.simulation.seed == 7


def test_set_list_index(minimal_scenario_dict: Data) -> None:
    overrides = [
        "population.segments[0].blockers={none=0.5, dns=0.5}",
        "population.segments[0].device=mobile",
    ]
    scenario = parse_scenario(minimal_scenario_dict, overrides)
    assert scenario.population.segments[0].blockers == {"none": 0.5, "dns": 0.5}
    assert scenario.population.segments[0].device == "mobile"


def test_set_value_is_validated_and_blamed(minimal_scenario_dict: Data) -> None:
    problems = problems_of(minimal_scenario_dict, ("population.users=-3",))
    assert problems == [
        "population.users: must be greater than 0, got -3 (from --set population.users=-3)"
    ]


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("population.users", "expected dotted.path=value"),
        ("=5", "malformed path"),
        ("population..users=5", "malformed path"),
        ("population.segments[x].share=1", "index [x] must be a whole number"),
        ("population.segments[-1].share=1", "index [-1] must be a whole number"),
        ("population.segments[3].share=1", "index [3] out of range: population.segments has 1"),
        ("population.users[0]=1", "population.users is not a list"),
        ("population.users.max=1", "population.users is not a table"),
        ("events[0].name=x", "events is not in the scenario"),
    ],
)
def test_bad_override_is_a_scenario_error_naming_it(
    minimal_scenario_dict: Data, override: str, fragment: str
) -> None:
    (problem,) = problems_of(minimal_scenario_dict, (override,))
    assert problem.startswith(f"--set {override}: ")
    assert fragment in problem


def test_every_bad_override_is_reported(minimal_scenario_dict: Data) -> None:
    problems = problems_of(minimal_scenario_dict, ("a", "population.users=1", "b[x]=1"))
    assert [p.split(":")[0] for p in problems] == ["--set a", "--set b[x]=1"]


# --------------------------------------------------------------------------- no input crashes

_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.just([]),
    st.just({}),
    st.just({"kind": "lognormal"}),
    st.just({"kind": ["x"]}),
    st.just([1, "a", {"b": None}]),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        out.append((*prefix, key))
        if isinstance(value, dict | list):
            out.extend(_paths(value, (*prefix, key)))
    return out


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_damage_gives_a_scenario_or_one_line_problems(
    minimal_scenario_dict: Data, data: st.DataObject
) -> None:
    d = copy.deepcopy(minimal_scenario_dict)
    d["behaviour"] = {"dwell_seconds": {"kind": "lognormal", "median": 25, "sigma": 1}}
    d["plans"] = [{"name": "p", "paths": {"page_viewed": "dual"}}]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(d)))
        parent = d
        try:
            for key in path[:-1]:
                parent = parent[key]
            value = data.draw(_ODD_VALUES)
            if value is None:
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(value)
        except (KeyError, IndexError, TypeError):
            continue
    try:
        scenario = parse_scenario(d)
    except ScenarioError as error:
        assert error.problems
        assert all(p and "\n" not in p and ": " in p for p in error.problems)
        assert "Input should" not in str(error)
        assert "Value error" not in str(error)
    else:
        assert isinstance(scenario, Scenario)
