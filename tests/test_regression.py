"""Exact-seed regression: a small scenario with every mechanism on, against a saved tally.

This is a tripwire, not a correctness check (the closed-form, oracle and conservation tests
are those): it fails when any change moves any count for a fixed seed, so that a change in
results is always deliberate. After an intended change, regenerate the file with
``python tests/test_regression.py --update`` and say why in the commit message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from factories import scenario
from test_engine import EVERYTHING_ON

from simulator.engine import run
from simulator.tally import MEASURES

SAVED = Path(__file__).parent / "data" / "regression_everything_on.json"


def current() -> dict:
    result = run(scenario(**{**EVERYTHING_ON, "users": 600}), seed=20261129)
    totals = result.tallies[0].totals()
    layout = result.tallies[0].layout
    return {
        plan: {
            event: {m: float(totals[p, e, i]) for i, m in enumerate(MEASURES) if totals[p, e, i]}
            for e, event in enumerate(layout.events)
        }
        for p, plan in enumerate(layout.plans)
    }


def test_counts_for_a_fixed_seed_are_unchanged():
    saved = json.loads(SAVED.read_text())
    now = current()
    assert now.keys() == saved.keys()
    for plan in saved:
        for event in saved[plan]:
            assert now[plan][event] == saved[plan][event], (plan, event)
    assert np.isfinite([v for p in now.values() for e in p.values() for v in e.values()]).all()


if __name__ == "__main__" and "--update" in sys.argv:
    SAVED.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SAVED}")
