"""A short run of the lab in the system's Chromium: a few cells, ten trials each.

Skipped, with the reason, where Chromium or playwright is missing. Where the packet delay can
run (:func:`support.lab_probe.why_no_delay`) it adds 50 ms of latency; otherwise it runs
without latency.
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.lab_probe import why_no_delay

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
TRIALS = 10

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None,
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="playwright is not installed (pip install '.[lab]')",
    ),
]


def _latency() -> str:
    return "0" if why_no_delay() else "50"


def _lab(out: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "simulator", "lab", "-o", str(out), "--quiet",
        "--transports", "xhr,beacon", "--gaps", "0", "--latencies", _latency(),
        "--connections", "cold,warm", "--preflight", "off", "--page-ends", "navigate",
        "--trials", str(TRIALS), *extra,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=240)


def test_a_few_cells_in_chromium_then_resume_measures_nothing(tmp_path: Path) -> None:
    out = tmp_path / "lab.csv"
    done = _lab(out)
    assert done.returncode == 0, done.stderr
    with out.open(newline="") as f:
        rows = {(r["transport"], r["connection"]): r for r in csv.DictReader(f)}
    assert set(rows) == {(t, c) for t in ("xhr", "beacon") for c in ("cold", "warm")}
    for row in rows.values():
        assert row["browser"] == "chromium" and row["browser_version"][0].isdigit()
        assert int(row["trials"]) == TRIALS
        # The page-hide handler runs on every navigation, and reports its teardown time.
        assert int(row["reported"]) == TRIALS
        assert 0 <= float(row["teardown_p50_ms"]) <= float(row["teardown_max_ms"])
        assert 0 <= int(row["delivered"]) <= TRIALS
    # A beacon survives the navigation, and goes on a connection of its own.
    for connection in ("cold", "warm"):
        assert int(rows[("beacon", connection)]["delivered"]) == TRIALS
        assert int(rows[("beacon", connection)]["on_warm_connection"]) == 0
    # A warm xhr reuses the connection the page opened; a cold one cannot.
    warm = rows[("xhr", "warm")]
    assert int(warm["on_warm_connection"]) == int(warm["delivered"])
    assert int(rows[("xhr", "cold")]["on_warm_connection"]) == 0

    before = out.read_bytes()
    again = _lab(out, "--resume")
    assert again.returncode == 0, again.stderr
    assert "0 cells measured, 4 kept" in again.stdout
    assert out.read_bytes() == before
