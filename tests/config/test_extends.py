"""Scenario files that extend another: merging, chains, loops and located errors."""

from __future__ import annotations

import pytest

from simulator.cli.main import main
from simulator.config.extends import merge
from simulator.config.loading import ScenarioError, load_scenario

BASE = """
name = "base"
[population]
users = 300
[[population.segments]]
name = "desk"
share = 1.0
device = "desktop"
browser = "chrome"
countries = { us = 1.0 }
channels = { direct = 1.0 }
blockers = { none = 0.9, extension_privacy = 0.1 }
[client]
transport = "fetch"
batch_size = 1
[[plans]]
name = "client"
"""


def write(folder, name, text):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_tables_merge_and_everything_else_is_replaced():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": [{"n": 1}], "c": 3}
    top = {"a": {"y": [9]}, "b": [{"n": 2}, {"n": 3}]}
    assert merge(base, top) == {"a": {"x": 1, "y": [9]}, "b": [{"n": 2}, {"n": 3}], "c": 3}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": [{"n": 1}], "c": 3}  # inputs untouched


def test_a_file_states_only_what_changes(tmp_path):
    write(tmp_path, "base.toml", BASE)
    sub = tmp_path / "variants"
    sub.mkdir()
    path = write(sub, "proxy.toml", 'extends = "../base.toml"\nname = "proxy"\n'
                 '[client]\ndestination = "proxy"\n[[plans]]\nname = "dual"\n'
                 'default_path = "dual"\n')  # fmt: skip
    sc = load_scenario(path, ["population.users=50"])
    assert sc.name == "proxy" and sc.population.users == 50  # --set applies after the merge
    assert sc.client.destination == "proxy" and sc.client.transport == "fetch"
    assert [p.name for p in sc.plans] == ["dual"]  # arrays of tables replace the base's


def test_chains_resolve_and_loops_are_reported(tmp_path):
    write(tmp_path, "base.toml", BASE)
    write(tmp_path, "mid.toml", 'extends = "base.toml"\n[client]\ntransport = "beacon"\n')
    top = write(tmp_path, "top.toml", 'extends = "mid.toml"\n[client]\nbatch_size = 5\n')
    sc = load_scenario(top)
    assert (sc.client.transport, sc.client.batch_size, sc.name) == ("beacon", 5, "base")
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "a.toml")
    assert info.value.problems == [
        "extends: scenario files extend each other in a loop: a.toml -> b.toml -> a.toml"
    ]


def test_bad_extends_gets_a_one_line_problem(tmp_path, capsys):
    missing = write(tmp_path, "m.toml", 'extends = "nowhere.toml"\n')
    assert main(["validate", str(missing)]) == 2
    out = capsys.readouterr().out
    assert out == (
        f"{missing}: extends: cannot use 'nowhere.toml' ({tmp_path / 'nowhere.toml'}): "
        "no such file\n"
    )
    wrong = write(tmp_path, "w.toml", "extends = 3\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(wrong)
    assert info.value.problems == ["extends: must be the path of another scenario file, got 3"]


def test_the_merged_scenario_is_what_validation_sees(tmp_path):
    write(tmp_path, "base.toml", BASE)
    bad = write(tmp_path, "bad.toml", 'extends = "base.toml"\n[client]\nbatch_size = 0\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    assert info.value.problems[0].startswith("client.batch_size: must be greater than or equal")


def test_a_broken_base_is_reported_on_the_file_that_extends_it(tmp_path):
    write(tmp_path, "base.toml", "name = \n")
    top = write(tmp_path, "top.toml", 'extends = "base.toml"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(top)
    assert info.value.source == str(top)
    [problem] = info.value.problems
    assert problem.startswith(f"extends: cannot use 'base.toml' ({tmp_path / 'base.toml'}): ")
    assert "TOML syntax error at line 1" in problem


def test_extends_dev_zero_ends_at_once_with_a_message(tmp_path):
    top = write(tmp_path, "top.toml", 'extends = "/dev/zero"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(top)
    assert info.value.problems == [
        "extends: cannot use '/dev/zero' (/dev/zero): larger than 1 MiB: not a scenario file"
    ]
