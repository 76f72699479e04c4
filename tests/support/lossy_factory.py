"""A small scenario with every loss mechanism on, for parallel, shard, sweep and memory tests."""

from __future__ import annotations

from simulator.config.scenario import Scenario
from support.factories import lossless_dict, segment


def _segment(name: str, device: str, browser: str) -> dict:
    return segment(name, device, browser, {"none": 0.8, "extension_privacy": 0.2})


def lossy(users: int = 1500, replications: int = 3, instances: int = 2) -> Scenario:
    """Every loss mechanism on, three plans, small: seconds per run."""
    return Scenario.model_validate(lossy_dict(users, replications, instances))


def lossy_dict(users: int = 1500, replications: int = 3, instances: int = 2) -> dict:
    """:func:`lossy` as the raw table a TOML file would give."""
    return lossless_dict(
        users=users,
        simulation={"replications": replications, "seed": 11},
        population={
            "segments": [
                _segment("desk", "desktop", "chrome"),
                _segment("mob", "mobile", "safari"),
            ],
            "bots": {"share": 0.1},
        },
        plans=[
            {"name": "client"},
            {"name": "server", "default_path": "server"},
            {"name": "dual", "default_path": "dual"},
        ],
        client={
            "transport": "fetch",
            "failure_probability": 0.05,
            "retry": {"store": "local_storage"},
            "handler_fires": {"desktop": 0.9, "mobile": 0.6, "tablet": 0.6},
        },
        server={"instances": instances, "failure_probability": 0.01, "deploys_per_day": 2.0},
        collector={"outages_per_day": 1.0},
    )
