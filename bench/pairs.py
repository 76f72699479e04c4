"""Two versions of the engine timed side by side, in pairs pinned to the two cores.

On a shared machine the same replication's time moves by a fifth from one process to the
next, and the cores do not run at the same speed either. Timing one version after the other
mixes the first kind of noise into the comparison; timing both at once on the cores the
scheduler picks mixes in the second. ``python bench/pairs.py --against CHECKOUT`` runs one
replication of this checkout's engine and one of CHECKOUT's (a ``git worktree`` of another
commit, say) at the same time, each pinned to a core of its own, and swaps the cores from one
pair to the next. Each pair gives the log of the ratio of processor time (this over against),
modelled as the change, plus a core effect whose sign says which version had which core, plus
noise; the change is reported as a ratio (the exponential of its least-squares estimate, a
geometric mean of the pairs' ratios when the cores are swapped evenly) with a Student t
interval on ``pairs - 2`` degrees of freedom. Wall time and page faults are reported beside it.

Instruction counts (``bench/instructions.py``) tell whether a change saves work; this tells
whether it saves time, page faults and memory traffic included. Each replication runs in a
fresh process through ``bench/run.py --child``, with the allocator settings of the
``trackloss`` program. Results are printed and written as JSON into ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RUN = Path(__file__).resolve().parent / "run.py"
LEVEL = 0.95
SIDES = ("this checkout's", "other checkout's")


def start(core: int, users: int, model: list[str], engine: Path | None) -> subprocess.Popen:
    """One replication in a fresh process pinned to ``core``, with ``engine``'s package."""
    env = dict(os.environ)
    if engine is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(engine), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, str(RUN), *model, "--child", "model", str(users)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env,
        preexec_fn=lambda: os.sched_setaffinity(0, {core}),
    )  # fmt: skip


class ReplicationFailed(RuntimeError):
    """A child's replication ended with an error (printed by the child on its stderr)."""


