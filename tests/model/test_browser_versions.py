"""Browser versions where behaviour changed: Firefox before 133 sends fetch keepalive as a plain
fetch (§2d), so a request not yet written when the page is torn down is cancelled instead of
surviving."""

from __future__ import annotations

import numpy as np
import pytest
from support.factories import const, replication, scenario, segment
from support.running import run

from simulator.config.loading import ScenarioError, parse_scenario
from simulator.model.collector import Message
from simulator.model.pages import NAVIGATE, Page
from simulator.model.population import Visitor
from simulator.model.tally import M

CLICK = 2  # link_clicked in the default events


def click_log(keepalive: bool) -> list:
    client = {
        "transport": "fetch_keepalive",
        "retry": {"store": "none"},
        "script_load_seconds": const(0.5),
        "upload_latency_seconds": const(0.3),
        "response_latency_seconds": const(0.1),
    }
    log: list = []
    rep = replication(
        scenario(client=client), log=lambda w, m, t: log.append((w, m and m.event, t))
    )
    msg = Message(CLICK, rep.buffer.offset(CLICK, 0), 0.0)
    # A cold page: the connection opens at 1.1 s, after the teardown at 1.05 s.
    page = Page(1.0, NAVIGATE, setup=0.6, linger=0.05)
    rep.client.page(Visitor.make(keepalive=keepalive), 0.0, page, [(0.9, msg)])
    return log


def test_keepalive_survives_the_unload_only_where_the_browser_honours_it():
    honoured = click_log(keepalive=True)
    ignored = click_log(keepalive=False)
    assert ("settle:delivered", CLICK, None) in honoured
    assert ignored[-1] == ("settle:unload", CLICK, None)  # cancelled like a plain fetch


def firefox(versions: dict | None) -> dict:
    seg = segment("ff", "desktop", "firefox")
    seg["share"] = 1.0
    if versions is not None:
        seg["browser_versions"] = versions
    return seg


def test_a_segment_states_its_version_mix():
    sc = scenario(population={"segments": [firefox({"128": 0.25, "133": 0.5, "140": 0.25})]})
    assert sc.population.segments[0].share_without_keepalive() == 0.25
    chrome = segment("c", "desktop", "chrome")
    chrome["browser_versions"] = {"100": 1.0}
    sc = scenario(population={"segments": [{**chrome, "share": 1.0}]})
    assert sc.population.segments[0].share_without_keepalive() == 0  # only Firefox changed


@pytest.mark.parametrize(("versions", "field"), [({"1.2": 1.0}, "1.2"), ({"132": 0.5}, "shares")])
def test_bad_version_mixes_are_named(versions, field):
    data = scenario().model_dump(mode="json", by_alias=True)
    data["population"]["segments"] = [firefox(versions)]
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert any("browser_versions" in p and field in p for p in err.value.problems)


def test_old_firefox_loses_clicks_to_unload_with_keepalive():
    """Every visitor on an old Firefox: keepalive clicks race the unload as plain fetch does.

    Short pages on cold connections: the connection opens 1.3 s into each 0.8 s page, so a
    plain fetch survives only a teardown that comes late enough.
    """
    cold = {
        "script_load_seconds": const(0.1),
        "upload_latency_seconds": const(0.3),
        "connection": {"first_page_warm": 0.0, "keepalive_timeout_seconds": 0.0},
    }
    base = dict(
        users=600,
        behaviour={"time_to_unload_seconds": const(0.1), "dwell_seconds": const(0.8)},
        client={"transport": "fetch_keepalive", **cold},
    )
    old = scenario(population={"segments": [firefox({"132": 1.0})]}, **base)
    new = scenario(population={"segments": [firefox({"133": 1.0})]}, **base)
    fetch = scenario(
        population={"segments": [firefox(None)]},
        **{**base, "client": {"transport": "fetch", **cold}},
    )

    def click_loss(sc) -> tuple[float, float]:
        tot = run(sc, seed=4).tallies[0].totals()[0]
        e = [ev.name for ev in sc.events].index("link_clicked")
        return 1 - tot[e, M["delivered"]] / tot[e, M["truth"]], tot[e, M["truth"]]

    assert click_loss(new)[0] == 0.0
    (lost_old, n_old), (lost_fetch, n_fetch) = click_loss(old), click_loss(fetch)
    assert lost_old > 0.2
    # Each click races its own unload, so the two losses differ by binomial noise only.
    spread = np.sqrt(lost_fetch * (1 - lost_fetch) * (1 / n_old + 1 / n_fetch))
    assert abs(lost_old - lost_fetch) < 4 * spread
