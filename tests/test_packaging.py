"""The package as users install it: every subpackage, the presets and the page loop.

The fast test checks the package list in ``pyproject.toml`` against the folders, because a
subpackage left out of it would be missing from a normal install while every test run from the
source tree still passes. The slow test does a real non-editable ``pip install`` into a fresh
virtual environment, which compiles the page loop, and runs the installed command from an
empty folder, where only the installed package can be found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from support.scenarios import SCENARIO_FILES

from simulator.config.blocker_lists import BUILTIN_LISTS

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]


def test_every_subpackage_and_the_presets_are_listed_for_the_wheel():
    folders = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "simulator").rglob("__init__.py")
    }
    assert set(SETUPTOOLS["packages"]) == folders | {"simulator.scenarios"}
    assert SETUPTOOLS["package-dir"] == {"simulator.scenarios": "scenarios"}
    assert SETUPTOOLS["package-data"] == {
        "simulator.scenarios": ["*.toml"],
        "simulator.config": ["filter_lists/*.txt"],
    }
    shipped = {p.stem for p in (ROOT / "simulator" / "config" / "filter_lists").glob("*.txt")}
    assert shipped == set(BUILTIN_LISTS)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtual environment with trackloss installed from a copy of the source tree."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"  # a copy, so the build leaves nothing in the working tree
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, source / name)
    # Nothing compiled here either: the install compiles the page loop itself.
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.c")
    for name in ("simulator", "scenarios"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    venv = tmp / "venv"
    # The dependencies are already installed here, so the environment borrows them.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    done = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--no-deps", str(source)],
        capture_output=True, text=True, env=_clean_env(), cwd=tmp,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return venv


def _clean_env() -> dict[str, str]:
    """The environment without PYTHONPATH, which would put the source tree first."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _trackloss(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "trackloss"), *args],
        capture_output=True, text=True, env=_clean_env(), cwd=cwd, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_an_installed_package_lists_and_runs_its_presets_by_name(installed, tmp_path):
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import simulator; print(simulator.__file__)"],
        capture_output=True, text=True, env=_clean_env(), cwd=tmp_path, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(installed)
    loops = (
        "from simulator.model.client.looped import available; "
        "from simulator.model.client.arrays import request_race; "
        "from simulator.model.outcome_counts import counting_loop; "
        "from simulator.model.flush_worker import usual_ticks; "
        "from simulator.model.copies import dual_rows; "
        "print(available(), *(m is not None for m in "
        "(request_race, counting_loop, usual_ticks, dual_rows)))"
    )
    built = subprocess.run(
        [str(installed / "bin" / "python"), "-c", loops],
        capture_output=True, text=True, env=_clean_env(), cwd=tmp_path, check=True,
    )  # fmt: skip
    assert built.stdout.strip() == "True True True True True"  # the install compiled every loop

    listed = _trackloss(installed, "presets", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert str(installed) in lines[0]
    assert [line.split()[0] for line in lines[1:]] == [f.stem for f in SCENARIO_FILES]
    assert "[invalid" not in listed.stdout

    names = [f.stem for f in SCENARIO_FILES]
    checked = _trackloss(installed, "validate", *names, cwd=tmp_path)
    assert checked.stdout.splitlines() == [f"{n}: ok" for n in names], checked.stderr

    ran = _trackloss(
        installed, "run", "server_side", "--replications", "1", "--workers", "1", "--quiet",
        "--set", "population.users=200", "--json", "out.json", cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("Scenario 'server_side': 200 users")
    assert (tmp_path / "out.json").is_file()

    typo = _trackloss(installed, "run", "baselin", cwd=tmp_path)
    assert typo.returncode == 2
    assert typo.stderr.startswith("baselin: no such file, and no preset of that name (presets: ")
    assert "Traceback" not in typo.stderr
