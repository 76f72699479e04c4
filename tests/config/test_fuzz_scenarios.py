"""Damaged shipped scenarios: validate, then a small run, never ends in a traceback.

Each example takes a shipped scenario and changes one to three of its values: numbers to
extremes (0, negative, tiny, 1e308, inf, nan, 2**63, 10**30), values to another type (true,
a string, an array, a table), keys dropped or renamed. ``trackloss validate`` must then exit 2
with one located line per problem (``FILE: dotted.path: rule``), or exit 0, in which case a
small run (200 users, one replication) must exit 0 with only finite numbers in its JSON record,
or exit 2 with located lines. About a minute in the default run; ``-m slow`` runs the long
profile.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from simulator.cli.main import main

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = {p.name: tomllib.loads(p.read_text("utf-8")) for p in sorted(SCENARIOS.glob("*.toml"))}

EXTREME_NUMBERS = [0, 0.0, -1, -0.5, 1e-300, 1e308, -1e308, math.inf, -math.inf, math.nan,
                   2**63, 10**30, 1, 0.999999]  # fmt: skip
OTHER_TYPES = [True, False, "400", "", "x y", [], [1, "a"], {}, {"kind": "constant"}]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``node`` (keys and list indices)."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        out.append((*prefix, key))
        if isinstance(value, dict | list):
            out.extend(_paths(value, (*prefix, key)))
    return out


def _value(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


def _mutate(data: dict[str, Any], draw: st.DrawFn) -> None:
    """Change one value of ``data`` in place (a number, half of the time, so runs happen)."""
    paths = _paths(data)
    numeric = [p for p in paths if type(_value(data, p)) in (int, float)]
    if numeric and draw(st.booleans()):
        path, how = draw(st.sampled_from(numeric)), "number"
    else:
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["number", "type", "drop", "rename"]))
    parent = _value(data, path[:-1])
    key = path[-1]
    if how == "drop" and isinstance(parent, dict):
        del parent[key]
    elif how == "rename" and isinstance(parent, dict):
        parent[f"{key}_x"] = parent.pop(key)
    elif how == "type":
        parent[key] = copy.deepcopy(draw(st.sampled_from(OTHER_TYPES)))
    else:
        parent[key] = draw(st.sampled_from(EXTREME_NUMBERS))


def _located(output: str, source: Path) -> bool:
    lines = [line for line in output.splitlines() if line.strip()]
    return bool(lines) and all(
        line.startswith(f"{source}: ") and ": " in line[len(f"{source}: ") :] for line in lines
    )


def _numbers(node: Any) -> list[float]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _numbers(v)]
    if isinstance(node, list):
        return [x for v in node for x in _numbers(v)]
    return [node] if isinstance(node, float) else []


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(SHIPPED)))
    data = copy.deepcopy(SHIPPED[name])
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        if data:
            _mutate(data, draw)
    return name, data


def check_damaged_scenario(folder: Path, name: str, data: dict[str, Any], capsys) -> None:
    path = folder / f"damaged_{name}"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    capsys.readouterr()
    status = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert status in (0, 2), out + err
    if status == 2:
        event("invalid")
        assert _located(out, path), out
        assert err == "" and "Traceback" not in out
        return
    assert out == f"{path}: ok\n"
    record = folder / "record.json"
    record.unlink(missing_ok=True)
    status = main(["run", str(path), "--set", "population.users=200", "--replications", "1",
                   "--workers", "1", "--quiet", "--json", str(record)])  # fmt: skip
    out, err = capsys.readouterr()
    assert status in (0, 2), out + err
    if status == 2:
        assert _located(out + err, path), out + err
        return
    event("ran")
    numbers = _numbers(json.loads(record.read_text("utf-8")))
    assert numbers and all(math.isfinite(x) for x in numbers)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A copy of the shipped scenarios, so a damaged file still finds what it extends."""
    out = tmp_path_factory.mktemp("fuzz")
    for path in SCENARIOS.glob("*.toml"):
        shutil.copy(path, out / path.name)
    return out


COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}


@settings(max_examples=200, **COMMON)  # 2000 more with -m slow, below
@given(case=damaged())
def test_damaged_scenarios_validate_or_run_without_a_traceback(folder, capsys, case) -> None:
    check_damaged_scenario(folder, *case, capsys)


@pytest.mark.slow
@settings(max_examples=2000, **COMMON)
@given(case=damaged())
def test_damaged_scenarios_long_profile(folder, capsys, case) -> None:
    check_damaged_scenario(folder, *case, capsys)
