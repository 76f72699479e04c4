"""Plans with their own client settings (destination, URLs, transport, batching) are simulated on
the same visitors in one run, and each behaves as a separate run of its settings would."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from support.factories import scenario
from support.running import run

from simulator.config.loading import ScenarioError, parse_scenario
from simulator.model.tally import CAUSES, M

SEGMENTS_BLOCKED = {"none": 0.7, "extension_privacy": 0.2, "browser_builtin": 0.1}
OWN = {"destination": "proxy", "urls": {"events": "https://shop.example/beacon/v1/batch"}}


def shop(**overrides):
    segs = scenario().population.model_dump(mode="json", by_alias=True)["segments"]
    for s in segs:
        s["blockers"] = SEGMENTS_BLOCKED
        s.pop("behaviour", None)
    return scenario(users=1200, population={"segments": segs}, **overrides)


def losses(result, plan: str, event: str) -> np.ndarray:
    out = []
    for t in result.tallies:
        tot = t.totals()[t.layout.plans.index(plan), t.layout.events.index(event)]
        out.append(1 - tot[M["delivered"]] / tot[M["truth"]])
    return np.array(out)


def test_other_plans_are_untouched_by_a_plan_with_its_own_settings():
    alone = run(shop(plans=[{"name": "vendor"}]), seed=5).tallies[0].totals()
    both = shop(plans=[{"name": "vendor"}, {"name": "own", "client": OWN}])
    together = run(both, seed=5).tallies[0].totals()
    np.testing.assert_array_equal(alone[0], together[0])  # its own streams: exact
    own = together[1]
    accounted = own[:, M["delivered"]] + sum(own[:, M[f"lost_{c}"]] for c in CAUSES)
    np.testing.assert_array_equal(own[:, M["truth"]], accounted + own[:, M["pending"]])


@pytest.mark.parametrize("event", ["page_viewed", "link_clicked"])
def test_a_plans_own_settings_lose_what_a_separate_run_of_them_loses(event):
    """In distribution: Welch t test across replications of the two runs (independent seeds)."""
    together = shop(plans=[{"name": "vendor"}, {"name": "own", "client": OWN}])
    separate = shop(client={**OWN, "transport": "fetch_keepalive"})
    assert separate.client.transport == together.client_of(together.plans[1]).transport

    def p_value(seed: int) -> float:
        a = losses(run(together, replications=8, seed=seed), "own", event)
        b = losses(run(separate, replications=8, seed=seed + 100), "client", event)
        return stats.ttest_ind(a, b, equal_var=False).pvalue

    assert p_value(1) >= 0.001 or p_value(2) >= 0.001


def test_the_beacon_path_loses_the_privacy_list_users_on_the_same_visitors():
    sc = shop(plans=[{"name": "neutral", "client": {"destination": "proxy"}},
                     {"name": "beacon_path", "client": OWN}])  # fmt: skip
    tot = run(sc, seed=3).tallies[0].totals()
    pv = sc.events.index(next(e for e in sc.events if e.name == "page_viewed"))
    assert tot[0, pv, M["lost_blocked"]] == 0  # a neutral path: no list blocks it
    blocked = tot[1, pv, M["lost_blocked"]] / tot[1, pv, M["truth"]]
    assert 0.1 < blocked < 0.3  # the 20% privacy-list visitors, not Brave's first-party pass


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        ({"respect_blocker_choice": True}, "respect_blocker_choice=True"),
        ({"default_path": "dual"}, "dual events ["),
        ({"client": {"transport": "pigeon"}}, "client.transport"),
    ],
)
def test_plans_that_cannot_have_their_own_settings_are_named(plan, words):
    data = scenario().model_dump(mode="json", by_alias=True)
    data["plans"] = [{"name": "p", "client": {"destination": "proxy"}, **plan}]
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    (line,) = err.value.problems
    assert line.startswith("plans[0].client") and words in line
