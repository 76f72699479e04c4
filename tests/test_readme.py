"""The README is executable documentation: its commands, scenario and messages must be true."""

from __future__ import annotations

import re
import shlex
import tomllib
import typing
from pathlib import Path

import pytest

from simulator.config import extends
from simulator.config.distributions import Distribution
from simulator.config.loading import ScenarioError, load_scenario, parse_scenario, read_toml
from simulator.config.scenario import EVENT_KINDS, PATHS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SCENARIOS = ROOT / "scenarios"
QUICK_START = [
    "pip install -e . && trackloss run scenarios/baseline.toml",
    'pip install -e ".[test]" && python -m pytest',
]


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.M | re.S)
    assert match, f"README has no section {title!r}"
    return match[1]


def code_blocks(text: str, lang: str | None = None) -> list[str]:
    """Fenced code blocks in order (only those tagged ``lang`` when given)."""
    blocks: list[tuple[str, list[str]]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            if not inside:
                blocks.append((line[3:].strip(), []))
            inside = not inside
        elif inside:
            blocks[-1][1].append(line)
    return ["\n".join(body) for tag, body in blocks if lang is None or tag == lang]


def test_quick_start_is_exactly_the_two_commands() -> None:
    (block,) = code_blocks(section("Quick start"))
    assert block.splitlines() == QUICK_START


def test_ci_runs_the_second_command_verbatim() -> None:
    script = ROOT / ".ci" / "run"
    lines = script.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert lines[-1] == QUICK_START[1]
    assert script.stat().st_mode & 0o111, ".ci/run must be executable"
    assert not any("|| true" in line or "set +e" in line for line in lines)


def test_readme_scenario_is_valid() -> None:
    blocks = code_blocks(README, "toml")
    assert blocks, "README shows a scenario"
    for block in blocks:
        # An example that extends another file names it relative to scenarios/.
        data = extends.resolve(tomllib.loads(block), SCENARIOS / "example.toml", read_toml)
        scenario = parse_scenario(data)
        assert scenario.population.users > 0


def test_readme_validation_messages_are_what_validation_says() -> None:
    shown = [
        line.removeprefix("shop.toml: ")
        for line in code_blocks(section("Scenario files"))[-1].splitlines()
    ]
    assert len(shown) == 3
    data = tomllib.loads(code_blocks(README, "toml")[0])
    overrides = [
        "population.segments[1].share=1.7",
        "population.segments[0].blockers={adblock=1}",
        "behaviour.dwell_seconds={kind='weibull'}",
    ]
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, overrides)
    problems = [re.sub(r" \(from --set .*\)$", "", p) for p in info.value.problems]
    assert sorted(problems) == sorted(shown)


def test_readme_set_example_is_valid() -> None:
    (example,) = [b for b in code_blocks(section("Scenario files")) if "--set" in b]
    args = shlex.split(example.replace("\\\n", " "))
    assert args[:2] == ["trackloss", "run"]
    overrides = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    assert len(overrides) == 4
    scenario = load_scenario(ROOT / args[2], overrides)
    assert scenario.population.users == 5000
    assert scenario.client.transport == "beacon"
    assert scenario.population.segments[0].behaviour.return_probability == 0.5
    assert scenario.client.handler_fires["desktop.safari"] == 0.7


def test_readme_names_every_event_kind_path_and_distribution() -> None:
    scenario_files = section("Scenario files")
    for name in (*EVENT_KINDS, *PATHS):
        assert f"`{name}`" in scenario_files, name
    members = typing.get_args(typing.get_args(Distribution)[0])
    kinds = [typing.get_args(m.model_fields["kind"].annotation)[0] for m in members]
    table = [line for line in scenario_files.splitlines() if line.startswith("| `")]
    assert [line.split("`")[1] for line in table] == kinds
