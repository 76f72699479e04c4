"""Run a scenario's replications in this process, one after another (what most tests want)."""

from __future__ import annotations

from simulator.config.scenario import Scenario
from simulator.replications.result import RunResult
from simulator.replications.runner import run as run_tasks


def run(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    progress: bool = False,
) -> RunResult:
    """Run every replication serially, unsharded: the reference the parallel runs must equal."""
    return run_tasks(
        scenario, replications, seed, workers=1, executor="serial", shards=1, progress=progress
    )
