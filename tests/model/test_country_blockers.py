"""A segment's blocker mix can differ by country: the country's mix replaces the segment's for
its visitors, and blocking follows it exactly."""

from __future__ import annotations

import numpy as np
import pytest
from support.factories import scenario, segment
from support.running import run

from simulator.config.loading import ScenarioError, parse_scenario
from simulator.model.tally import M


def shop(by_country: dict) -> dict:
    seg = segment("d", "desktop", "chrome")
    seg.update(share=1.0, countries={"us": 0.5, "de": 0.5}, blockers={"none": 1.0})
    seg["blockers_by_country"] = by_country
    return seg


def test_a_countrys_own_mix_decides_its_visitors_blocking():
    sc = scenario(users=800, population={"segments": [shop({"de": {"extension_privacy": 1.0}})]})
    result = run(sc, seed=3)
    t = result.tallies[0]
    by_country = t.marginal("country")[0]  # plan 0: events x countries x measures
    de, us = (t.layout.categories("country").index(c) for c in ("de", "us"))
    truth = by_country[..., M["truth"]].sum(axis=0)
    assert truth[de] > 0 and truth[us] > 0
    # Vendor destination, every German visitor on privacy lists, nothing else lossy.
    np.testing.assert_array_equal(
        by_country[:, de, M["lost_blocked"]], by_country[:, de, M["truth"]]
    )
    assert by_country[:, us, M["lost_blocked"]].sum() == 0
    np.testing.assert_array_equal(by_country[:, us, M["delivered"]], by_country[:, us, M["truth"]])


@pytest.mark.parametrize(
    ("mix", "where", "words"),
    [
        ({"de": {"none": 0.5}}, "blockers_by_country.de", "shares must sum to 1, got 0.5"),
        ({"fr": {"none": 1.0}}, "blockers_by_country.fr", "got 'fr'"),
        ({"de": {"none": 1.5, "dns": -0.5}}, "blockers_by_country.de.none", "got 1.5"),
    ],
)
def test_bad_country_mixes_name_the_country(mix, where, words):
    data = scenario().model_dump(mode="json", by_alias=True)
    data["population"]["segments"] = [shop(mix)]
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    (line,) = err.value.problems
    assert line.startswith(f"population.segments[0].{where}:") and words in line
