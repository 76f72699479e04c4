"""``recommend`` on the shipped presets: the same advice whatever the seed.

A recommendation that changes with the seed is noise presented as advice. Two things made it
change: context measured on delivered events (so a path losing events could tie or beat one
that brings the context on more of them), and a client loss close to the budget compared with
the budget as if it were exact. Context is now measured on true events, and a loss that does
not differ from the budget (within the tie margin, or not significantly) fits it.
"""

from __future__ import annotations

import pytest

from simulator.config import presets
from simulator.config.loading import load_scenario
from simulator.experiments.recommend import recommend

SEEDS = (1, 2, 3)


def advice(name: str, seed: int, users: int | None = None) -> dict[str, dict]:
    """Event -> its record, from a run of the preset (``users`` to make it smaller)."""
    overrides = [f"population.users={users}"] if users else []
    sc = load_scenario(presets.scenarios_dir() / f"{name}.toml", overrides)
    return {e["event"]: e for e in recommend(sc, seed=seed, workers=1)["events"]}


def assert_stable(runs: list[dict[str, dict]]) -> None:
    for event in runs[0]:
        chosen = [run[event]["recommendation"] for run in runs]
        assert len(set(chosen)) == 1, f"{event}: {chosen} over seeds {SEEDS}"


def test_baseline_advice_does_not_depend_on_the_seed():
    # First visits lose 4.6% on the client and none on hybrid, which forwards the context on
    # 99.8% of them: hybrid brings utm, referrer, user_agent on more true events, every time.
    # At its shipped size: a smaller run has less power, and a path clearly over the budget at
    # full size (the client's 7.6% on added_to_cart) is then only sometimes significantly so.
    runs = [advice("baseline", seed) for seed in SEEDS]
    assert_stable(runs)
    for run in runs:
        first = run["first_visit"]
        assert (first["recommendation"], first["rule"]) == ("hybrid", "most_context_coverage")
        paths = first["paths"]
        assert paths["hybrid"]["context_coverage"] > paths["client"]["context_coverage"]
        assert run["page_viewed"]["recommendation"] == "hybrid"


@pytest.mark.slow
@pytest.mark.parametrize("name", [p.name for p in presets.list_presets()])
def test_every_preset_gives_the_same_advice_on_every_seed(name):
    assert_stable([advice(name, seed) for seed in SEEDS])
