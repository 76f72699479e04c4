"""Run a scenario's replications on every core, or on a Dask cluster, with identical results.

A run is cut into tasks, one per replication, or one per shard of a replication when the
population is large. Every task carries its own seed, spawned once from the root seed
(``SeedSequence(root).spawn(replications)``, then ``child.spawn(shards)`` for the shards of
sharded replications), so a task's result depends only on the scenario and its position,
never on the worker that ran it or on the order tasks finished. Tallies are merged by addition in
shard order, and replications are kept in replication order: any worker count and any executor
give the same bytes.

Sharding
--------
A shard is the scenario with ``population.users`` set to its share of the users and its own
server instances; it is simulated on its own stream and its tally is added to the others'. Users
never cross shards, so a visitor's returns, retry store and deduplication stay exact. What
changes is what is shared *between* users:

* **server instances** -- each shard owns ``server.instances / shards`` of them and the users
  routed to them, so the load per instance (and so ``queue_full`` loss) is as in the unsharded
  run. The automatic shard count therefore always divides ``server.instances``;
* **collector outages** -- each shard draws its own outage timeline at the scenario's rate: the
  mean loss to outages is unchanged, but outages no longer hit all users at once, so loss varies
  a little less between replications;
* offsite jobs run per shard on the users active in that shard.

Automatic shard count: the largest divisor of ``server.instances`` that is at most
``ceil(users / SHARD_USERS)``, i.e. shards of at least 200 000 users when the instances allow
it (a 1 000 000-user scenario with 2 instances runs as 2 shards of 500 000; with 10 instances as
5 shards of 200 000). Scenarios below 200 000 users are never sharded, and a shard count of 1 is
exactly :func:`simulator.model.engine.run`. An explicit ``shards`` is honoured as given; when it
does not divide ``server.instances`` each shard still gets at least one instance, so per-instance
load is lower than unsharded and server-queue loss is understated.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.engine import simulate
from simulator.model.streams import replication_seeds
from simulator.model.tally import Tally
from simulator.replications import budget, idle_cores
from simulator.replications.executors import (
    Executor,
    OptionError,
    check_options,
    default_workers,
    outcomes,
)
from simulator.replications.folding import RunFold
from simulator.replications.progress import progress_bar
from simulator.replications.result import RunResult, with_overrides

SHARD_USERS = 200_000
"""Users per shard aimed at by the automatic shard count (seconds to minutes of work each)."""


def auto_shards(scenario: Scenario) -> int:
    """Shard count chosen from the scenario alone (never from the worker count).

    Parameters
    ----------
    scenario : Scenario
        The scenario to run.

    Returns
    -------
    int
        The largest divisor of ``server.instances`` not above ``ceil(users / SHARD_USERS)``.
    """
    wanted = math.ceil(scenario.population.users / SHARD_USERS)
    instances = scenario.server.instances
    return max(d for d in range(1, min(wanted, instances) + 1) if instances % d == 0)


def shard_scenarios(scenario: Scenario, shards: int) -> list[Scenario]:
    """Split a scenario into ``shards`` scenarios by user ranges, each with its own servers.

    Instances are dealt out as evenly as possible (at least one per shard) and users in
    proportion to each shard's instances, so per-instance load is preserved whenever ``shards``
    divides ``server.instances``.

    Parameters
    ----------
    scenario : Scenario
        The whole scenario.
    shards : int
        Number of shards, from 1 to ``population.users``.

    Returns
    -------
    list of Scenario
        One scenario per shard; their users add up to the scenario's.
    """
    users = scenario.population.users
    if not 1 <= shards <= users:
        raise OptionError(f"shards must be between 1 and population.users ({users}), got {shards}")
    if shards == 1:
        return [scenario]
    total = scenario.server.instances
    instances = [max(1, total // shards + (i < total % shards)) for i in range(shards)]
    weight = sum(instances)
    counts = [users * k // weight for k in instances]
    for i in range(users - sum(counts)):  # hand out the remainder, first shards first
        counts[i % shards] += 1
    while min(counts) == 0:  # tiny populations: every shard simulates someone
        counts[counts.index(max(counts))] -= 1
        counts[counts.index(0)] += 1
    return [
        scenario.model_copy(
            update={
                "population": scenario.population.model_copy(update={"users": n}),
                "server": scenario.server.model_copy(update={"instances": k}),
            }
        )
        for n, k in zip(counts, instances, strict=True)
    ]


@dataclass(frozen=True)
class Task:
    """One unit of work: a replication, or one shard of it, with its own seed."""

    replication: int
    shard: int
    scenario: Scenario
    seed: np.random.SeedSequence


def plan_tasks(scenario: Scenario, shards: int | None = None) -> list[Task]:
    """Cut a run into tasks, replication-major, each with its spawned seed.

    Parameters
    ----------
    scenario : Scenario
        The scenario with the run's ``simulation.replications`` and ``simulation.seed``.
    shards : int, optional
        Shards per replication (default: :func:`auto_shards`).

    Returns
    -------
    list of Task
        ``replications x shards`` tasks, in replication order then shard order.
    """
    k = auto_shards(scenario) if shards is None else shards
    parts = shard_scenarios(scenario, k)
    tasks = []
    for r, seed in enumerate(
        replication_seeds(scenario.simulation.seed, scenario.simulation.replications)
    ):
        # Spawned once, here, before any use of ``seed``: spawning again would give other children.
        seeds = [seed] if k == 1 else seed.spawn(k)
        tasks.extend(
            Task(r, s, part, sd) for s, (part, sd) in enumerate(zip(parts, seeds, strict=True))
        )
    return tasks


def simulate_task(task: Task) -> tuple[Tally, dict]:
    """Run one task (module-level, so worker processes can unpickle it)."""
    return simulate(task.scenario, task.seed)


def assemble(
    scenario: Scenario,
    tasks: Sequence[Task],
    results: Sequence[tuple[Tally, dict]],
    wall_seconds: float,
) -> RunResult:
    """Merge the results of a run's tasks, all at hand, into a :class:`RunResult`.

    Shards are added in shard order and replications kept in replication order, as
    :class:`~simulator.replications.folding.RunFold` does while a run goes.

    Parameters
    ----------
    scenario : Scenario
        The scenario run.
    tasks : sequence of Task
        The run's tasks, from :func:`plan_tasks`.
    results : sequence of tuple of (Tally, dict)
        What each task returned, in the order of ``tasks``. Their tallies are added into.
    wall_seconds : float
        Elapsed time.

    Returns
    -------
    RunResult
        The run.
    """
    order = sorted(range(len(tasks)), key=lambda i: (tasks[i].replication, tasks[i].shard))
    fold = RunFold([tasks[i].replication for i in order])
    for position, i in enumerate(order):
        fold.add(position, results[i])
    return fold.result(scenario, wall_seconds, _shards_of(tasks))


def _shards_of(tasks: Sequence[Task]) -> int:
    return len(tasks) // max(1, len({t.replication for t in tasks}))


def run(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    executor: Executor = "process",
    dask_address: str | None = None,
    shards: int | None = None,
    progress: bool | str = False,
    max_memory: float | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> RunResult:
    """Run every replication of a scenario in parallel.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    replications : int, optional
        Overrides ``simulation.replications``.
    seed : int, optional
        Overrides ``simulation.seed``, the root of every replication's and shard's stream.
    workers : int, optional
        Worker processes (default: chosen from the work by
        :func:`~simulator.replications.budget.choose_workers`: one process for a small run or
        a single task, else up to one per core); ``1`` runs in this process. With
        ``dask_address`` it sizes the local cluster only (default: all cores).
    executor : {"process", "serial", "dask"}
        ``process``: a local :class:`~concurrent.futures.ProcessPoolExecutor`; ``serial``: this
        process; ``dask``: Dask distributed (implied by ``dask_address``).
    dask_address : str, optional
        A Dask scheduler address (``tcp://host:8786``), or ``"local"`` for a LocalCluster.
    shards : int, optional
        Shards per replication; default chosen from the scenario (see the module notes).
    progress : bool or "auto"
        Progress bar over tasks; ``"auto"`` shows it on a terminal or in a notebook only.
    max_memory : float, optional
        Bytes the run may use (default: what the machine has available). A run estimated to
        need more is refused before it starts; one past half of it, or longer than an hour, is
        announced with a warning (logger ``trackloss``).
    meanwhile : callable, optional
        Called once in this process while the replications run (see
        :func:`~simulator.replications.executors.outcomes`), e.g. to import what will report
        the results.

    Returns
    -------
    RunResult
        The same as :func:`simulator.model.engine.run` would give for the same shards (byte for byte
        when unsharded), for any ``workers`` and ``executor``; ``extra["shards"]`` records the
        shard count.
    """
    if dask_address is not None:
        executor = "dask"
    check_options(workers, executor, dask_address)
    scenario = with_overrides(scenario, replications, seed)
    tasks = plan_tasks(scenario, shards)
    if executor != "dask" or dask_address in (None, "local"):  # memory of this machine
        shard_users = max(t.scenario.population.users for t in tasks[: tasks[-1].shard + 1])
        if executor == "process" and workers is None:
            cores = idle_cores.idle_cores(default_workers())
            workers = budget.choose_workers(scenario, len(tasks), shard_users, cores)
            if workers > 1:  # a pool pays on paper: count the cores idle now, not a minute ago
                cores = idle_cores.idle_now(workers)
                workers = budget.choose_workers(scenario, len(tasks), shard_users, cores)
        n = 1 if executor == "serial" else workers or default_workers()
        cost = budget.estimate(scenario, len(tasks), shard_users, min(n, len(tasks)))
        for warning in budget.check(scenario, cost, max_memory):
            logging.getLogger("trackloss").warning("trackloss: %s", warning)
    start = time.perf_counter()
    if len(tasks) == 1 and executor != "dask":
        # One long replication: a bar over simulated time instead of over tasks.
        with progress_bar(100, scenario.name, "%", progress) as bar:

            def advance(fraction: float) -> None:
                bar.update(round(100 * fraction) - bar.n)

            if meanwhile is not None:
                meanwhile()

            results = [simulate(tasks[0].scenario, tasks[0].seed, advance)]
            bar.update(100 - bar.n)  # the hook's last call comes just before the end
        return assemble(scenario, tasks, results, time.perf_counter() - start)
    fold = RunFold([t.replication for t in tasks])
    sharded = tasks[-1].shard > 0
    stream = outcomes(
        simulate_task,
        tasks,
        workers=workers,
        executor=executor,
        dask_address=dask_address,
        meanwhile=meanwhile,
    )
    with (
        closing(stream),
        progress_bar(
            len(tasks), scenario.name, "shard" if sharded else "replication", progress
        ) as bar,
    ):
        for i, value, error in stream:
            if error is not None:
                raise error
            fold.add(i, value)
            bar.update()
    return fold.result(scenario, time.perf_counter() - start, _shards_of(tasks))


__all__ = [
    "SHARD_USERS",
    "Task",
    "assemble",
    "auto_shards",
    "plan_tasks",
    "run",
    "shard_scenarios",
    "simulate_task",
]
