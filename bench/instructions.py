"""Instruction counts: a steady yardstick for comparing two versions of the engine.

On a shared machine the wall time of the same run moves by a fifth from one run to the next,
more than most single changes to the engine gain. The number of instructions a run executes
hardly moves (valgrind's callgrind counts them; two counts of one run differ by about 0.2%).
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
are read from ``bench/run.py``. Results are printed and written as JSON into ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = Path(__file__).resolve().parent / "run.py"


def counted(child: list[str]) -> tuple[int, dict]:
    """Instructions executed by ``bench/run.py --child CHILD`` under callgrind, and its result.

    The child runs with ``PYTHONHASHSEED=0``, so that its string hashes, hence its dictionaries'
    layouts, are the same in every count, and with one BLAS thread: OpenBLAS's threads spin
    for a while after each call, so their instructions depend on the wall time (counts of one
    run differed by 0.7% with them, 0.05% without).
    """
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("bench/instructions.py needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, str(RUN), "--child", *child],
            capture_output=True, text=True, check=True, cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"},
        )  # fmt: skip
        totals = [line for line in out.read_text().splitlines() if line.startswith("summary:")]
    return int(totals[0].split()[1]), json.loads(done.stdout.strip().splitlines()[-1])


def measure(users: int, timeouts: int, scenario: str, overrides: list[str]) -> dict:
    """Instructions per event of the simpy loop and of every workload, and their ratios."""
    from run import VARIANTS

    sets = [a for o in overrides for a in ("--set", o)]
    loop, _ = counted(["raw", str(timeouts)])
    idle, _ = counted(["raw", "0"])
    per_timeout = (loop - idle) / timeouts
    print(f"  simpy loop: {per_timeout:,.0f} instructions a timeout", file=sys.stderr)
    setup, _ = counted(["setup", str(users), "--scenario", scenario, *sets])
    out: dict = {"raw_instructions_per_event": per_timeout, "workloads": {}}
    for variant, extra in {"xhr": [], **VARIANTS}.items():
        more = [a for o in extra for a in ("--set", o)]
        total, result = counted(["model", str(users), "--scenario", scenario, *sets, *more])
        per_event = (total - setup) / result["events"]
        out["workloads"][variant] = {
            "instructions": total - setup,
            "events": result["events"],
            "instructions_per_event": per_event,
            "ratio_to_raw_simpy": per_timeout / per_event,
        }
        print(f"  {variant}: {per_event:,.0f} instructions an event", file=sys.stderr)
    return out


def report(summary: dict) -> str:
    """The table of instructions per event and rates over the simpy loop's."""
    lines = [
        f"simpy loop: {summary['raw_instructions_per_event']:,.0f} instructions per timeout",
        f"{'workload':<18}{'instr/event':>12}{'ratio':>8}",
    ]
    for variant, w in summary["workloads"].items():
        lines.append(
            f"{variant:<18}{w['instructions_per_event']:>12,.0f}{w['ratio_to_raw_simpy']:>7.2f}x"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Count, print and write the record; return the exit status."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=20_000, help="users per replication (20000)")
    p.add_argument("--timeouts", type=int, default=100_000, help="timeouts of the simpy loop")
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.toml"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    if args.users < 1 or args.timeouts < 1:
        p.error(f"--users and --timeouts must be positive, got {args.users} and {args.timeouts}")
    sys.path.insert(0, str(RUN.parent))
    import commands
    from run import write_record

    bytecode = commands.compile_package()  # as installed, so that no count compiles a module
    summary = measure(args.users, args.timeouts, args.scenario, args.overrides)
    path = write_record(
        args.out, "instructions", "callgrind",
        users=args.users, timeouts=args.timeouts, scenario=args.scenario,
        overrides=args.overrides,
        definition="instructions counted by callgrind, less the same process stopped before "
        "its measured part; ratio = events per instruction / simpy timeouts per instruction",
        bytecode=bytecode, summary=summary,
    )  # fmt: skip
    print(report(summary))
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
