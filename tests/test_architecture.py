"""The package's shape: stages import downwards only, no cycles, a fast start, one public API."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import simulator

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "simulator"
HEAVY = ("scipy", "simpy", "pandas", "matplotlib")


def _imports() -> dict[str, set[str]]:
    """Every module's imports of the package, lazy ones inside functions included."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.startswith("simulator"):
                    deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("simulator")}
        graph[name] = deps
    return graph


def test_stages_only_import_the_stages_below_them() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
         "lint_imports_command()"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_there_are_no_import_cycles() -> None:
    graph = _imports()
    cycles, state = [], {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = "open"
        for dep in sorted(graph.get(module, ())):
            if dep not in graph:
                continue
            if state.get(dep) == "open":
                cycles.append(stack[stack.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    code = (
        "import sys; from simulator.cli.main import build_parser; build_parser(); "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_validating_a_scenario_loads_neither_numpy_nor_the_heavy_libraries() -> None:
    # `trackloss validate` and `load_scenario` only read and check settings: the simulation's
    # numerical libraries load when something is simulated
    code = (
        "import sys; from simulator.config.loading import load_scenario; "
        "load_scenario('baseline', ['population.users=10']); "
        f"print(' '.join(m for m in {(*HEAVY, 'numpy')!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.wall_clock
def test_the_command_line_imports_in_well_under_half_a_second() -> None:
    code = "from simulator.cli.main import build_parser; build_parser()"
    best = float("inf")
    for _ in range(3):  # the fastest of three: a busy machine only ever slows a start down
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
            check=True,
        )  # fmt: skip
        line = next(x for x in done.stderr.splitlines() if x.endswith("| simulator.cli.main"))
        best = min(best, int(line.split("|")[1]) / 1e6)
    assert best < 0.5


def test_the_public_namespace_is_exactly_what_is_documented() -> None:
    assert sorted(simulator.__all__) == sorted([
        "load_scenario", "run", "RunResult", "summarise", "compare", "recommend", "run_sweep",
        "unload_survival", "to_frame", "sweep_frame", "plots", "__version__",
    ])  # fmt: skip
    for name in simulator.__all__:
        assert getattr(simulator, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'engine'"):
        simulator.engine  # noqa: B018


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = f"import sys, simulator; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


WORK_WORDS = re.compile(r"[Ii]ssue #?\d+|\.\./shared|CALIBRATION\.md")


@pytest.mark.parametrize("folder", ["simulator", "scenarios", "notebooks", "bench"])
def test_the_product_cites_its_own_sources_and_not_its_making(folder: str) -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / folder).rglob("*"))
        if path.is_file() and path.suffix in (".py", ".toml", ".ipynb", ".md")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if WORK_WORDS.search(line)
    ]
    assert hits == []
