"""Opt-in (``python -m pytest -m bench``): two versions of the engine timed in pinned pairs.

Needs two processors this process may run on (Linux). A few tiny runs, under a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

pytestmark = [
    pytest.mark.bench,
    pytest.mark.skipif(
        len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2,
        reason="needs two processors to pin the pair to",
    ),
]


def _pairs(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "pairs.py"), "--out", str(tmp_path), *args],
        capture_output=True, text=True,
    )  # fmt: skip


def test_a_checkout_against_itself_changes_nothing_within_the_interval(tmp_path: Path) -> None:
    """The same engine on both sides: equal events, and an interval that holds 1.

    The interval is a 95% one, so it misses 1 in one draw of twenty; the test draws once more
    before it fails, as scipy's own distribution tests do.
    """
    for attempt in range(2):
        out = tmp_path / str(attempt)
        done = _pairs(out, "--against", str(ROOT), "--users", "2000", "--pairs", "4")
        assert done.returncode == 0, done.stderr
        (path,) = out.glob("pairs-*.json")
        record = json.loads(path.read_text())
        summary, runs = record["summary"], record["runs"]
        assert len(runs) == 4
        assert {r["this_core"] for r in runs} == set(record["cores"])  # swapped every pair
        assert summary["this"]["events"] == summary["against"]["events"] > 0
        assert summary["this"]["package"] == summary["against"]["package"]
        change = summary["processor_time"]
        assert change["degrees_of_freedom"] == 2
        assert change["low"] < change["ratio"] < change["high"]
        assert "processor time, this / against" in done.stdout and str(path) in done.stdout
        if change["low"] <= 1.0 <= change["high"]:
            return
    pytest.fail(f"the interval missed 1 twice: {change}")


def test_the_change_is_the_geometric_mean_when_the_cores_are_swapped_evenly() -> None:
    from pairs import change

    rng = np.random.default_rng(5)
    logs = rng.normal(-0.05, 0.1, 12)
    orientation = np.tile([1.0, -1.0], 6)
    got = change(logs, orientation)
    assert got["ratio"] == pytest.approx(np.exp(logs.mean()))
    # A slower first core raises the log ratios where this version had it, and lowers the
    # others as much: the core effect is half the gap between the two orientations' means.
    gap = logs[orientation > 0].mean() - logs[orientation < 0].mean()
    assert got["core_effect"] == pytest.approx(np.exp(gap / 2))
    assert got["low"] < got["ratio"] < got["high"] and got["degrees_of_freedom"] == 10


def test_against_a_folder_without_the_package_is_refused(tmp_path: Path) -> None:
    done = _pairs(tmp_path, "--against", str(tmp_path))
    assert done.returncode == 2
    assert f"--against {tmp_path}: no simulator package there" in done.stderr
    assert "Traceback" not in done.stderr


def test_too_few_pairs_are_refused(tmp_path: Path) -> None:
    done = _pairs(tmp_path, "--against", str(ROOT), "--pairs", "3")
    assert done.returncode == 2
    assert "--pairs at least 4, got" in done.stderr and "and 3" in done.stderr


def test_a_bad_setting_is_named_before_anything_runs(tmp_path: Path) -> None:
    done = _pairs(tmp_path, "--against", str(ROOT), "--set", "client.transport=nope")
    assert done.returncode == 2
    assert "client.transport" in done.stderr and "'nope'" in done.stderr
    assert "Traceback" not in done.stderr and not list(tmp_path.glob("*.json"))
