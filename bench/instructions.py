"""Instruction counts: a steady yardstick for comparing two versions of the engine.

On a shared machine the wall time of the same run moves by a fifth from one run to the next,
more than most single changes to the engine gain. The number of instructions a run executes
hardly moves (valgrind's callgrind counts them; two counts of one run differ by 0.05%).
``python bench/instructions.py`` counts, under callgrind and in fresh processes:

1. a bare loop of simpy timeouts, less the same process with no timeout: simpy's instructions
   per event, the yardstick;
2. one replication of ``scenarios/baseline.toml`` for each workload of ``bench/run.py``
   (``xhr`` and :data:`run.VARIANTS`), less the same process stopped where ``simulate()``
   would start (imports, scenario, seeds): the engine's instructions per true event.

Each workload's figure is its rate in events per instruction over the loop's, the instruction
counterpart of ``bench/run.py``'s rate over the raw simpy rate. An instruction is not a fixed
slice of time (numpy's vector loops retire several per cycle, the interpreter fewer), so these
figures compare versions of the engine with each other; the targets are wall-time ratios and
are read from ``bench/run.py``. ``--against CHECKOUT`` counts another checkout's engine beside
this one's (the same harness, its ``simulator`` package) and gives each workload's change.
Results are printed and written as JSON into ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = Path(__file__).resolve().parent / "run.py"


def counted(child: list[str], engine: Path | None = None) -> tuple[int, dict]:
    """Instructions executed by ``bench/run.py --child CHILD`` under callgrind, and its result.

    ``engine``, a checkout's root, puts its ``simulator`` package first on the child's path
    (this checkout's otherwise). The child runs with ``PYTHONHASHSEED=0``, so that its string
    hashes, hence its dictionaries' layouts, are the same in every count, and with one BLAS
    thread: OpenBLAS's threads spin for a while after each call, so their instructions depend
    on the wall time (counts of one run differed by 0.7% with them, 0.05% without).
    """
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
    if engine is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(engine), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, str(RUN), "--child", *child],
            capture_output=True, text=True, check=True, cwd=ROOT, env=env,
        )  # fmt: skip
        totals = [line for line in out.read_text().splitlines() if line.startswith("summary:")]
    return int(totals[0].split()[1]), json.loads(done.stdout.strip().splitlines()[-1])


def measure(
    users: int, timeouts: int, scenario: str, overrides: list[str], against: Path | None = None
) -> dict:
    """Instructions per event of the simpy loop and of every workload, and their ratios.

    With ``against`` (another checkout's root), every workload is counted with its engine too,
    and the change from it is given. Counts run as many at a time as there are processors:
    what else the machine does changes no count.
    """
    from run import VARIANTS

    sets = [a for o in overrides for a in ("--set", o)]
    model = ["--scenario", scenario, *sets]
    jobs = {("raw", "loop"): (["raw", str(timeouts)], None), ("raw", "idle"): (["raw", "0"], None)}
    engines = {"this": None} if against is None else {"this": None, "against": against}
    variants = {"xhr": [], **VARIANTS}
    for name, engine in engines.items():
        jobs[(name, "setup")] = (["setup", str(users), *model], engine)
        for variant, extra in variants.items():
            more = [a for o in extra for a in ("--set", o)]
            jobs[(name, variant)] = (["model", str(users), *model, *more], engine)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = {key: pool.submit(counted, *job) for key, job in jobs.items()}
        done = {key: future.result() for key, future in futures.items()}
    per_timeout = (done[("raw", "loop")][0] - done[("raw", "idle")][0]) / timeouts
    out: dict = {"raw_instructions_per_event": per_timeout, "workloads": {}}
    for variant in variants:
        row = {}
        for name in engines:
            total, result = done[(name, variant)]
            spent = total - done[(name, "setup")][0]
            row[name] = {
                "package": result["package"],
                "instructions": spent,
                "events": result["events"],
                "instructions_per_event": spent / result["events"],
                "ratio_to_raw_simpy": per_timeout * result["events"] / spent,
            }
        if against is not None:
            now, then = row["this"], row["against"]
            row["change"] = now["instructions_per_event"] / then["instructions_per_event"] - 1
        out["workloads"][variant] = row
    return out


def report(summary: dict) -> str:
    """The table of instructions per event and rates over the simpy loop's."""
    lines = [f"simpy loop: {summary['raw_instructions_per_event']:,.0f} instructions per timeout"]
    compared = any("change" in row for row in summary["workloads"].values())
    head = f"{'workload':<18}{'instr/event':>12}{'ratio':>8}"
    lines.append(head + (f"{'against':>12}{'change':>9}" if compared else ""))
    for variant, row in summary["workloads"].items():
        w = row["this"]
        line = f"{variant:<18}{w['instructions_per_event']:>12,.0f}{w['ratio_to_raw_simpy']:>7.2f}x"
        if compared:
            line += f"{row['against']['instructions_per_event']:>12,.0f}{row['change']:>+8.1%}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Count, print and write the record; return the exit status."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=20_000, help="users per replication (20000)")
    p.add_argument("--timeouts", type=int, default=100_000, help="timeouts of the simpy loop")
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.toml"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument(
        "--against",
        type=Path,
        metavar="CHECKOUT",
        help="another checkout's root (a git worktree, say): count its engine too, and compare",
    )
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    if shutil.which("valgrind") is None:
        p.error("valgrind is needed to count instructions (apt-get install valgrind)")
    if args.users < 1 or args.timeouts < 1:
        p.error(f"--users and --timeouts must be positive, got {args.users} and {args.timeouts}")
    if args.against is not None and not (args.against / "simulator" / "__init__.py").is_file():
        p.error(f"--against {args.against}: no simulator package there (simulator/__init__.py)")
    sys.path.insert(0, str(RUN.parent))
    import commands
    from run import write_record

    bytecode = commands.compile_package()  # as installed, so that no count compiles a module
    if args.against is not None:
        commands.compile_package(args.against / "simulator")
    summary = measure(args.users, args.timeouts, args.scenario, args.overrides, args.against)
    path = write_record(
        args.out, "instructions", "callgrind",
        users=args.users, timeouts=args.timeouts, scenario=args.scenario,
        overrides=args.overrides, against=None if args.against is None else str(args.against),
        definition="instructions counted by callgrind, less the same process stopped before "
        "its measured part; ratio = events per instruction / simpy timeouts per instruction",
        bytecode=bytecode, summary=summary,
    )  # fmt: skip
    print(report(summary))
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
