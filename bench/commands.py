"""Whole-command timings for ``bench/run.py``: start-up and a run's fixed cost.

``simulate()`` is not all a user waits for: the command imports its modules, reads the
scenario, computes the statistics and writes the record. These timings run the real command in
a fresh process, as a user does:

* start-up: ``trackloss --help`` and ``trackloss validate`` on the scenario;
* a run's fixed cost: ``trackloss run`` of one replication at the scenario's own size with one
  worker, minus the median ``simulate()`` time of the same size measured beside it;
* the floors under both: a bare interpreter, and one that only imports the libraries each
  command cannot do without (:data:`FLOORS`), so that what is this package's own is visible.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = {
    "interpreter_seconds": "pass",
    "validate_floor_seconds": "import pydantic",
    "run_floor_seconds": "import numpy, pydantic, simpy, scipy.special",
}
"""Floors of the start-up and of a run's fixed cost: the libraries each must import."""


def compile_package(package: Path = ROOT / "simulator") -> dict:
    """Byte-compile the package's modules, as ``pip install`` does when it installs a package.

    Python writes a module's compiled form on its first import, unless told not to: with
    ``PYTHONDONTWRITEBYTECODE`` set (the development machine sets it), every command would
    compile the package's modules again, about 70 ms that a user's installed copy never spends.
    ``package`` is this checkout's by default. Returns what the record says of it.
    """
    import compileall

    ok = compileall.compile_dir(package, quiet=1)
    return {"compiled": bool(ok), "dont_write_env": os.environ.get("PYTHONDONTWRITEBYTECODE")}


def wall_seconds(args: list[str]) -> float:
    """Wall seconds of ``python -m simulator ARGS`` in a fresh process, output discarded."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "simulator", *args],
        check=True,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def startup(scenario: str) -> dict:
    """Seconds of ``--help`` and of ``validate SCENARIO``, and of the floors (:data:`FLOORS`)."""
    out = {
        "help_seconds": wall_seconds(["--help"]),
        "validate_seconds": wall_seconds(["validate", scenario]),
    }
    for name, code in FLOORS.items():
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        out[name] = time.perf_counter() - start
    return out


def run_command(scenario: str, users: int, overrides: list[str]) -> float:
    """Seconds of one replication of ``trackloss run`` at ``users`` users with one worker."""
    sets = [a for o in overrides for a in ("--set", o)]
    with tempfile.TemporaryDirectory() as tmp:
        return wall_seconds(
            ["run", scenario, "--quiet", *sets, "--set", f"population.users={users}"]
            + ["--replications", "1", "--workers", "1", "--json", str(Path(tmp) / "out.json")]
        )


def scenario_users(scenario: str, overrides: list[str]) -> int:
    """The scenario's own ``population.users``, after overrides."""
    sys.path.insert(0, str(ROOT))
    from simulator.config.loading import load_scenario

    return load_scenario(scenario, overrides).population.users
