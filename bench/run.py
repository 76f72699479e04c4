"""Benchmark: engine speed against the raw simpy rate, time linearity and peak memory.

Run ``python bench/run.py`` (``--quick`` for 20k/200k users instead of 100k/1M; ``--parallel``
for the default worker count against one process, see ``bench/parallel.py``). In one run it
measures, ``--repeats`` times each and interleaved so that machine noise hits all alike:

1. the raw simpy rate: a bare ``yield env.timeout(1)`` loop, the machine's yardstick;
2. ``scenarios/baseline.toml`` (every plan, path and loss mechanism it configures) at the small
   size, one replication;
3. the same at ten times the users;
4. the client transports at the small size: ``beacon``, ``fetch_keepalive`` and batches of 10
   (:data:`VARIANTS`), each as a ratio to the raw simpy rate;
5. whole commands (``bench/commands.py``): ``--help`` and ``validate`` start-up, and the fixed
   cost of ``trackloss run`` at the scenario's own size (command time minus ``simulate()``),
   beside their floors: a bare interpreter, and importing the libraries each command needs.

Every measurement runs in a fresh subprocess, so peak RSS (``ru_maxrss``) is per size and no
run warms another's caches. The package's modules are byte-compiled first, as installing it does
(:func:`commands.compile_package`), so that no command compiles them again. "Tracked events"
are *true events simulated* (visit events plus offsite events; bots excluded, they are not
truth); each is observed by every plan, so the copies handled are ``events x plans``, also
reported. Figures to quote are the ratios (medians
of the repeats): engine rate / raw simpy rate, RSS(large) / RSS(small), time(large) /
time(small). Targets: >= 0.5, <= 1.5, and 8-12; the workload table is checked against
:data:`ARRAY_TARGETS`, where every transport runs on arrays, and shows each figure's range over
the repeats beside its median (:func:`spread`). Results are printed and written as
JSON into ``bench/results/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAW_TIMEOUTS = 1_000_000
TARGETS = {"rate_ratio_min": 0.5, "rss_ratio_max": 1.5, "time_ratio": (8.0, 12.0)}
VARIANTS = {
    "beacon": ["client.transport=beacon"],
    "fetch_keepalive": ["client.transport=fetch_keepalive"],
    "batch_size_10": ["client.batch_size=10"],
}
"""Client transports timed beside the baseline (one request per event, ``xhr``), small size."""
ARRAY_TARGETS = {
    "xhr": 1.5,
    "beacon": 1.0,
    "fetch_keepalive": 1.0,
    "batch_size_10": 1.0,
    "startup_seconds": 0.3,
    "fixed_cost_seconds": 0.5,
}
"""Where every transport runs on arrays: rate / raw simpy rate per workload, and seconds."""
COMMAND_SECONDS = ("help_seconds", "validate_seconds", "run_seconds")
"""The command timings the workload table is made of (:func:`workloads`)."""


# --------------------------------------------------------------------------- children


def _peak_rss_bytes() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def child_raw(timeouts: int = RAW_TIMEOUTS) -> dict:
    """Time a bare loop of ``timeouts`` timeouts: simpy's own cost per event on this machine."""
    import simpy

    env = simpy.Environment()

    def loop(env: simpy.Environment, n: int):
        for _ in range(n):
            yield env.timeout(1)

    env.process(loop(env, timeouts))
    start = time.perf_counter()
    env.run()
    seconds = time.perf_counter() - start
    return {
        "kind": "raw",
        "events": timeouts,
        "seconds": seconds,
        "rate": timeouts / seconds if timeouts else 0.0,
    }


