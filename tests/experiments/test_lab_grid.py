"""The lab's grid, results file and model side, without a browser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli.main import main
from simulator.experiments.lab.cells import Cell, grid
from simulator.experiments.lab.model_side import cell_key, model_shares, on_the_boundary, setup_ms
from simulator.experiments.lab.results import (
    COLUMNS,
    ResultsMismatch,
    cell_row,
    read_results,
    write_results,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_grid_is_the_product_of_its_factors_ordered_by_latency() -> None:
    cells = grid(
        transports=["xhr", "beacon"],
        gaps=[100, 0],
        latencies=[200, 50],
        connections=["cold", "warm"],
        preflights=["off"],
        page_ends=["navigate", "close"],
        trials=7,
    )
    assert len(cells) == 2 * 2 * 2 * 2 * 2
    assert len({c.key for c in cells}) == len(cells)
    assert [c.latency_ms for c in cells] == sorted(c.latency_ms for c in cells)
    assert {c.trials for c in cells} == {7}


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"transports": ["xhr", "ws"]}, "'ws'"),
        ({"gaps": [-1]}, "-1"),
        ({"latencies": [20_000]}, "20000"),
        ({"connections": []}, "connection"),
        ({"page_ends": ["reload"]}, "'reload'"),
        ({"trials": 0}, "trials"),
    ],
)
def test_bad_levels_are_refused_naming_the_value(kwargs: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        grid(**kwargs)


def _row(cell: Cell, delivered: int, version: str = "150.0") -> dict:
    counts = {"delivered": delivered, "reported": cell.trials}
    return cell_row(
        cell, counts, [30.0, 50.0, 130.0], browser="chromium", version=version,
        latency_method="nfqueue", concurrent=4,
    )  # fmt: skip


def test_results_round_trip_and_resume_keeps_finished_cells(tmp_path: Path) -> None:
    cells = grid(transports=["xhr", "beacon"], gaps=[0], latencies=[50], trials=10)
    path = tmp_path / "lab.csv"
    write_results(path, [_row(cells[0], 3), _row(cells[1], 10)])
    header = path.read_text().splitlines()[0]
    assert header == ",".join(COLUMNS)
    done = read_results(path, "chromium", "150.0")
    assert set(done) == {cells[0].key, cells[1].key}
    assert int(done[cells[0].key]["delivered"]) == 3
    assert done[cells[0].key]["teardown_p50_ms"] == "50.0"


def test_a_file_from_another_browser_version_is_refused(tmp_path: Path) -> None:
    cell = grid(transports=["xhr"], gaps=[0], latencies=[50], trials=10)[0]
    path = tmp_path / "lab.csv"
    write_results(path, [_row(cell, 3, version="149.0")])
    with pytest.raises(ResultsMismatch, match="149.0"):
        read_results(path, "chromium", "150.0")
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ResultsMismatch, match="not a lab results file"):
        read_results(path, "chromium", "150.0")


def _cell(transport, gap, latency, connection="cold", preflight="off", p50=50.0, p90=60.0):
    return {"transport": transport, "gap_ms": gap, "latency_ms": latency,
            "connection": connection, "preflight": preflight, "page_end": "navigate",
            "teardown_p50_ms": p50, "teardown_p90_ms": p90}  # fmt: skip


def test_the_model_side_is_the_engines_rule_written_before_teardown() -> None:
    """Cold at 50 ms: written at 100 ms; the page is torn down about 50 ms after the gap."""
    cells = [
        _cell("xhr", 0, 50),  # 0 + ~50 < 100: never written
        _cell("xhr", 100, 50),  # written at the navigation's start: always
        _cell("xhr", 0, 50, connection="warm"),  # written at once
        _cell("xhr", 100, 50, preflight="on"),  # 200 ms of setup, teardown at ~150
        _cell("xhr", 100, 200),  # 400 ms of setup
        _cell("beacon", 0, 200),  # survives the unload
    ]
    shares = model_shares(cells, pages=50)
    assert [shares[cell_key(c)] for c in cells] == [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]


def test_boundary_cells_are_those_the_teardown_decides() -> None:
    assert setup_ms(_cell("xhr", 0, 50, preflight="on")) == 200.0
    assert not on_the_boundary(_cell("xhr", 0, 50, connection="warm"))  # written at once
    assert not on_the_boundary(_cell("xhr", 0, 50, p90=60.0))  # 0 + 60 < 100
    assert on_the_boundary(_cell("xhr", 50, 50, p90=60.0))
    assert not on_the_boundary(_cell("xhr", 250, 50, p90=60.0))  # 250 > 100 + 60
    assert not on_the_boundary(_cell("beacon", 50, 50))


def test_an_existing_file_needs_resume(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "lab.csv"
    path.write_text("")
    assert main(["lab", "-o", str(path), "--latencies", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--resume" in err and str(path) in err


def test_bad_grid_values_exit_2_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["lab", "-o", str(tmp_path / "x.csv"), "--connections", "lukewarm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "trackloss lab: connection must be one of cold, warm, got 'lukewarm'"


def test_a_missing_browser_is_named_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "lab", "-o", str(tmp_path / "x.csv"),
         "--latencies", "0", "--browser", str(tmp_path / "no-chromium"), "--quiet"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "no-chromium" in lines[0] or "playwright is not installed" in lines[0]
    assert not (tmp_path / "x.csv").exists()


def test_latency_that_cannot_be_emulated_is_explained_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import ctypes

    import simulator.experiments.lab.network as network

    class RefusingLibc:
        def unshare(self, flags: int) -> int:
            ctypes.set_errno(1)  # EPERM, as for a user who is not root
            return -1

    monkeypatch.setattr(network.ctypes, "CDLL", lambda *args, **kwargs: RefusingLibc())
    out = tmp_path / "x.csv"
    assert main(["lab", "-o", str(out), "--transports", "xhr", "--latencies", "50"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "trackloss lab: latency cannot be emulated here: a private network namespace was "
        "refused (Operation not permitted: it needs root); run with --latencies 0 to measure "
        "without it"
    )
    assert not out.exists()
