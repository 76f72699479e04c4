"""Benchmark of the default worker count against one process (``bench/run.py --parallel``).

For each case (replications x users of ``scenarios/baseline.toml``) it times, in fresh
processes and interleaved ``--repeats`` times, ``python -m simulator run`` with the default
worker count and with ``--workers 1``, and reports the median speed-up (time with one worker /
time with the default). Targets: the default is never slower (speed-up >= 1, within the noise of
the machine), and at least 1.7x faster for 4 replications x 100k users on 2 cores.
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
    for repeat in range(repeats):
        for reps, users in cases:
            for label, workers in (("default", []), ("one", ["--workers", "1"])):
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


def report(summary: dict, cores: int, ceiling: float | None = None) -> str:
    """Lines for people: one per case."""
    lines = [f"Default worker count against --workers 1 on {cores} cores (medians):"]
    if ceiling is not None:
        lines.append(
            f"  two CPU-bound processes at once: {ceiling:.2f}x one "
            "(the ceiling of a two-worker speed-up here)"
        )
    for case, s in summary.items():
        lines.append(
            f"  {case} users: default {s['default_seconds']:.1f} s, one worker "
            f"{s['one_worker_seconds']:.1f} s, speed-up {s['speedup']:.2f}x"
        )
    return "\n".join(lines)
