"""The scenario's validators raise typed errors with a context; one table words them all."""

from __future__ import annotations

import string

import pytest
from pydantic import ValidationError

from simulator.config.scenario import Scenario
from simulator.config.wording import OWN_RULES, RULES, number, word


def _errors(data) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    return info.value.errors(include_url=False)


def test_own_rules_carry_their_type_and_where_below_the_validator(minimal_scenario_dict):
    seg = minimal_scenario_dict["population"]["segments"][0]
    seg["countries"] = {"us": 1.5, "de": -0.5}
    [error] = _errors(minimal_scenario_dict)
    assert error["type"] == "between_0_and_1"
    assert error["loc"] == ("population", "segments", 0, "countries")
    assert error["ctx"]["at"] == ("us",)
    assert error["ctx"]["value"] == "1.5"


def test_a_scenario_wide_rule_points_at_the_key_at_fault(minimal_scenario_dict):
    minimal_scenario_dict["events"] = [{"name": "view", "kind": "page_view"}]
    minimal_scenario_dict["plans"] = [{"name": "p", "paths": {"nope": "client"}}]
    [error] = _errors(minimal_scenario_dict)
    assert (error["type"], error["loc"]) == ("unknown_event", ())
    assert error["ctx"]["at"] == ("plans", 0, "paths", "nope")


def test_every_template_names_only_what_its_context_gives():
    for kind, template in RULES.items():
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        filled = word(kind, dict.fromkeys(fields, 1) | {"min_length": 2, "max_length": 2})
        assert filled is not None and "{" not in filled, kind


def test_own_rules_state_the_value_given_themselves():
    for kind in OWN_RULES - {"every_device", "handler_key", "undeclared_channels", "unknown_event"}:
        assert ", got " in RULES[kind], kind


def test_unknown_types_are_left_to_the_caller():
    assert word("no_such_type", {}) is None


@pytest.mark.parametrize(
    ("value", "shown"), [(0, "0"), (1.0, "1"), (0.99, "0.99"), (8784.0, "8784"), (1e9, "1e+09")]
)
def test_bounds_are_written_briefly(value, shown):
    assert number(value) == shown
