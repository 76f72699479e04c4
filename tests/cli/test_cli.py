"""The command line: exit codes, output, and that bad input never shows a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simulator import __version__
from simulator.cli.main import main
from simulator.config import loading
from simulator.replications.files import write_json_atomic


def test_validate_ok(minimal_scenario_dict: dict, write_scenario, capsys) -> None:
    path = write_scenario(minimal_scenario_dict)
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: ok\n"


def test_validate_reports_every_problem_of_every_file(
    minimal_scenario_dict: dict, write_scenario, capsys
) -> None:
    good = write_scenario(minimal_scenario_dict, "good.toml")
    minimal_scenario_dict["population"]["users"] = 0
    minimal_scenario_dict["simulation"] = {"horizon_hours": 0}
    bad = write_scenario(minimal_scenario_dict, "bad.toml")
    missing = good.parent / "missing.toml"
    assert main(["validate", str(bad), str(good), str(missing)]) == 2
    assert capsys.readouterr().out.splitlines() == [
        f"{bad}: simulation.horizon_hours: must be greater than 0, got 0",
        f"{bad}: population.users: must be greater than 0, got 0",
        f"{good}: ok",
        f"{missing}: no such file",
    ]


def test_validate_toml_syntax_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[population\nusers = 1\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: TOML syntax error at line 1, column 12")


def test_schema_prints_the_json_schema(capsys) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "properties" in schema
    assert {"population", "plans", "events", "client", "server"} <= set(schema["properties"])
    assert "population" in schema["else"]["required"]  # required unless the file extends another


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"trackloss {__version__}"


def test_run_with_a_bad_set_exits_2_without_traceback(
    minimal_scenario_dict: dict, write_scenario, capsys
) -> None:
    path = write_scenario(minimal_scenario_dict)
    code = main(["run", str(path), "--set", "population.users=0", "--set", "nokey", "--quiet"])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [f"{path}: --set nokey: expected dotted.path=value"]
    assert "Traceback" not in captured.err


def test_run_with_an_invalid_override_value_names_the_override(
    minimal_scenario_dict: dict, write_scenario, capsys
) -> None:
    path = write_scenario(minimal_scenario_dict)
    assert main(["run", str(path), "--set", "population.users=0", "--quiet"]) == 2
    assert capsys.readouterr().err == (
        f"{path}: population.users: must be greater than 0, got 0 (from --set population.users=0)\n"
    )


def test_run_checks_the_json_folder_before_simulating(
    minimal_scenario_dict: dict, write_scenario, tmp_path: Path, capsys
) -> None:
    path = write_scenario(minimal_scenario_dict)
    target = tmp_path / "no" / "such" / "out.json"
    assert main(["run", str(path), "--json", str(target), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "does not exist" in captured.err
    assert main(["run", str(path), "--json", str(tmp_path), "--quiet"]) == 2
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--replications", "0"], ["--seed", "-1"], ["--seed", "x"]])
def test_run_rejects_bad_numbers(args: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "scenario.toml", *args])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_interrupt_exits_130(monkeypatch, capsys) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(loading, "load_scenario", interrupted)
    assert main(["run", "scenario.toml", "--quiet"]) == 130
    assert capsys.readouterr().err == "trackloss: interrupted\n"


def test_write_json_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old", encoding="utf-8")
    write_json_atomic(target, {"b": 1, "a": [1.5, None]})
    assert (
        target.read_text(encoding="utf-8")
        == json.dumps({"a": [1.5, None], "b": 1}, indent=2, sort_keys=True) + "\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_write_json_atomic_keeps_the_old_file_when_serialising_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(TypeError):
        write_json_atomic(target, {"a": object()})
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_python_m_simulator_is_the_entry_point(minimal_scenario_dict: dict, write_scenario) -> None:
    path = write_scenario(minimal_scenario_dict)
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{path}: ok\n", "")


@pytest.mark.parametrize("valid", [True, False])
def test_the_program_keeps_mains_status_and_freezes_the_collector_only_at_exit(
    minimal_scenario_dict: dict, write_scenario, valid: bool
) -> None:
    if not valid:
        minimal_scenario_dict["population"]["users"] = -1
    path = write_scenario(minimal_scenario_dict)
    # The freeze is the program's last exit handler: one registered before it runs after it.
    code = (
        "import atexit, gc, sys\n"
        "from simulator.cli.main import program\n"
        "atexit.register(lambda: print(gc.get_freeze_count() > 0, file=sys.stderr))\n"
        "sys.argv = ['trackloss', 'validate', sys.argv[1]]\n"
        "status = program()\n"
        "print(gc.get_freeze_count(), status, file=sys.stderr)\n"
    )
    stderr = _program_stderr(code, path)
    assert stderr.splitlines()[-2:] == [f"0 {0 if valid else 2}", "True"], stderr


@pytest.mark.parametrize("given", [None, "3"])
def test_the_program_starts_blas_on_one_thread_unless_told_and_collects_young_objects_less_often(
    minimal_scenario_dict: dict, write_scenario, given: str | None
) -> None:
    path = write_scenario(minimal_scenario_dict)
    code = (
        "import gc, os, sys\n"
        "from simulator.cli.main import YOUNG_OBJECTS, program\n"
        "print('numpy' in sys.modules, file=sys.stderr)\n"  # the setting must come before it
        "sys.argv = ['trackloss', 'validate', sys.argv[1]]\n"
        "program()\n"
        "print(gc.get_threshold()[0] == YOUNG_OBJECTS, os.environ['OPENBLAS_NUM_THREADS'],"
        " file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    stderr = _program_stderr(code, path, env)
    assert stderr.splitlines() == ["False", f"True {given or 1}"], stderr


def _program_stderr(code: str, path: Path, env: dict[str, str] | None = None) -> str:
    """What ``code``, run in a fresh interpreter with the scenario ``path``, wrote to stderr."""
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    return done.stderr


def test_run_end_to_end_writes_the_json_contract(
    minimal_scenario_dict: dict, write_scenario, tmp_path: Path, capsys
) -> None:
    path = write_scenario(minimal_scenario_dict)
    out = tmp_path / "result.json"
    assert main(["run", str(path), "--seed", "7", "--json", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Scenario 'minimal': 200 users")
    assert "seed 7" in printed.splitlines()[0]
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["version"] == __version__
    assert summary["scenario"]["seed"] == 7
    assert summary["scenario"]["config"]["population"]["users"] == 200
    first = summary["results"][0]
    lo, hi = first["loss_ci"]
    assert 0.0 <= lo <= first["loss"] <= hi <= 1.0
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []
