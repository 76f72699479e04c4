"""Scenario files that are too large or nested too deeply end at once with one clear line."""

from __future__ import annotations

import pytest

from simulator.cli.main import main
from simulator.config.limits import MAX_DEPTH, MAX_FILE_BYTES
from simulator.config.loading import ScenarioError, parse_scenario, read_toml


def test_validate_dev_zero_is_refused_by_size(capsys) -> None:
    assert main(["validate", "/dev/zero"]) == 2
    assert capsys.readouterr().out == ("/dev/zero: larger than 1 MiB: not a scenario file\n")


def test_a_file_just_over_the_cap_is_refused_and_one_under_is_read(tmp_path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(ScenarioError, match="larger than 1 MiB"):
        read_toml(big)
    fits = tmp_path / "fits.toml"
    fits.write_bytes(b"#" * (MAX_FILE_BYTES - 1) + b"\n")
    assert read_toml(fits) == {}


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 1500 + "]" * 1500 + "\n",
        "a = " + "{ b = " * 1500 + "1" + " }" * 1500 + "\n",
        "[" + ".".join(["a"] * 1500) + "]\nx = 1\n",
    ],
    ids=["arrays", "inline tables", "table header"],
)
def test_toml_nested_1500_deep_is_a_problem_not_a_recursion_error(tmp_path, capsys, text) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().out == (
        f"{path}: tables and arrays nested more than {MAX_DEPTH} deep\n"
    )


def test_deep_override_path_is_refused(minimal_scenario_dict) -> None:
    path = ".".join(["client"] + ["x"] * 1500)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(minimal_scenario_dict, [f"{path}=1"])
    assert info.value.problems == [
        f"tables and arrays nested more than {MAX_DEPTH} deep (after --set)"
    ]


def test_deep_override_value_is_read_as_text_and_rejected_where_text_is_wrong(
    minimal_scenario_dict,
) -> None:
    value = "[" * 1500 + "]" * 1500
    with pytest.raises(ScenarioError) as info:
        parse_scenario(minimal_scenario_dict, [f"population.users={value}"])
    [problem] = info.value.problems
    assert problem.startswith("population.users: must be a valid integer, got '[[[")
