"""Exact-seed regression: small scenarios with every mechanism on, against saved tallies.

One scenario batches its client events: its browser copies are settled by the compiled page
loop, and, as where the package was built without it, on arrays (each its own file, since the
two draw their variates in other orders). The other sends one request per event (settled on
arrays, one request at a time).

This is a tripwire, not a correctness check (the closed-form, oracle and conservation tests
are those): it fails when any change moves any count for a fixed seed, so that a change in
results is always deliberate. After an intended change, regenerate the file with
``PYTHONPATH=tests python tests/model/test_regression.py --update`` (from the repository's
root, so that the tests' ``support`` package is found) and say why in the commit message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from support.factories import scenario
from support.running import run
from support.scenarios import EVERYTHING_ON, ONE_REQUEST

from simulator.model.client import looped
from simulator.model.tally import MEASURES

DATA = Path(__file__).resolve().parents[1] / "data"
SCENARIOS = {
    "regression_everything_on.json": EVERYTHING_ON,  # batches, through the page loop
    "regression_everything_on_arrays.json": EVERYTHING_ON,  # batches, on arrays
    "regression_one_request.json": ONE_REQUEST,  # one request per event
}
ON_ARRAYS = {"regression_everything_on_arrays.json"}
"""Settled as a package built without the compiled page loop settles them."""


def current(name: str) -> dict:
    with pytest.MonkeyPatch.context() as mp:
        if name in ON_ARRAYS:
            mp.setattr(looped, "PageLoop", None)
        elif not looped.available() and name == "regression_everything_on.json":
            pytest.skip("the page loop was not built")
        result = run(scenario(**{**SCENARIOS[name], "users": 600}), seed=20261129)
    totals = result.tallies[0].totals()
    layout = result.tallies[0].layout
    return {
        plan: {
            event: {m: float(totals[p, e, i]) for i, m in enumerate(MEASURES) if totals[p, e, i]}
            for e, event in enumerate(layout.events)
        }
        for p, plan in enumerate(layout.plans)
    }


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_counts_for_a_fixed_seed_are_unchanged(name: str):
    saved = json.loads((DATA / name).read_text())
    now = current(name)
    assert now.keys() == saved.keys()
    for plan in saved:
        for event in saved[plan]:
            assert now[plan][event] == saved[plan][event], (plan, event)
    assert np.isfinite([v for p in now.values() for e in p.values() for v in e.values()]).all()


if __name__ == "__main__" and "--update" in sys.argv:
    for name in SCENARIOS:
        (DATA / name).write_text(json.dumps(current(name), indent=1, sort_keys=True) + "\n")
        print(f"wrote {DATA / name}")
