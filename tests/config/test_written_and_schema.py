"""``validate --print`` writes the effective scenario as TOML that reads back to the same
scenario, and ``schema`` describes files as written, ``extends`` included."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from simulator.cli.main import main
from simulator.config.loading import load_scenario, parse_scenario

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_printed_scenario_validates_again_to_the_same_scenario(path: Path, capsys) -> None:
    assert main(["validate", "--print", str(path), "--set", "population.users=1234"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    printed = tomllib.loads(out)
    assert "extends" not in printed
    again = parse_scenario(printed)
    assert again == load_scenario(path, ["population.users=1234"])
    assert again.population.users == 1234


def test_printed_scenario_states_every_default(minimal_scenario_dict, write_scenario, capsys):
    path = write_scenario(minimal_scenario_dict)
    assert main(["validate", "--print", str(path)]) == 0
    printed = tomllib.loads(capsys.readouterr().out)
    assert printed["simulation"] == {
        "horizon_hours": 24.0, "drain_hours": 24.0, "replications": 1, "seed": 20261129,
    }  # fmt: skip
    assert printed["client"]["retry"]["max_attempts"] == 10
    assert printed["behaviour"]["dwell_seconds"] == {
        "kind": "lognormal", "median": 25.0, "sigma": 1.0,
    }  # fmt: skip
    assert {e["name"] for e in printed["events"]} >= {"page_viewed", "order_completed"}


def test_print_of_an_invalid_file_prints_no_toml(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[population]\nusers = true\n", encoding="utf-8")
    assert main(["validate", "--print", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{bad}: population.users: must be a valid integer, got true" in err


def test_print_takes_one_file(capsys) -> None:
    assert main(["validate", "--print", str(SCENARIOS[0]), str(SCENARIOS[1])]) == 2
    assert "exactly one FILE" in capsys.readouterr().err


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    from simulator.config.as_written import file_schema

    schema = file_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_schema_accepts_every_shipped_scenario_as_written(validator, path: Path) -> None:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(data)] == []


def test_at_least_one_shipped_scenario_extends_another() -> None:
    assert any("extends" in tomllib.loads(p.read_text(encoding="utf-8")) for p in SCENARIOS)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"population": {"users": 5}}, "'segments' is a required property"),
        ({"name": "x"}, "'population' is a required property"),
        ({"extends": "b.toml", "population": {"users": True}}, "is not of type 'integer'"),
        ({"extends": "b.toml", "nope": 1}, "'nope' was unexpected"),
        ({"extends": "b.toml", "name": "a b"}, "does not match"),
        ({"extends": "b.toml", "simulation": {"horizon_hours": 1e9}}, "greater than the maximum"),
        ({"extends": "b.toml", "client": {"retry": {"stor": "none"}}}, "'stor' was unexpected"),
    ],
)
def test_schema_rejects_what_validation_rejects(validator, data, fragment) -> None:
    messages = [e.message for e in validator.iter_errors(data)]
    assert any(fragment in m for m in messages), messages


def test_schema_allows_a_partial_table_over_a_base(validator) -> None:
    data = {"extends": "baseline.toml", "population": {"users": 50}, "client": {"batch_size": 5}}
    assert list(validator.iter_errors(data)) == []


def test_schema_command_prints_the_file_schema(capsys) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "extends" in schema["properties"]
    assert schema["else"]["required"] == ["population"]
