"""The Examples in the package's docstrings run, and give what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import simulator

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    m.name for m in pkgutil.walk_packages(simulator.__path__, "simulator.") if not m.ispkg
) + ["simulator"]


def _with_examples(name: str) -> bool:
    path = importlib.util.find_spec(name).origin
    if not path.endswith(".py"):  # a compiled module: its source is not Python
        return False
    return ">>> " in Path(path).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [m for m in MODULES if _with_examples(m)])
def test_docstring_examples_run(name: str, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # examples name scenario files relative to the repository
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert attempted > 0
    assert failed == 0
