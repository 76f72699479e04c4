"""``trackloss export RECORD --table NAME --format csv|parquet``."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from support.small_records import RECORD

from simulator.cli.main import main
from simulator.outputs import table_export
from simulator.outputs.frames import TABLES, to_frame


@pytest.fixture
def record_file(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(RECORD), encoding="utf-8")
    return path


def test_csv_to_standard_output_is_the_frame_without_float_noise(record_file, capsys):
    assert main(["export", str(record_file), "--table", "loss"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    frame = to_frame(RECORD, "loss")
    assert [r["plan"] for r in rows] == list(frame["plan"])
    assert list(rows[0]) == list(frame.columns)
    assert rows[0]["loss"] == "0.1" and rows[0]["loss_hi"] == "0.15"


@pytest.mark.parametrize("table", list(TABLES))
def test_every_table_exports_to_a_file(record_file, tmp_path, table):
    out = tmp_path / f"{table}.csv"
    assert main(["export", str(record_file), "--table", table, "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0].split(",") == list(to_frame(RECORD, table).columns)


def test_names_that_look_like_formulas_are_neutralised(tmp_path, capsys):
    rows = [{**r, "event": "=cmd|' /C calc'!A0"} for r in RECORD["results"]]
    hostile = {**RECORD, "results": rows}
    path = tmp_path / "h.json"
    path.write_text(json.dumps(hostile), encoding="utf-8")
    assert main(["export", str(path)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["event"] for r in rows} == {"'=cmd|' /C calc'!A0"}


@pytest.mark.skipif(not table_export.parquet_available(), reason="pyarrow is not installed")
def test_parquet_round_trips(record_file, tmp_path):
    out = tmp_path / "loss.parquet"
    assert main(["export", str(record_file), "--format", "parquet", "-o", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out), to_frame(RECORD, "loss"))


def test_parquet_without_pyarrow_says_what_to_install(record_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(table_export, "parquet_available", lambda: False)
    out = tmp_path / "loss.parquet"
    assert main(["export", str(record_file), "--format", "parquet", "-o", str(out)]) == 2
    assert "pip install 'trackloss[parquet]'" in capsys.readouterr().err
    assert not out.exists()


def test_a_bad_record_or_table_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**RECORD, "kpis": "none"}), encoding="utf-8")
    assert main(["export", str(bad), "--table", "kpis"]) == 2
    assert capsys.readouterr().err == f'{bad}: kpis: expected a list, got text "none"\n'
    with pytest.raises(SystemExit) as exited:
        main(["export", str(bad), "--table", "nope"])
    assert exited.value.code == 2


def test_shell_completion_offers_commands_when_argcomplete_is_installed(tmp_path):
    pytest.importorskip("argcomplete", reason="completion is optional (trackloss[completion])")
    answer = tmp_path / "completions"
    env = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": "trackloss ex", "COMP_POINT": "12",
           "_ARGCOMPLETE_STDOUT_FILENAME": str(answer), "_ARGCOMPLETE_IFS": "\n"}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "simulator"], env=env, capture_output=True)
    assert done.returncode == 0
    assert answer.read_text().split() == ["export"]