def child_model(scenario: str, users: int, overrides: list[str], run: bool = True) -> dict:
    """Simulate one replication of the scenario at ``users`` users.

    With ``run=False`` it stops where the timed part would start (imports, scenario and seed
    done), so that ``bench/instructions.py`` can subtract what comes before it. The allocator
    runs with the settings the ``trackloss`` program gives it
    (:func:`simulator.replications.allocator.keep_freed_memory`).
    """
    import numpy as np

    import simulator
    from simulator.config.loading import load_scenario
    from simulator.model.engine import simulate

    try:
        from simulator.replications.allocator import keep_freed_memory
    except ImportError:  # another checkout's engine, from before the program set it
        kept = False
    else:
        kept = keep_freed_memory()

    sc = load_scenario(
        scenario, [*overrides, f"population.users={users}", "simulation.replications=1"]
    )
    seed = np.random.SeedSequence(sc.simulation.seed)  # imports numpy.random: not the engine's
    if not run:
        return {"kind": "setup", "users": users, "package": simulator.__path__[0]}
    used = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    _, meta = simulate(sc, seed)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    events = meta["events"] + meta["offsite_events"]
    return {
        "kind": "model",
        "package": simulator.__path__[0],
        "users": users,
        "plans": len(sc.plans),
        "events": events,
        "copies": events * len(sc.plans),
        "seconds": seconds,
        "cpu_seconds": after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime,
        "minor_faults": after.ru_minflt - used.ru_minflt,
        "rate": events / seconds,
        "peak_rss_bytes": _peak_rss_bytes(),
        "allocator_keeps_freed_memory": kept,
        "meta": meta,
    }


