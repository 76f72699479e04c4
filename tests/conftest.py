"""Shared fixtures: a minimal valid scenario, and a way to write one as a TOML file.

A run can be spread over processes (pytest-xdist: ``-n 2 --dist loadgroup``); the hook below
says which tests must then stay together on one worker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ONE_AT_A_TIME = ("bench", "lab", "wall_clock")
"""Marks of tests that time themselves or drive a browser: two of them never run at once."""


def _shares_a_module_fixture(item: pytest.Item) -> bool:
    """Whether the test reads a module- or class-scoped fixture of its own module."""
    definitions = getattr(item, "_fixtureinfo", None)
    if definitions is None:
        return False
    for defs in definitions.name2fixturedefs.values():
        for fixture in defs:
            if (
                fixture.scope in ("module", "class")
                and fixture.baseid == item.nodeid.split("::")[0]
            ):
                return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group tests for a parallel run: timed ones together, a module's shared run computed once.

    Tests that assert a wall-clock time, benchmarks and the browser lab all go to one worker,
    one after another, so that they do not slow each other down. Tests of a module that share
    an expensive module-scoped fixture go to one worker, which computes it once.
    """
    for item in items:
        if any(item.get_closest_marker(name) for name in ONE_AT_A_TIME):
            item.add_marker(pytest.mark.xdist_group("one_at_a_time"))
        elif _shares_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.fixture
def minimal_scenario_dict() -> dict[str, Any]:
    """Return a fresh, minimal, valid scenario: one desktop/chrome segment, 200 users."""
    return {
        "name": "minimal",
        "population": {
            "users": 200,
            "segments": [
                {
                    "name": "desktop_chrome",
                    "share": 1.0,
                    "device": "desktop",
                    "browser": "chrome",
                    "countries": {"us": 1.0},
                    "channels": {"direct": 1.0},
                    "blockers": {"none": 0.8, "extension_privacy": 0.2},
                }
            ],
        },
    }


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_inline(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(data: dict[str, Any]) -> str:
    """Write a scenario dict as TOML: a table per top-level table, inline values inside."""
    scalars = [f"{_key(k)} = {_inline(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [
        f"[{_key(k)}]\n" + "".join(f"{_key(kk)} = {_inline(vv)}\n" for kk, vv in v.items())
        for k, v in data.items()
        if isinstance(v, dict)
    ]
    return "\n".join(["\n".join(scalars) + "\n", *tables])


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    """Return a function that writes a scenario dict to a TOML file under ``tmp_path``."""

    def write(data: dict[str, Any], name: str = "scenario.toml") -> Path:
        path = tmp_path / name
        path.write_text(to_toml(data), encoding="utf-8")
        return path

    return write


@pytest.fixture(params=["arrays", "pages"])
def client_path(request, monkeypatch) -> str:
    """Run the test with each way of settling browser copies.

    ``arrays`` is the engine's choice for one-request-per-event libraries; ``pages`` makes it
    settle every library's copies page by page, as it does for batching libraries.
    """
    if request.param == "pages":
        from simulator.model import window
        from simulator.model.client.paged import PagedClient

        monkeypatch.setattr(window, "settler_kind", lambda scenario, paged=False: PagedClient)
    return request.param


@pytest.fixture
def arrays_only(monkeypatch) -> None:
    """Settle as a package built without the compiled page loop does: on arrays."""
    from simulator.model.client import looped

    monkeypatch.setattr(looped, "PageLoop", None)
