"""Opt-in benchmark of ``trackloss estimate`` (``python -m pytest -m bench``).

The script itself on a small log (so a broken benchmark is noticed before the long one), then a
log of ten million rows against the targets: at least 2 million rows a second, under 1 GiB.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def bench(tmp_path: Path, rows: int, repeats: int) -> dict:
    args = ["--rows", str(rows), "--repeats", str(repeats), "--out", str(tmp_path)]
    subprocess.run([sys.executable, str(ROOT / "bench" / "estimate.py"), *args], check=True)
    return json.loads((tmp_path / f"estimate-{rows}.json").read_text())


@pytest.mark.bench
def test_estimate_benchmark_runs_and_writes_its_record(tmp_path: Path) -> None:
    record = bench(tmp_path, 50_000, 1)
    assert abs(record["rows"] - 50_000) < 5_000
    (run,) = record["runs"]
    assert run["seconds"] > 0 and run["cpu_seconds"] > 0 and run["peak_rss_mib"] > 0
    # seconds are rounded to 0.01 in the record, the rate is computed before rounding
    s, rows = record["seconds"], record["rows"]
    assert rows / (s + 0.005) - 1 <= record["rows_per_second"] <= rows / (s - 0.005) + 1
    ceiling = record["ceiling"]
    assert 0 < ceiling["seconds"] and ceiling["rows_per_second"] > 0
    assert len(record["ceiling_runs"]) == len(record["runs"])


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_estimate_meets_the_speed_and_memory_targets(tmp_path: Path) -> None:
    record = bench(tmp_path, 10_000_000, 3)
    assert record["peak_rss_mib"] < 1024, record
    assert record["rows_per_second"] >= 2_000_000, record