def _spawn(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- parent


def summarise(runs: list[dict], small: int, large: int) -> dict:
    """Medians per kind and size, the three target ratios, and the workload table."""

    def median(kind: str, key: str, users: int | None = None, variant: str = "xhr") -> float:
        values = [
            r[key]
            for r in runs
            if r["kind"] == kind and r.get("users") == users and r.get("variant", "xhr") == variant
        ]
        return statistics.median(values)

    raw = median("raw", "rate")
    out: dict = {"raw_simpy_rate": raw, "sizes": {}}
    rate_small = median("model", "rate", small)
    for users in (small, large):
        rate = median("model", "rate", users)
        out["sizes"][str(users)] = {
            "events_per_second": rate,
            "copies_per_second": median("model", "copies", users)
            / median("model", "seconds", users),
            "ratio_to_raw_simpy": rate / raw,
            "wall_seconds": median("model", "seconds", users),
            "events": median("model", "events", users),
            "peak_rss_bytes": median("model", "peak_rss_bytes", users),
        }
    s, b = out["sizes"][str(small)], out["sizes"][str(large)]
    out["rss_ratio"] = b["peak_rss_bytes"] / s["peak_rss_bytes"]
    out["time_ratio"] = b["wall_seconds"] / s["wall_seconds"]
    out["users_ratio"] = large / small
    low, high = TARGETS["time_ratio"]
    out["meets"] = {
        "rate_ratio": min(s["ratio_to_raw_simpy"], b["ratio_to_raw_simpy"])
        >= TARGETS["rate_ratio_min"],
        "rss_ratio": out["rss_ratio"] <= TARGETS["rss_ratio_max"],
        "time_ratio": low <= out["time_ratio"] <= high,
    }
    rates = {"xhr": rate_small}
    for variant in VARIANTS:
        if any(r.get("variant") == variant for r in runs):
            rates[variant] = median("model", "rate", small, variant)
    command = simulate = None
    if any(r["kind"] == "command" for r in runs):
        command = {k: median("command", k) for k in COMMAND_SECONDS}
        simulate = median("model", "seconds", int(median("command", "command_users")))
        floors = ("interpreter_seconds", "validate_floor_seconds", "run_floor_seconds")
        out["floors"] = {k: median("command", k) for k in floors}
    table = workloads(raw, rates, command, simulate)
    out["workloads"] = table
    out["workload_spread"] = spread(runs, small)
    out["workloads_meet"] = {
        k: (v >= ARRAY_TARGETS[k] if not k.endswith("seconds") else v <= ARRAY_TARGETS[k])
        for k, v in table.items()
    }
    return out


def workloads(
    raw: float, rates: dict[str, float], command: dict | None, simulate: float | None
) -> dict[str, float]:
    """The workload table from one set of figures (medians, or one repeat's).

    Each transport's rate over the raw simpy rate; with the command timings
    (:data:`COMMAND_SECONDS`), start-up (the slower of ``--help`` and ``validate``) and a run's
    fixed cost (``trackloss run`` minus ``simulate`` seconds at the command's size).
    """
    table = {variant: rate / raw for variant, rate in rates.items()}
    if command is not None:
        table["startup_seconds"] = max(command["help_seconds"], command["validate_seconds"])
        if simulate is not None:
            table["fixed_cost_seconds"] = command["run_seconds"] - simulate
    return table


def spread(runs: list[dict], small: int) -> dict[str, tuple[float, float]]:
    """Each workload's lowest and highest value over the repeats, to read its median against.

    Each repeat's table (:func:`workloads`) pairs its rates with its own raw simpy rate and its
    ``trackloss run`` with its own ``simulate()`` at the command's size.
    """
    by = {(r["kind"], r.get("users"), r.get("variant", "xhr"), r["repeat"]): r for r in runs}
    values: dict[str, list[float]] = {}
    for rep in sorted({r["repeat"] for r in runs}):
        rates = {
            variant: model["rate"]
            for variant in ("xhr", *VARIANTS)
            if (model := by.get(("model", small, variant, rep))) is not None
        }
        command = by.get(("command", None, "xhr", rep))
        model = command and by.get(("model", command["command_users"], "xhr", rep))
        table = workloads(
            by[("raw", None, "xhr", rep)]["rate"], rates, command, model and model["seconds"]
        )
        for name, value in table.items():
            values.setdefault(name, []).append(value)
    return {k: (min(v), max(v)) for k, v in values.items()}


def report(summary: dict) -> str:
    """The figures as a few lines of text."""
    lines = [f"raw simpy timeout loop: {summary['raw_simpy_rate']:,.0f} events/s (yardstick)"]
    for users, s in summary["sizes"].items():
        lines.append(
            f"baseline at {int(users):>9,} users: {s['events_per_second']:>9,.0f} true events/s "
            f"= {s['ratio_to_raw_simpy']:.3f} x raw simpy "
            f"({s['copies_per_second']:,.0f} plan copies/s), "
            f"{s['wall_seconds']:.1f} s, peak RSS {s['peak_rss_bytes'] / 2**20:.0f} MiB"
        )
    meets = {k: "yes" if v else "NO" for k, v in summary["meets"].items()}
    lines.append(
        f"ratio to raw simpy >= {TARGETS['rate_ratio_min']}: {meets['rate_ratio']}; "
        f"RSS x{summary['rss_ratio']:.2f} for x{summary['users_ratio']:.0f} users "
        f"(<= {TARGETS['rss_ratio_max']}: {meets['rss_ratio']}); "
        f"time x{summary['time_ratio']:.2f} (8-12: {meets['time_ratio']})"
    )
    for name, value in summary.get("workloads", {}).items():
        unit = "s" if name.endswith("seconds") else "x raw simpy"
        ok = "yes" if summary["workloads_meet"][name] else "NO"
        lo, hi = summary.get("workload_spread", {}).get(name, (value, value))
        lines.append(
            f"  {name:<20} {value:7.2f} {unit:<12} ({lo:.2f} to {hi:.2f} over the repeats)  "
            f"target {ARRAY_TARGETS[name]}: {ok}"
        )
    if "floors" in summary:
        f = summary["floors"]
        lines.append(
            f"  floors: a bare interpreter {f['interpreter_seconds']:.2f} s; importing what "
            f"validate needs (pydantic) {f['validate_floor_seconds']:.2f} s; what a run needs "
            f"(numpy, pydantic, simpy, scipy.special) {f['run_floor_seconds']:.2f} s"
        )
    return "\n".join(lines)


def machine() -> dict:
    """What the figures were measured on."""
    import os

    import numpy
    import simpy

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "simpy": simpy.__version__,
        "numpy": numpy.__version__,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def write_record(folder: Path, kind: str, mode: str, **fields: object) -> Path:
    """Write a record as indented JSON to ``FOLDER/KIND-MODE-<UTC time>.json``; its path.

    The record holds when it was made, ``mode`` and ``fields``; ``folder`` is made if missing.
    """
    now = dt.datetime.now(dt.UTC)
    record = {"when": now.isoformat(timespec="seconds"), "mode": mode, **fields}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{mode}-{now:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--child``, one measurement); return the exit status."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="20k and 200k users instead of 100k and 1M")
    p.add_argument("--sizes", metavar="SMALL,LARGE", help="user counts to compare instead")
    p.add_argument("--repeats", type=int, default=3, help="measurements per size (median taken)")
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.toml"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument(
        "--parallel",
        action="store_true",
        help="time the default worker count against --workers 1 (see bench/parallel.py)",
    )
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import commands

    if not args.child:
        bytecode = commands.compile_package()  # as installed: see compile_package
    if args.parallel:
        return _parallel(args, bytecode)
    if args.child:
        kind, *rest = args.child
        result = (
            child_raw(*(int(n) for n in rest))
            if kind == "raw"
            else child_model(args.scenario, int(rest[0]), args.overrides, run=kind == "model")
        )
        print(json.dumps(result))
        return 0

    small, large = (20_000, 200_000) if args.quick else (100_000, 1_000_000)
    if args.sizes:
        small, large = (int(x) for x in args.sizes.split(","))
    sets = [a for o in args.overrides for a in ("--set", o)]
    own = commands.scenario_users(args.scenario, args.overrides)
    jobs: list[tuple[str, list[str], str]] = [("raw simpy", ["raw"], "xhr")]
    jobs += [(f"{n:,} users", ["model", str(n)], "xhr") for n in dict.fromkeys((small, large, own))]
    jobs += [(f"{small:,} users, {v}", ["model", str(small)], v) for v in VARIANTS]
    runs = []
    for repeat in range(args.repeats):
        for label, job, variant in jobs:
            extra = [a for o in VARIANTS.get(variant, []) for a in ("--set", o)]
            spec = [*job, "--scenario", args.scenario, *sets, *extra] if job[0] == "model" else job
            run = {**_spawn(spec), "repeat": repeat, "variant": variant}
            runs.append(run)
            print(
                f"  repeat {repeat + 1}/{args.repeats} {label}: {run['seconds']:.1f} s",
                file=sys.stderr,
            )
        timed = {"kind": "command", "repeat": repeat, "command_users": own}
        timed.update(commands.startup(args.scenario))
        timed["run_seconds"] = commands.run_command(args.scenario, own, args.overrides)
        runs.append(timed)
        print(
            f"  repeat {repeat + 1}/{args.repeats} commands: --help {timed['help_seconds']:.2f} s, "
            f"validate {timed['validate_seconds']:.2f} s, run {timed['run_seconds']:.1f} s",
            file=sys.stderr,
        )
    summary = summarise(runs, small, large)
    path = write_record(
        args.out, "bench", "custom" if args.sizes else "quick" if args.quick else "full",
        scenario=args.scenario,
        overrides=args.overrides,
        definition="events_per_second = true events simulated (visit + offsite) per second "
        "of simulate(); copies = events x plans; medians of the repeats",
        machine=machine(), bytecode=bytecode, targets=TARGETS, summary=summary, runs=runs,
    )  # fmt: skip
    print(report(summary))
    print(f"written to {path}")
    return 0


def _parallel(args: argparse.Namespace, bytecode: dict) -> int:
    """The ``--parallel`` mode: default worker count against one process, written as JSON."""
    import os

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import parallel

    ceiling, engine = parallel.ceilings()
    summary = parallel.measure(args.scenario, args.repeats)
    path = write_record(
        args.out, "bench", "parallel",
        scenario=args.scenario, machine=machine(), bytecode=bytecode, cores=os.cpu_count(),
        targets=parallel.TARGETS, machine_speedup=ceiling, engine_speedup=engine, summary=summary,
    )  # fmt: skip
    print(parallel.report(summary, os.cpu_count() or 1, ceiling, engine))
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
