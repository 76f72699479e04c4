"""Runs are costed before they start: impossible ones refused at once, the worker count chosen."""

from __future__ import annotations

import argparse
import logging
import time

import pytest
from support.lossy_factory import lossy

from simulator.cli.main import main
from simulator.cli.options import memory_size
from simulator.config.loading import load_scenario
from simulator.replications import budget, idle_cores, runner


def _baseline(users: int):
    return load_scenario("scenarios/baseline.toml", [f"population.users={users}"])


@pytest.mark.wall_clock
def test_a_billion_users_is_refused_at_once_naming_the_estimate() -> None:
    start = time.perf_counter()
    with pytest.raises(budget.BudgetError) as info:
        runner.run(_baseline(10**9), workers=1)
    assert time.perf_counter() - start < 2.0
    message = str(info.value)
    assert "population.users = 1,000,000,000 needs about" in message
    assert "GB of memory" in message and "--shards" in message and "--dask" in message


def test_max_memory_refuses_on_the_command_line(capsys) -> None:
    args = ["run", "scenarios/baseline.toml", "--set", "population.users=200000"]
    assert main([*args, "--quiet", "--max-memory", "100M"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "100 MB allowed by --max-memory" in err[0]


def test_a_run_past_half_the_allowance_is_announced(caplog) -> None:
    sc = lossy(users=300, replications=1)
    cost = budget.estimate(sc, 1, 300, 1)
    with caplog.at_level(logging.WARNING, logger="trackloss"):
        runner.run(sc, workers=1, max_memory=1.5 * cost.peak_bytes)
    assert any("needs about" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("text", "expected"), [("512M", 512 * 1024**2), ("8G", 8 * 1024**3), ("2GiB", 2 * 1024**3)]
)
def test_sizes_are_read_in_powers_of_1024(text: str, expected: float) -> None:
    assert memory_size(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1G", "0", "nanG", "infM"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected a size"):
        memory_size(text)


@pytest.mark.parametrize("forked", [True, False])
def test_workers_come_from_the_work(monkeypatch, forked: bool) -> None:
    # One task, or a run too small to repay a pool's start, runs in this process: the Quick
    # start run (3 x 20k users) on 2 cores is one of them. 4 x 10k users repay forked workers
    # (about 0.3 s to start), not fresh ones (1.5 s).
    monkeypatch.setattr(budget, "forks_workers", lambda: forked)
    assert budget.choose_workers(_baseline(10**6), 1, 10**6, 8) == 1
    assert budget.choose_workers(lossy(users=1500), 3, 1500, 8) == 1
    assert budget.choose_workers(_baseline(20_000), 3, 20_000, 2) == 1
    assert budget.choose_workers(_baseline(10_000), 4, 10_000, 2) == (2 if forked else 1)
    assert budget.choose_workers(_baseline(100_000), 4, 100_000, 2) == 2
    assert budget.choose_workers(_baseline(100_000), 8, 100_000, 4) == 4


def test_expected_events_per_user_bound_the_simulated_ones() -> None:
    # An upper bound (returns cut short by the horizon), within a factor of two.
    sc = _baseline(3000)
    meta = runner.run(sc, workers=1).metas[0]
    simulated = meta["events"] / meta["users"]
    assert simulated <= budget.events_per_user(sc) <= 2 * simulated


def test_a_run_that_would_use_a_pool_checks_the_cores_idle_now(monkeypatch) -> None:
    # 4 x 100k users choose two workers on an idle 2-core machine; with one core busy right
    # now the run stays in one process.
    sc = _baseline(100_000)
    chosen = []
    monkeypatch.setattr(idle_cores, "idle_cores", lambda cores: 2)
    monkeypatch.setattr(idle_cores, "idle_now", lambda cores: chosen.append(cores) or 1)
    monkeypatch.setattr(runner, "outcomes", lambda *a, **k: (_ for _ in ()).throw(_Stop(k)))
    with pytest.raises(_Stop) as stop:
        runner.run(sc, replications=4)
    assert chosen == [2]
    assert stop.value.args[0]["workers"] == 1


class _Stop(Exception):
    """Raised where the run would start its tasks, with the options it would start them with."""
