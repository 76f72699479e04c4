"""Parallel runs: same bytes for any worker count and executor; shards merge like the whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest
from scipy import stats
from support.lossy_factory import lossy
from support.running import run as serial_run

from simulator.model.tally import CAUSES, DIMENSIONS, M
from simulator.replications import executors, runner
from simulator.replications.executors import ExecutorError, OptionError, WorkerDied, outcomes
from simulator.replications.result import RunResult
from simulator.stats.summary import summarise


def as_bytes(result: RunResult) -> bytes:
    return json.dumps(summarise(result), sort_keys=True).encode()


def same(a: RunResult, b: RunResult) -> None:
    assert as_bytes(a) == as_bytes(b)
    assert len(a.tallies) == len(b.tallies)
    for x, y in zip(a.tallies, b.tallies, strict=True):
        assert np.array_equal(x.totals(), y.totals())
        for dim in DIMENSIONS:
            assert np.array_equal(x.marginal(dim), y.marginal(dim))
    assert np.array_equal(a.total.counts, b.total.counts)
    assert a.metas == b.metas


@pytest.fixture(params=["forked", "fresh"])
def workers_start(request, monkeypatch) -> str:
    """Both ways a pool starts its workers: forked from this process, or fresh interpreters."""
    monkeypatch.setattr(executors, "forks_workers", lambda: request.param == "forked")
    return request.param


# --------------------------------------------------------------------------- determinism


def test_worker_counts_and_executors_give_the_same_bytes(workers_start) -> None:
    sc = lossy()
    serial = runner.run(sc, executor="serial")
    same(serial, runner.run(sc, workers=1))
    same(serial, runner.run(sc, workers=2))
    same(serial, runner.run(sc, workers=2, executor="process"))


def test_unsharded_parallel_run_is_the_serial_run_byte_for_byte() -> None:
    sc = lossy(replications=2)
    same(serial_run(sc), runner.run(sc, workers=2))


def test_sharded_runs_are_the_same_for_any_worker_count() -> None:
    sc = lossy(replications=2)
    one = runner.run(sc, workers=1, shards=2)
    same(one, runner.run(sc, workers=2, shards=2))
    assert one.extra["shards"] == 2


def test_results_come_back_in_index_order_whatever_finishes_first() -> None:
    items = [0.3, 0.0, 0.15]  # the first item finishes last
    got = {}
    for i, value, error in outcomes(_nap, items, workers=3):
        assert error is None
        got[i] = value
    assert [got[i] for i in range(3)] == items


def _nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def _frozen(_: int) -> int:
    import gc

    return gc.get_freeze_count()


def test_pool_workers_keep_what_they_start_with_out_of_full_collections(workers_start) -> None:
    # A worker starts with the simulator imported (forked, or imported afresh): the full
    # collection loky forces after its first task must not walk all of it again.
    counts = [v for _, v, _ in outcomes(_frozen, [0, 1], workers=2)]
    assert min(counts) > 1000, counts


@pytest.mark.parametrize(("workers", "executor"), [(2, "process"), (1, "process"), (2, "serial")])
def test_meanwhile_runs_once_here_before_any_outcome(workers, executor) -> None:
    calls = []
    stream = outcomes(
        _nap,
        [0.05, 0.05, 0.05],
        workers=workers,
        executor=executor,
        meanwhile=lambda: calls.append(os.getpid()),
    )
    seen = []
    for i, _, error in stream:
        assert error is None
        seen.append((i, list(calls)))
    assert calls == [os.getpid()]  # once, in this process
    assert all(before == calls for _, before in seen)  # and before the first outcome


def test_a_run_calls_meanwhile_once() -> None:
    calls = []
    runner.run(lossy(replications=2), workers=2, meanwhile=lambda: calls.append(1))
    runner.run(lossy(replications=1), meanwhile=lambda: calls.append(2))
    assert calls == [1, 2]


def test_an_error_in_a_worker_reaches_the_caller(workers_start) -> None:
    with pytest.raises(ZeroDivisionError):
        for _, _, error in outcomes(_invert, [1.0, 0.0], workers=2):
            if error is not None:
                raise error


def _invert(x: float) -> float:
    return 1 / x


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "workers must be at least 1, got 0"),
        ({"executor": "threads"}, "executor must be one of process, serial, dask, got 'threads'"),
        ({"shards": 5000}, "shards must be between 1 and population.users (1500), got 5000"),
    ],
)
def test_bad_options_name_the_parameter(kwargs: dict, message: str) -> None:
    with pytest.raises(OptionError) as info:
        runner.run(lossy(), **kwargs)
    assert str(info.value) == message


# --------------------------------------------------------------------------- shards


@pytest.mark.parametrize(
    ("users", "instances", "expected"),
    [(20_000, 2, 1), (200_000, 2, 1), (200_001, 2, 2), (1_000_000, 2, 2), (1_000_000, 10, 5),
     (1_000_000, 3, 3), (1_000_000, 1, 1), (650_000, 12, 4)],
)  # fmt: skip
def test_automatic_shard_count_divides_instances(users: int, instances: int, expected: int) -> None:
    sc = lossy(users=users, instances=instances)
    assert runner.auto_shards(sc) == expected


def test_shards_split_users_and_instances() -> None:
    sc = lossy(users=1001, instances=4)
    parts = runner.shard_scenarios(sc, 2)
    assert [p.population.users for p in parts] == [501, 500]
    assert [p.server.instances for p in parts] == [2, 2]
    odd = runner.shard_scenarios(sc, 3)  # 3 does not divide 4: instances 2, 1, 1
    assert [p.server.instances for p in odd] == [2, 1, 1]
    assert sum(p.population.users for p in odd) == 1001
    assert [p.population.users for p in odd] == [501, 250, 250]
    assert all(p.events == sc.events and p.plans == sc.plans for p in parts)


def test_each_shard_has_its_own_spawned_stream() -> None:
    tasks = runner.plan_tasks(lossy(replications=2), shards=3)
    keys = [t.seed.spawn_key for t in tasks]
    assert keys == [(r, s) for r in range(2) for s in range(3)]
    assert len({t.seed.entropy for t in tasks}) == 1


def test_sharded_tallies_add_up_exactly() -> None:
    sc = lossy(users=2000, replications=2)
    result = runner.run(sc, workers=2, shards=2)
    for tally, meta in zip(result.tallies, result.metas, strict=True):
        assert meta["users"] == 2000  # every user simulated once, in exactly one shard
        totals = tally.totals()
        lost = sum(totals[..., M[f"lost_{c}"]] for c in CAUSES)
        accounted = totals[..., M["delivered"]] + lost + totals[..., M["pending"]]
        np.testing.assert_array_equal(totals[..., M["truth"]], accounted)
    # Merging is plain addition of the shards' own runs on their own seeds, and the run's total
    # the sum of its replications.
    tasks = runner.plan_tasks(sc, shards=2)
    parts = [runner.simulate_task(t)[0] for t in tasks]
    first = parts[0] + parts[1]
    np.testing.assert_array_equal(result.tallies[0].totals(), first.totals())
    for dim in DIMENSIONS:
        np.testing.assert_array_equal(result.tallies[0].marginal(dim), first.marginal(dim))
    np.testing.assert_array_equal(result.total.counts, (first + (parts[2] + parts[3])).counts)


def _loss(result: RunResult) -> np.ndarray:
    """Loss of all true events per replication and plan: shape (replications, plans)."""
    totals = np.stack([t.totals().sum(axis=1) for t in result.tallies])
    return 1 - totals[..., M["delivered"]] / totals[..., M["truth"]]


def test_sharded_loss_has_the_unsharded_distribution() -> None:
    # Welch t test per plan on loss across 10 independent replications per arm. Sharding keeps
    # per-instance server load (2 instances -> 2 shards of 1) and every visitor whole, so the
    # means must agree; a 0.01/3 level per plan keeps the family-wise false alarm under 1%.
    sc = lossy(users=2000, replications=10)
    whole = _loss(runner.run(sc, workers=2, shards=1))
    sharded = _loss(runner.run(sc, workers=2, seed=12, shards=2))
    for p in range(whole.shape[1]):
        test = stats.ttest_ind(whole[:, p], sharded[:, p], equal_var=False)
        assert test.pvalue > 0.01 / whole.shape[1], (p, whole[:, p].mean(), sharded[:, p].mean())


def test_a_worker_that_dies_is_an_error_not_a_hang(workers_start) -> None:
    # A worker killed outright (out of memory, kill -9) breaks the pool with an error, which the
    # commands report in a line (an ExecutorError): every task gets its outcome, whether the
    # pool broke before or after the others were handed over.
    done = list(outcomes(_die, [0.0, 0.0, 0.0, 0.0], workers=2))
    assert sorted(i for i, _, _ in done) == [0, 1, 2, 3]
    errors = [error for _, _, error in done]
    assert all(isinstance(error, WorkerDied) for error in errors), errors
    assert isinstance(errors[0], ExecutorError)
    assert str(errors[0]).startswith("a worker process ended before its task was done")
    assert any("EXIT(3)" in str(error) for error in errors), errors
    # and the next run gets a fresh pool
    assert sorted(v for _, v, _ in outcomes(_nap, [0.0, 0.0], workers=2)) == [0.0, 0.0]


def test_a_pool_that_breaks_while_tasks_are_handed_over_still_answers_for_each(monkeypatch) -> None:
    # The race above, made certain: the first task's worker has died by the time the second
    # is handed over, so the pool refuses it. Each task still gets its outcome, none raises.
    broken = BrokenProcessPool("... The exit codes of the workers are {SIGKILL(-9)}")

    class Breaking:
        def submit(self, fn, item):
            if item:
                raise broken
            future = Future()
            future.set_exception(broken)
            return future

        def shutdown(self, wait=True, kill_workers=False):
            pass

    monkeypatch.setattr(executors, "_pool", lambda n: (Breaking(), True))
    done = list(outcomes(_nap, [0.0, 1.0, 2.0], workers=2))
    assert sorted(i for i, _, _ in done) == [0, 1, 2]
    assert {str(error) for _, _, error in done} == {
        "a worker process ended before its task was done (exit codes {SIGKILL(-9)}): the "
        "machine may have run out of memory, or the process was killed"
    }


FORK_CHECK = """
import threading
from simulator.replications.executors import forks_workers
before = forks_workers()
release = threading.Event()
other = threading.Thread(target=release.wait)
other.start()
during = forks_workers()
release.set()
other.join()
print(before, during, forks_workers())
"""


def test_workers_are_forked_only_from_a_process_without_other_threads() -> None:
    # In a fresh process, as a command starts: this one may hold a reused pool's threads.
    out = subprocess.run(
        [sys.executable, "-c", FORK_CHECK], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "False", "True"]


def _die(_: float) -> None:
    import os

    os._exit(3)
