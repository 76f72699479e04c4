"""The compiled loops: built with the package, and not run where their sources changed since."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
from support.factories import scenario
from support.scenarios import EVERYTHING_ON, ONE_REQUEST

from simulator.model import copies, flush_worker, outcome_counts
from simulator.model.client import arrays
from simulator.model.compiled import built, current
from simulator.model.engine import simulate

LOOPS = {
    "the request race": (arrays, "request_race"),
    "the counting loop": (outcome_counts, "counting_loop"),
    "the usual ticks' loop": (flush_worker, "usual_ticks"),
    "the dual rows": (copies, "dual_rows"),
}
"""Each loop, and where the engine finds it (None: on arrays)."""


def test_every_compiled_loop_is_built() -> None:
    """The package's install compiles them (it needs a C compiler and Cython)."""
    missing = [name for name, (owner, attr) in LOOPS.items() if getattr(owner, attr) is None]
    assert not missing, (
        f"{', '.join(missing)} not compiled: the same results on arrays, more slowly; with a C "
        "compiler, reinstall the package (pip install -e .) to build them"
    )


def test_a_module_that_was_not_built_stands_aside() -> None:
    assert built("simulator.model.no_such_loop", ("no_such_loop.pyx",), "a loop", "arrays") is None


def test_a_loop_compiled_before_its_source_changed_is_not_used(tmp_path) -> None:
    """In an editable install, an edited source would otherwise run as the old machine code."""
    for name in ("counting_loop.pyx", "counting_loop.so"):
        (tmp_path / name).write_text("")
        os.utime(tmp_path / name, (1000.0, 1000.0))
    module = SimpleNamespace(__file__=str(tmp_path / "counting_loop.so"))
    assert current([module], ("counting_loop.pyx",), "the counting loop", "counting on arrays")
    os.utime(tmp_path / "counting_loop.pyx", (2000.0, 2000.0))
    with pytest.warns(RuntimeWarning, match="the counting loop was compiled before counting_lo"):
        assert not current([module], ("counting_loop.pyx",), "the counting loop", "on arrays")


@pytest.mark.parametrize("loop", list(LOOPS))
@pytest.mark.parametrize("settings", [ONE_REQUEST, EVERYTHING_ON], ids=["one_request", "batches"])
def test_a_run_is_the_same_with_the_loop_and_on_arrays(loop, settings, monkeypatch) -> None:
    """A whole run's tally, every counter of every cell and every group's totals, both ways."""
    owner, attr = LOOPS[loop]
    if getattr(owner, attr) is None:
        pytest.skip(f"{loop} was not built")
    sc = scenario(**{**settings, "users": 600})
    tally, meta = simulate(sc, np.random.SeedSequence(11))
    monkeypatch.setattr(owner, attr, None)
    on_arrays, meta_on_arrays = simulate(sc, np.random.SeedSequence(11))
    assert tally.counts.tobytes() == on_arrays.counts.tobytes()
    assert tally.groups.keys() == on_arrays.groups.keys()
    for name, groups in tally.groups.items():
        assert groups.tobytes() == on_arrays.groups[name].tobytes(), name
    assert meta == meta_on_arrays
