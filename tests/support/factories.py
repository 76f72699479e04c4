"""Scenario builders for engine tests: a fully controllable site with nothing lossy by default."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.client.page import standalone
from simulator.model.population import Visitor
from simulator.model.routing import shared_client_routes


def const(value: float) -> dict:
    return {"kind": "constant", "value": value}


def segment(
    name: str,
    device: str,
    browser: str,
    blockers: dict | None = None,
    share: float = 0.5,
    countries: dict | None = None,
    channels: dict | None = None,
) -> dict:
    """A population segment; by default US direct traffic with no blocker."""
    return {
        "name": name,
        "share": share,
        "device": device,
        "browser": browser,
        "countries": countries or {"us": 1.0},
        "channels": channels or {"direct": 1.0},
        "blockers": blockers or {"none": 1.0},
    }


def lossless_dict(users: int = 2000, **overrides: Any) -> dict:
    """A scenario where nothing is lost unless a test turns a mechanism on."""
    base: dict[str, Any] = {
        "name": "lossless",
        "simulation": {"horizon_hours": 24, "drain_hours": 24, "replications": 1, "seed": 7},
        "population": {
            "users": users,
            "segments": [segment("desk", "desktop", "chrome"), segment("mob", "mobile", "safari")],
        },
        "client": {
            "transport": "fetch_keepalive",
            "script_load_seconds": const(0.0),
            "failure_probability": 0.0,
            "handler_fires": {"desktop": 1.0, "mobile": 1.0, "tablet": 1.0},
            "retry": {"store": "none"},
            "keepalive_quota_bytes": 10_000_000,
        },
        "server": {"failure_probability": 0.0, "deploys_per_day": 0.0},
        "collector": {"outages_per_day": 0.0},
    }
    return merge(base, overrides)


def merge(base: dict, overrides: dict) -> dict:
    """Deep-merge ``overrides`` into a copy of ``base`` (dicts merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        # A distribution ({"kind": ...}) replaces the old one whole.
        if isinstance(value, dict) and isinstance(out.get(key), dict) and "kind" not in value:
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def scenario(**overrides: Any) -> Scenario:
    return Scenario.model_validate(lossless_dict(**overrides))


def two_path_site(
    segments: list[dict],
    users: int = 1500,
    seed: int | None = None,
    plan: str = "dual",
    client_failure: float = 0.1,
    server_failure: float = 0.15,
    **overrides: Any,
) -> Scenario:
    """A site that sends every event on both paths, whose paths miss events independently.

    What ``trackloss estimate`` assumes within a segment: no bots; the browser fails a share
    ``client_failure`` of its requests, and each server event is its own upload, never
    retried, failing with ``server_failure``. ``overrides`` are merged last.
    """
    d = lossless_dict(users, plans=[{"name": plan, "default_path": "dual"}])
    d["population"]["segments"] = segments
    d["population"]["bots"] = {"share": 0.0}
    settings: dict[str, Any] = {
        "client": {"failure_probability": client_failure},
        "server": {"failure_probability": server_failure, "max_retries": 0, "batch_size": 1},
    }
    if seed is not None:
        settings["simulation"] = {"seed": seed}
    return Scenario.model_validate(merge(d, merge(settings, overrides)))


def replication(sc: Scenario, seed: int = 1, log=None) -> SimpleNamespace:
    """A client path to drive synthetic pages through, with the buffer it counts into."""
    client, buffer = standalone(sc, np.random.SeedSequence(seed), log)
    routes = shared_client_routes(sc)
    return SimpleNamespace(client=client, buffer=buffer, client_routes=routes)


def visitor(handler_p: float = 1.0, blocked: bool = False, javascript: bool = True) -> Visitor:
    return Visitor.make(
        handler_p=handler_p, blocked=blocked, blocked_ads=blocked, javascript=javascript
    )
