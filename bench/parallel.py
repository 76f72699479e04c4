"""Benchmark of the default worker count against one process (``bench/run.py --parallel``).

For each case (replications x users of ``scenarios/baseline.toml``) it times, in fresh
processes and interleaved ``--repeats`` times, ``python -m simulator run`` with the default
worker count and with ``--workers 1`` (each first in every other repeat), and reports the median
speed-up (time with one worker / time with the default). Targets: the default is never slower
(speed-up >= 1, within the noise of the machine), and at least 1.7x faster for 4 replications x
100k users on 2 cores.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ((3, 20_000), (4, 100_000))
"""The Quick start run, and the run whose speed-up on 2 cores must reach 1.7."""
TARGETS = {"never_slower": 1.0, "speedup_4x100k_2_cores": 1.7}


def time_run(scenario: str, replications: int, users: int, workers: list[str]) -> float:
    """Wall seconds of one ``python -m simulator run`` in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "simulator", "run", scenario, "--quiet"]
        args += ["--set", f"population.users={users}", "--replications", str(replications)]
        args += [*workers, "--json", str(Path(tmp) / "out.json")]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        start = time.perf_counter()
        subprocess.run(args, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def measure(scenario: str, repeats: int, cases=CASES) -> dict:
    """Median wall times and speed-ups per case.

    Parameters
    ----------
    scenario : str
        Scenario file.
    repeats : int
        Measurements per case and worker choice (interleaved).
    cases : sequence of (int, int)
        Replications and users of each case.

    Returns
    -------
    dict
        ``{"R x U": {"default_seconds", "one_worker_seconds", "speedup"}}``.
    """
    times: dict[tuple[int, int, str], list[float]] = {}
    pair = (("default", []), ("one", ["--workers", "1"]))
    for repeat in range(repeats):
        for reps, users in cases:
            # Which goes first alternates: the second of two runs in a row tends to be faster.
            for label, workers in pair if repeat % 2 == 0 else pair[::-1]:
                seconds = time_run(scenario, reps, users, workers)
                times.setdefault((reps, users, label), []).append(seconds)
                print(
                    f"  repeat {repeat + 1}/{repeats} {reps} x {users:,} users, {label}: "
                    f"{seconds:.1f} s",
                    file=sys.stderr,
                )
    out = {}
    for reps, users in cases:
        default = statistics.median(times[reps, users, "default"])
        one = statistics.median(times[reps, users, "one"])
        out[f"{reps} x {users}"] = {
            "default_seconds": default,
            "one_worker_seconds": one,
            "speedup": one / default,
        }
    return out


def _spin(_: int) -> float:
    """Seconds of a fixed pure-Python loop (module-level, so a pool can run it)."""
    start = time.perf_counter()
    total = 0
    for i in range(12_000_000):
        total += i & 7
    return time.perf_counter() - start


def machine_speedup() -> float:
    """How much faster two CPU-bound processes finish than one doing both loops in turn.

    The ceiling of any two-worker speed-up on this machine: 2.0 on two real cores, less when
    the two virtual CPUs share a physical core or the host takes cycles away.
    """
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_spin, range(2)))  # start the workers before timing
        start = time.perf_counter()
        list(pool.map(_spin, range(2)))
        both = time.perf_counter() - start
    one = _spin(0) + _spin(1)
    return one / both


def _simulate(seed: int) -> float:
    """Seconds of one ``simulate()`` of the baseline at 100k users (module-level, for a pool)."""
    import numpy as np

    from simulator.config.loading import load_scenario
    from simulator.model.engine import simulate

    scenario = load_scenario(str(ROOT / "scenarios" / "baseline.toml"), ["population.users=100000"])
    start = time.perf_counter()
    simulate(scenario, np.random.SeedSequence(seed))
    return time.perf_counter() - start


def engine_speedup() -> float:
    """How much faster two replications run at once than one after the other, engine alone.

    The ceiling of the 4 x 100k case: the same as :func:`machine_speedup` for a tight loop, less
    when the replications' arrays make two processes compete for caches and memory.
    """
    import multiprocessing

    sys.path.insert(0, str(ROOT))
    _simulate(0)  # imports and caches warm, before the workers are forked
    one = _simulate(1) + _simulate(2)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        start = time.perf_counter()
        pool.map(_simulate, [1, 2])
        both = time.perf_counter() - start
    return one / both


def ceilings(rounds: int = 3) -> tuple[float, float]:
    """Medians of :func:`machine_speedup` and :func:`engine_speedup` over interleaved rounds.

    One round of each reads the host's noise as much as the machine.
    """
    loop, engine = [], []
    for _ in range(rounds):
        loop.append(machine_speedup())
        engine.append(engine_speedup())
    return statistics.median(loop), statistics.median(engine)


def report(
    summary: dict, cores: int, ceiling: float | None = None, engine: float | None = None
) -> str:
    """Lines for people: one per case."""
    lines = [f"Default worker count against --workers 1 on {cores} cores (medians):"]
    if ceiling is not None:
        lines.append(
            f"  two CPU-bound processes at once: {ceiling:.2f}x one "
            "(the ceiling of a two-worker speed-up here)"
        )
    if engine is not None:
        lines.append(
            f"  two replications of 100k users at once: {engine:.2f}x one after the other "
            "(the same ceiling for the simulator)"
        )
    for case, s in summary.items():
        lines.append(
            f"  {case} users: default {s['default_seconds']:.1f} s, one worker "
            f"{s['one_worker_seconds']:.1f} s, speed-up {s['speedup']:.2f}x"
        )
    return "\n".join(lines)
