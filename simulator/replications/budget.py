"""What a run will cost, estimated from the scenario before it starts, and the worker count.

The figures below were measured on the 2-core, 23 GB development machine (simpy 4.1.2) with
``scenarios/baseline.toml``; they are orders of magnitude, meant to refuse a run that cannot fit
(``population.users = 10**9``) within a second instead of after hours, and to choose between one
process and a pool:

* time: ~0.24 us per true event and plan (1.4 million events a second through three plans, the
  Speed section of the README), plus ~0.05 s per task and ~0.005 s per MB of tally (setting up
  and reducing the counters: 3 replications of the baseline, whose tally is 10 MB, took 0.37 s
  at 2,000 users, 0.12 s each);
* memory of a process running a task: ~100 MB of interpreter and libraries (96 MB measured at
  2,000 users), one window of visitors (~45 MB once a shard has 8,192 users: 140 MB measured at
  60,000), ~60 bytes per user of state kept between visits (10**9 users needed about 60 GB), and
  three copies of the tally (the counters, their per-plan shares, the frozen tally);
* starting a pool: ~1.5 s before fresh workers have imported the simulator; ~0.3 s for workers
  forked from this process (:func:`~simulator.replications.executors.forks_workers`): 0.09 to
  0.14 s to start two and hand them four tasks, up to a tenth of a second watching the
  processors (:func:`~simulator.replications.idle_cores.idle_now`; none when the command line
  has watched over its own start-up), and the results' way back (3 replications of 5,000 users
  took 0.2 s longer in a forked pool than in one process).

Expected true events per user follow from the behaviour: visits per user ``1 / (1 - return
probability)`` (an upper bound: the horizon cuts returns short), each with one session event and
``pages x (2 + ui events per page)`` page events.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from simulator.config.scenario import Scenario
from simulator.model.tally import MEASURES
from simulator.replications.executors import OptionError, forks_workers

SECONDS_PER_EVENT_PLAN = 0.24e-6
SECONDS_PER_TASK = 0.05
SECONDS_PER_TALLY_BYTE = 0.005e-6
POOL_START_SECONDS = 1.5
POOL_FORK_SECONDS = 0.3
PROCESS_BYTES = 100e6
WINDOW_BYTES = 45e6
WINDOW_USERS = 8192
BYTES_PER_USER = 60
TALLY_COPIES = 3
WARN_SHARE = 0.5
"""Warn when the estimate passes this share of the memory allowed."""
WARN_SECONDS = 3600.0
"""Warn when a run is expected to take longer than this."""


class BudgetError(OptionError):
    """The run would need more memory than allowed; the message names the estimate."""


@dataclass(frozen=True)
class Estimate:
    """Expected cost of a run.

    Attributes
    ----------
    events_per_user : float
        Expected true events per user (an upper bound).
    task_seconds : float
        Time of one task (a replication or a shard) in one process.
    seconds : float
        Wall time with ``workers`` processes.
    peak_bytes : float
        Peak memory of the run, every process together.
    workers : int
        Processes running tasks at once.
    """

    events_per_user: float
    task_seconds: float
    seconds: float
    peak_bytes: float
    workers: int


def events_per_user(scenario: Scenario) -> float:
    """Expected true events per user, from the segments' behaviour (an upper bound).

    Parameters
    ----------
    scenario : Scenario
        The scenario.

    Returns
    -------
    float
        Visits per user times events per visit, weighted by segment share.
    """
    total = 0.0
    for seg in scenario.population.segments:
        b, default = seg.behaviour, scenario.behaviour
        pages = (b.pages_per_visit or default.pages_per_visit).mean()
        p_return = b.return_probability
        p_return = default.return_probability if p_return is None else p_return
        ui = b.ui_events_per_page
        ui = default.ui_events_per_page if ui is None else ui
        visits = 1.0 / max(1.0 - p_return, 1e-3)
        total += seg.share * visits * (1.0 + pages * (2.0 + ui))
    return total


def estimate(scenario: Scenario, tasks: int, shard_users: int, workers: int) -> Estimate:
    """Estimate a run's wall time and peak memory.

    Parameters
    ----------
    scenario : Scenario
        The whole scenario (its users, plans, layout).
    tasks : int
        Replications times shards.
    shard_users : int
        Users simulated by one task.
    workers : int
        Processes running tasks at once (1: this process only).

    Returns
    -------
    Estimate
        Its figures.
    """
    per_user = events_per_user(scenario)
    plans = len(scenario.plans)
    tally = _tally_bytes(scenario)
    task_seconds = (
        SECONDS_PER_TASK
        + SECONDS_PER_TALLY_BYTE * tally
        + SECONDS_PER_EVENT_PLAN * per_user * shard_users * plans
    )
    task_bytes = (
        min(1.0, shard_users / WINDOW_USERS) * WINDOW_BYTES
        + BYTES_PER_USER * shard_users
        + TALLY_COPIES * tally
    )
    if workers <= 1:
        seconds = tasks * task_seconds
        peak = PROCESS_BYTES + task_bytes + 2 * tally
    else:
        start = POOL_FORK_SECONDS if forks_workers() else POOL_START_SECONDS
        seconds = start + math.ceil(tasks / workers) * task_seconds
        # This process: the tally being assembled, the total, and results waiting their turn.
        parent = PROCESS_BYTES + (2 + 2 * workers) * tally
        peak = parent + workers * (PROCESS_BYTES + task_bytes)
    return Estimate(per_user, task_seconds, seconds, peak, workers)


def _tally_bytes(scenario: Scenario) -> float:
    pop = scenario.population
    countries = {c for s in pop.segments for c in s.countries}
    channels = {c for s in pop.segments for c in s.channels}
    blockers = {b for s in pop.segments for b in s.blockers}
    cells = len(pop.segments) * len(countries) * len(channels) * len(blockers) * 2
    return 8.0 * len(scenario.plans) * len(scenario.events) * cells * len(MEASURES)


def choose_workers(scenario: Scenario, tasks: int, shard_users: int, cores: int) -> int:
    """Worker count from the work: the fewest processes with the shortest expected wall time.

    One process when there is one task, or when a pool's start-up would eat what it saves
    (small runs); otherwise up to one worker per core or per task.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    tasks : int
        Replications times shards.
    shard_users : int
        Users per task.
    cores : int
        Cores available.

    Returns
    -------
    int
        Between 1 and ``min(cores, tasks)``.
    """
    best, best_seconds = 1, estimate(scenario, tasks, shard_users, 1).seconds
    for n in range(2, min(cores, tasks) + 1):
        seconds = estimate(scenario, tasks, shard_users, n).seconds
        if seconds < 0.9 * best_seconds:  # a pool must save a tenth to be worth its workers
            best, best_seconds = n, seconds
    return best


def available_bytes() -> float:
    """Memory this machine can give a run now (``MemAvailable``; else physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def check(scenario: Scenario, cost: Estimate, max_memory: float | None = None) -> list[str]:
    """Refuse a run that cannot fit; return warnings for one that is large.

    Parameters
    ----------
    scenario : Scenario
        The scenario (named in the messages).
    cost : Estimate
        From :func:`estimate`.
    max_memory : float, optional
        Bytes allowed (default: what the machine has available).

    Returns
    -------
    list of str
        Warnings, one line each.

    Raises
    ------
    BudgetError
        If the estimate exceeds the memory allowed.
    """
    limit = available_bytes() if max_memory is None else max_memory
    where = "allowed by --max-memory" if max_memory is not None else "available on this machine"
    users = scenario.population.users
    advice = (
        f"split it into more shards (--shards: each holds about {BYTES_PER_USER} bytes a user), "
        "run it on a Dask cluster (--dask ADDRESS), or use fewer users (memory and time grow "
        "in proportion to them)"
    )
    needs = (
        f"population.users = {users:,} needs about {_size(cost.peak_bytes)} of memory and "
        f"{_duration(cost.seconds)} with {_processes(cost.workers)}, by estimate"
    )
    if cost.peak_bytes > limit:
        raise BudgetError(f"{needs}; {_size(limit)} {where}: {advice}")
    warnings = []
    if cost.peak_bytes > WARN_SHARE * limit or cost.seconds > WARN_SECONDS:
        warnings.append(f"{needs} ({_size(limit)} {where}); to go faster, {advice}")
    return warnings


def _size(n: float) -> str:
    return f"{n / 1024**3:,.1f} GB" if n >= 1024**3 else f"{n / 1024**2:,.0f} MB"


def _processes(n: int) -> str:
    return "one process" if n == 1 else f"{n} processes"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:,.1f} hours"
    return f"{seconds / 60:,.1f} minutes" if seconds >= 60 else f"{seconds:,.1f} s"


__all__ = [
    "BudgetError",
    "Estimate",
    "available_bytes",
    "check",
    "choose_workers",
    "estimate",
    "events_per_user",
]