def result(process: subprocess.Popen, side: str) -> dict:
    """What a child printed last (its JSON record), once it has finished; ``side`` names it."""
    out, _ = process.communicate()
    if process.returncode:
        raise ReplicationFailed(f"the {side} replication exited with status {process.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def run_pairs(users: int, pairs: int, model: list[str], against: Path, cores: tuple[int, int]):
    """``pairs`` pairs of replications, this checkout's on ``cores[i % 2]`` in pair ``i``."""
    out = []
    for i in range(pairs):
        mine, theirs = cores[i % 2], cores[1 - i % 2]
        jobs = start(mine, users, model, None), start(theirs, users, model, against)
        try:
            this, other = (result(job, side) for job, side in zip(jobs, SIDES, strict=True))
        finally:
            for job in jobs:  # one failed: stop the other instead of leaving it running
                if job.poll() is None:
                    job.kill()
                    job.wait()
        out.append({"this_core": mine, "this": this, "against": other})
        ratio = this["cpu_seconds"] / other["cpu_seconds"]
        print(f"  pair {i + 1}/{pairs}: this on core {mine}, processor time {ratio:.3f} of against")
    return out


def change(log_ratios: np.ndarray, orientation: np.ndarray) -> dict:
    """Least-squares change and core effect of the log ratios, with the change's interval.

    Parameters
    ----------
    log_ratios : numpy.ndarray
        Each pair's log of this version's time over the other's.
    orientation : numpy.ndarray
        +1 where this version ran on the first core, -1 on the second.

    Returns
    -------
    dict
        ``ratio`` (this over against, the exponential of the change), ``low`` and ``high`` (its
        interval), ``core_effect`` (the first core's time over the second's, as a ratio),
        ``degrees_of_freedom`` and ``pairs``. A core that makes a process ``k`` times as slow
        adds ``log k`` to the log ratios of the pairs where this version had it, and takes it
        from the others.
    """
    from simulator.stats.tails import t_quantile

    n = log_ratios.size
    design = np.column_stack([np.ones(n), orientation])
    coef, *_ = np.linalg.lstsq(design, log_ratios, rcond=None)
    residuals = log_ratios - design @ coef
    df = n - 2
    scale = float(residuals @ residuals) / df
    se = math.sqrt(scale * np.linalg.inv(design.T @ design)[0, 0])
    half = float(t_quantile(0.5 + LEVEL / 2, df)) * se
    return {
        "ratio": math.exp(coef[0]),
        "low": math.exp(coef[0] - half),
        "high": math.exp(coef[0] + half),
        "core_effect": math.exp(coef[1]),
        "degrees_of_freedom": df,
        "pairs": n,
    }


def summarise(runs: list[dict], cores: tuple[int, int]) -> dict:
    """The change in processor time, and medians of wall time, page faults and events."""
    this = [r["this"] for r in runs]
    other = [r["against"] for r in runs]
    logs = np.log([a["cpu_seconds"] / b["cpu_seconds"] for a, b in zip(this, other, strict=True)])
    orientation = np.array([1.0 if r["this_core"] == cores[0] else -1.0 for r in runs])

    def median(side: list[dict], key: str) -> float:
        return statistics.median(s[key] for s in side)

    keys = ("cpu_seconds", "seconds", "minor_faults", "events", "peak_rss_bytes")
    return {
        "processor_time": change(logs, orientation),
        "this": {key: median(this, key) for key in keys} | {"package": this[0]["package"]},
        "against": {key: median(other, key) for key in keys} | {"package": other[0]["package"]},
    }


def report(summary: dict) -> str:
    """The change with its interval, and the medians beside it."""
    c = summary["processor_time"]
    lines = [
        f"processor time, this / against: {c['ratio']:.3f} ({LEVEL:.0%} interval {c['low']:.3f} "
        f"to {c['high']:.3f}; {c['pairs']} pairs, the first core {c['core_effect']:.3f} times "
        "the second's time)"
    ]
    for side in ("this", "against"):
        m = summary[side]
        lines.append(
            f"  {side:<8} median {m['cpu_seconds']:.3f} s of processor time, {m['seconds']:.3f} s "
            f"wall, {m['minor_faults']:,.0f} page faults, {m['events']:,.0f} true events "
            f"({m['package']})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Time the pairs, print and write the record; return the exit status."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--against", type=Path, required=True, metavar="CHECKOUT",
                   help="another checkout's root (a git worktree, say)")  # fmt: skip
    p.add_argument("--users", type=int, default=100_000, help="users per replication (100000)")
    p.add_argument("--pairs", type=int, default=12, help="pairs of replications (12, at least 4)")
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.toml"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    if not (args.against / "simulator" / "__init__.py").is_file():
        p.error(f"--against {args.against}: no simulator package there (simulator/__init__.py)")
    if args.users < 1 or args.pairs < 4:
        p.error(f"--users must be positive and --pairs at least 4, got {args.users} and "
                f"{args.pairs}")  # fmt: skip
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(usable) < 2:
        p.error("two processors this process may run on are needed (Linux's sched_setaffinity)")
    cores = (usable[0], usable[1])
    sys.path.insert(0, str(RUN.parent))
    import commands
    from run import machine, write_record

    from simulator.cli.options import load_or_explain

    if load_or_explain(args.scenario, [*args.overrides, f"population.users={args.users}"]) is None:
        return 2  # its problems are printed, one a line

    bytecode = commands.compile_package()  # as installed, so that no replication compiles
    commands.compile_package(args.against / "simulator")
    model = ["--scenario", args.scenario, *(a for o in args.overrides for a in ("--set", o))]
    try:
        runs = run_pairs(args.users, args.pairs, model, args.against, cores)
    except ReplicationFailed as error:
        print(f"bench/pairs.py: {error} (its error is above)", file=sys.stderr)
        return 1
    summary = summarise(runs, cores)
    path = write_record(
        args.out, "pairs", "processor-time",
        users=args.users, scenario=args.scenario, overrides=args.overrides,
        against=str(args.against), cores=list(cores), machine=machine(),
        definition="processor time (user + system) of simulate() in processes run at the same "
        "time, pinned to one core each, the cores swapped every pair; ratio = exp of the "
        "least-squares change of the log ratios, with a core effect",
        bytecode=bytecode, runs=runs, summary=summary,
    )  # fmt: skip
    print(f"{report(summary)}\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
