"""Opt-in (``python -m pytest -m bench``): the instruction-count yardstick of ``bench/``.

Skipped where valgrind is missing. Counts are taken on tiny runs, a minute or two in all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

pytestmark = [
    pytest.mark.bench,
    pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed"),
]


def test_a_count_repeats_where_wall_time_does_not() -> None:
    """The same process counted twice: equal to the 0.05% that docs/speed.md promises.

    Four counts of this loop here spread over 631 instructions of its 16.3 million (0.004%).
    """
    from instructions import counted

    first, result = counted(["raw", "2000"])
    second, _ = counted(["raw", "2000"])
    idle, _ = counted(["raw", "0"])
    assert result["events"] == 2000
    assert abs(first - second) / (first - idle) < 0.0005, (first, second, idle)
    # A timeout costs thousands of instructions; the loop is what the difference measures.
    assert 1_000 < (first - idle) / 2000 < 100_000


def test_script_counts_every_workload_and_writes_its_record(tmp_path: Path) -> None:
    """Counted against the same checkout, every workload's change is within the counts' noise."""
    args = ["--users", "300", "--timeouts", "1000", "--against", str(ROOT), "--out", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "instructions.py"), *args],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (path,) = tmp_path.glob("instructions-*.json")
    record = json.loads(path.read_text())
    workloads = record["summary"]["workloads"]
    assert set(workloads) == {"xhr", "beacon", "fetch_keepalive", "batch_size_10"}
    raw = record["summary"]["raw_instructions_per_event"]
    for row in workloads.values():
        for w in (row["this"], row["against"]):
            assert w["package"] == str(ROOT / "simulator")
            assert w["events"] > 0 and w["instructions"] > 0
            assert w["ratio_to_raw_simpy"] == pytest.approx(raw / w["instructions_per_event"])
        # Against itself at 300 users, the four workloads' changes read 0.01%, 0.11%, 0.02% and
        # 0.13% (root mean square 0.09%, each change the noise of four counts): 0.5% is five
        # times that, and a change an engine's version really makes is larger.
        assert abs(row["change"]) < 0.005, row
    assert "xhr" in done.stdout and str(path) in done.stdout


def test_against_a_folder_without_the_package_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "instructions.py"), "--against", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"--against {tmp_path}: no simulator package there" in done.stderr
    assert "Traceback" not in done.stderr
