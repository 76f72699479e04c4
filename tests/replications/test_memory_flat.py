"""A run's memory does not grow with its replications or shards: each is folded in as it ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

# Every task returns a copy of one real tally of the small lossy scenario (90 kB, every measure
# and dimension filled) instead of simulating again: what is measured is what the runner keeps
# of each task, in seconds instead of minutes. Peak resident memory is read by the process itself.
SCRIPT = """
import resource, sys
from support.lossy_factory import lossy
from simulator.model.tally import Tally
from simulator.replications import runner

kind, n = sys.argv[1], int(sys.argv[2])
sc = lossy(users=1500)
tally, meta = runner.simulate_task(runner.plan_tasks(sc, shards=1)[0])

def replay(task):
    return Tally(tally.layout, tally.counts.copy()), dict(meta)

runner.simulate_task = replay
if kind == "replications":
    result = runner.run(sc, replications=n, shards=1, workers=1)
else:
    result = runner.run(sc, replications=1, shards=n, workers=1)
assert len(result.tallies) == (n if kind == "replications" else 1)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kib(kind: str, n: int) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, kind, str(n)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    )
    return int(out.stdout.split()[-1])


@pytest.mark.parametrize("kind", ["replications", "shards"])
def test_peak_memory_is_flat_in_the_number_of_tasks(kind: str) -> None:
    # Keeping every task's tally would add 1,000 x 90 kB = 90 MB to a process of ~100 MB
    # (a ratio near 1.9); folding keeps one tally plus a few kB per replication.
    small, large = _peak_kib(kind, 10), _peak_kib(kind, 1000)
    assert large <= 1.5 * small, (small, large)
