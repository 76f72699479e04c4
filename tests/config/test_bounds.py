"""Every number a scenario states is finite, strictly typed and within what the engine simulates.

Each override below used to validate: the run then ended in a traceback (numpy's "lam value
too large", "array is too big") or exited 0 with impossible numbers (inf latencies, revenue
inf, negative dwell times). Each must now be refused before anything runs, with exit 2 and one
line naming the key and the value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli.main import main
from simulator.config.loading import ScenarioError, load_scenario, parse_scenario, read_toml
from simulator.config.scenario import Scenario

BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.toml"

# (override, dotted path of the problem, fragment of its message)
OUT_OF_BOUNDS = [
    ("simulation.horizon_hours=inf", "simulation.horizon_hours", "must be a finite number"),
    ("simulation.horizon_hours=1.8e308", "simulation.horizon_hours", "must be a finite number"),
    ("simulation.horizon_hours=1.7e308", "simulation.horizon_hours", "less than or equal to 8784"),
    ("simulation.drain_hours=inf", "simulation.drain_hours", "must be a finite number"),
    ("simulation.horizon_hours=nan", "simulation.horizon_hours", "must be a finite number"),
    (f"population.users={10**30}", "population.users", "less than or equal to 1000000000"),
    (
        f"behaviour.pages_per_visit={{ kind = 'geometric', mean = {2.0**63} }}",
        "behaviour.pages_per_visit.mean",
        "less than or equal to 1e+09",
    ),
    (
        "behaviour.pages_per_visit={ kind = 'geometric', mean = 1e308 }",
        "behaviour.pages_per_visit.mean",
        "less than or equal to 1e+09",
    ),
    (
        "behaviour.pages_per_visit={ kind = 'geometric', mean = 5000.0 }",
        "behaviour.pages_per_visit",
        "mean must be at most 1000 pages per visit, got 5000",
    ),
    (
        "client.upload_latency_seconds={ kind = 'lognormal', median = inf, sigma = 0.6 }",
        "client.upload_latency_seconds.median",
        "must be a finite number",
    ),
    (
        "behaviour.order_value={ kind = 'lognormal', median = 60, sigma = 1e308 }",
        "behaviour.order_value.sigma",
        "less than or equal to 5",
    ),
    (
        "behaviour.dwell_seconds={ kind = 'constant', value = -5 }",
        "behaviour.dwell_seconds.value",
        "greater than or equal to 0, got -5",
    ),
    (
        "behaviour.time_to_unload_seconds={ kind = 'uniform', low = -1, high = 1 }",
        "behaviour.time_to_unload_seconds.low",
        "greater than or equal to 0",
    ),
    (
        "collector.outage_seconds={ kind = 'empirical', values = [60, -60] }",
        "collector.outage_seconds.values[1]",
        "greater than or equal to 0",
    ),
    ("population.bots.share=0.9999999", "population.bots.share", "less than or equal to 0.99"),
    ("server.backoff_factor=1e6", "server.backoff_factor", "less than or equal to 10"),
    # The server queues replay on the flush interval's tick grid: its index overflowed int64.
    (
        "server.flush_interval_seconds=1e-300",
        "server.flush_interval_seconds",
        "greater than or equal to 0.001, got 1e-300",
    ),
    ("server.upload_seconds=1e-300", "server.upload_seconds", "greater than or equal to 0.001"),
    # A browser batch timer below the clock's resolution never moved simulated time on.
    (
        "client.flush_interval_seconds=1e-300",
        "client.flush_interval_seconds",
        "greater than or equal to 0.001",
    ),
    ("simulation.seed=-1", "simulation.seed", "greater than or equal to 0"),
]

WRONG_TYPES = [
    ("population.users=true", "population.users", "must be a valid integer, got true"),
    ('population.users="400"', "population.users", "must be a valid integer, got '400'"),
    ("population.users=400.0", "population.users", "must be a valid integer, got 400.0"),
    ("simulation.horizon_hours=true", "simulation.horizon_hours", "must be a number, got true"),
    ('simulation.horizon_hours="24"', "simulation.horizon_hours", "must be a number, got '24'"),
    ('server.flush_on_exit="yes"', "server.flush_on_exit", "must be true or false"),
    ("population.segments[0].share=false", "population.segments[0].share", "must be a number"),
]


def _problem(override: str, path: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(read_toml(BASELINE), [override], source="baseline.toml")
    found = [p for p in info.value.problems if p.startswith(f"{path}: ")]
    assert len(found) == 1, info.value.problems
    return found[0]


@pytest.mark.parametrize(("override", "path", "rule"), OUT_OF_BOUNDS + WRONG_TYPES)
def test_value_the_engine_cannot_simulate_is_refused_at_its_key(
    override: str, path: str, rule: str
) -> None:
    problem = _problem(override, path)
    assert rule in problem
    assert problem.endswith(f"(from --set {override})")


@pytest.mark.parametrize(
    "override",
    [
        "simulation.horizon_hours=inf",
        f"population.users={10**30}",
        "population.users=true",
        "behaviour.dwell_seconds={ kind = 'constant', value = -5 }",
    ],
)
def test_run_refuses_before_simulating_with_exit_2(override: str, capsys) -> None:
    status = main(["run", str(BASELINE), "--set", override, "--workers", "1", "--quiet"])
    out, err = capsys.readouterr()
    assert status == 2
    lines = [line for line in (out + err).splitlines() if line]
    assert len(lines) == 1, lines
    assert "Traceback" not in out + err
    assert "(from --set" in lines[0]


def test_integers_are_numbers_and_values_within_bounds_validate() -> None:
    scenario = parse_scenario(
        read_toml(BASELINE),
        [
            "simulation.horizon_hours=8784",
            "population.users=1000000000",
            "behaviour.dwell_seconds={ kind = 'constant', value = 0 }",
            "behaviour.pages_per_visit={ kind = 'geometric', mean = 1000 }",
        ],
    )
    assert scenario.simulation.horizon_hours == 8784.0
    assert isinstance(scenario.simulation.horizon_hours, float)
    assert scenario.population.users == 10**9


def test_every_shipped_scenario_is_within_bounds() -> None:
    for path in sorted(BASELINE.parent.glob("*.toml")):
        assert isinstance(load_scenario(path), Scenario)
