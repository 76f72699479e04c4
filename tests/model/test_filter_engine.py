"""Filter lists decide blocking: each documented rule shape through the real engine, per URL and
request type, the table of list combinations, and thinning computed from list matches."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from support.factories import scenario
from support.running import run

from simulator.config.loading import ScenarioError, parse_scenario
from simulator.config.scenario import BLOCKERS
from simulator.config.tracking import ClientConfig
from simulator.model.filter_engine import Request, blocking_table, blocks, is_third_party
from simulator.model.tally import M

PAGE = "https://shop.example/"
CLIENT = ClientConfig()

# (list, URL, request type, blocked?). Every documented rule shape, blocking and not.
CASES = [
    # vendor domains, $third-party (EasyPrivacy tracking servers)
    ("tracker_domains", "https://api.segment.io/v1/t", "xmlhttprequest", True),
    ("tracker_domains", "https://api.segment.io/v1/t", "ping", True),
    (
        "tracker_domains",
        "https://cdn.segment.com/analytics.js/v1/K/analytics.min.js",
        "script",
        True,
    ),
    ("tracker_domains", "https://us.i.posthog.com/e/", "xmlhttprequest", True),
    ("tracker_domains", "https://t.shop.example/v1/t", "xmlhttprequest", False),  # CNAME, cloaked
    ("tracker_domains", "https://shop.example/ingest/v1/t", "xmlhttprequest", False),  # proxy
    ("tracker_domains", "https://notsegment.io/v1/t", "xmlhttprequest", False),  # not the domain
    # `/beacon/` anywhere in the path, first-party hosts too (uBO, rudder-sdk-js #1869)
    ("beacon_path", "https://shop.example/beacon/v1/batch", "xmlhttprequest", True),
    ("beacon_path", "https://t.shop.example/beacon/v1/batch", "ping", True),
    ("beacon_path", "https://shop.example/beacons/v1/batch", "xmlhttprequest", False),
    ("beacon_path", "https://shop.example/ingest/v1/t", "xmlhttprequest", False),
    # "event" in the path of a POST (Ghostery, jitsu #938): xhr/fetch and sendBeacon
    ("event_path", "https://shop.example/api/v1/event", "xmlhttprequest", True),
    ("event_path", "https://shop.example/api/v1/event", "ping", True),
    ("event_path", "https://shop.example/js/event.js", "script", False),
    ("event_path", "https://shop.example/api/v1", "xmlhttprequest", False),
    # sendBeacon as a type ($ping), on any host
    ("ping", "https://shop.example/ingest/v1/t", "ping", True),
    ("ping", "https://shop.example/ingest/v1/t", "xmlhttprequest", False),
    ("ping", "https://shop.example/ingest/analytics.min.js", "script", False),
    # ad-server domains (EasyList)
    ("ad_servers", "https://googleads.g.doubleclick.net/pagead/x/1/", "image", True),
    ("ad_servers", "https://api.segment.io/v1/t", "xmlhttprequest", False),
]


@pytest.mark.parametrize(("name", "url", "kind", "expected"), CASES)
def test_each_rule_shape_blocks_exactly_what_it_documents(name, url, kind, expected):
    assert blocks(Request(url, kind), (name,), CLIENT) is expected


def test_a_rule_between_slashes_is_a_regular_expression(tmp_path):
    """Why the shipped rule is `/beacon/*`: the engine reads `/beacon/` as the regex "beacon"."""
    bare = tmp_path / "bare.txt"
    bare.write_text("/beacon/\n", "utf-8")
    client = ClientConfig(filter_lists={"bare": str(bare)})
    for url, hit in (("https://shop.example/beacons/x", True), ("https://shop.example/x", False)):
        assert blocks(Request(url, "xmlhttprequest"), ("bare",), client) is hit


def test_third_party_rules_spare_the_vendors_own_pages():
    on_vendor = ClientConfig(urls={"page": "https://segment.io/"})
    assert not blocks(
        Request("https://api.segment.io/v1/t", "xmlhttprequest"), ("tracker_domains",), on_vendor
    )


def test_cname_uncloaking_matches_the_real_host():
    cname = Request("https://t.shop.example/v1/t", "xmlhttprequest")
    assert not blocks(cname, ("tracker_domains",), CLIENT)
    assert blocks(cname, ("tracker_domains",), CLIENT, uncloak=True)
    assert not is_third_party(cname.url, PAGE) and is_third_party("https://api.segment.io/", PAGE)


def test_first_party_exemption_and_host_only_matching():
    beacon_path = Request("https://shop.example/beacon/v1/t", "xmlhttprequest")
    assert not blocks(beacon_path, ("beacon_path",), CLIENT, first_party=False)  # Brave Standard
    vendor = Request("https://api.segment.io/v1/t", "xmlhttprequest")
    assert blocks(vendor, ("tracker_domains",), CLIENT, first_party=False)
    # DNS sees host names only: domains yes, paths and types never
    assert blocks(vendor, ("dns_domains",), CLIENT, hosts_only=True)
    assert not blocks(beacon_path, ("beacon_path",), CLIENT, hosts_only=True)
    assert not blocks(Request("https://shop.example/x", "ping"), ("ping",), CLIENT, hosts_only=True)
    cname = Request("https://t.shop.example/v1/t", "xmlhttprequest")
    assert blocks(cname, ("dns_domains",), CLIENT, hosts_only=True, uncloak=True)


def shares(**client) -> dict[str, dict[str, float]]:
    return blocking_table(ClientConfig(**client), BLOCKERS).shares()


def test_default_lists_reproduce_the_stated_probabilities():
    """Shares blocked per kind and destination: vendor always, CNAME when uncloaked (0.5),
    proxy never; ads for every blocker; sendBeacon on a proxy for the 5% running `$ping`."""
    for dest, privacy, builtin, dns in (
        ("vendor", 1, 1, 1),
        ("cname", 0.5, 0, 0.5),
        ("proxy", 0, 0, 0),
    ):
        got = shares(destination=dest)
        assert [got[k]["blocked"] for k in BLOCKERS] == pytest.approx([0, 0, privacy, builtin, dns])
        assert [got[k]["ads"] for k in BLOCKERS] == [0, 1, 1, 1, 1]
        assert [got[k]["vendor"] for k in BLOCKERS] == [0, 0, 1, 1, 1]
        assert [got[k]["forward"] for k in BLOCKERS] == [0, 0, 0, 0, 0]
    assert shares(destination="proxy")["extension_privacy"]["beacon"] == pytest.approx(0.05)
    assert shares(destination="proxy")["browser_builtin"]["beacon"] == 0


def test_paths_and_transports_change_what_privacy_lists_block():
    beacon_path = shares(destination="proxy", urls={"events": "https://shop.example/beacon/v1/t"})
    assert beacon_path["extension_privacy"]["blocked"] == 1  # every uBO-like user
    assert beacon_path["browser_builtin"]["blocked"] == 0  # first-party: Brave Standard passes
    event_path = shares(destination="proxy", urls={"events": "https://shop.example/api/event"})
    assert event_path["extension_privacy"]["blocked"] == pytest.approx(0.1)  # Ghostery's share
    beacon = shares(destination="proxy", transport="beacon")
    assert beacon["extension_privacy"]["blocked"] == pytest.approx(0.05)


def test_a_users_own_list_file_decides(tmp_path):
    own = tmp_path / "mine.txt"
    own.write_text("! a list of one's own\n||shop.example/ingest/\n", "utf-8")
    got = shares(
        destination="proxy",
        filter_lists={"mine": str(own)},
        blockers={"extension_default": {"lists": {"mine": 0.25}}},
    )
    assert got["extension_default"]["blocked"] == pytest.approx(0.25)
    assert got["extension_default"]["ads"] == 0  # its lists replace the defaults


def test_probabilities_stated_directly_still_apply():
    got = shares(
        destination="cname",
        blocking={"dns": {"vendor": 1, "cname": 0.2, "proxy": 0, "ads": 1, "beacon": 0}},
    )
    assert got["dns"]["blocked"] == pytest.approx(0.2)


def test_draws_follow_the_variant_shares():
    table = blocking_table(ClientConfig(destination="cname"), BLOCKERS)
    rng = np.random.default_rng(3)
    n = 40_000
    kind = np.full(n, BLOCKERS.index("extension_privacy"))
    blocked = table.draw(kind, rng.random(n))[:, 0].mean()
    assert abs(blocked - 0.5) < 4 * (0.25 / n) ** 0.5


@pytest.mark.parametrize(
    ("client", "field", "words"),
    [
        (
            {"blockers": {"dns": {"lists": {"easylist": 1.0}}}},
            "client.blockers.dns.lists.easylist",
            "got 'easylist'",
        ),
        (
            {"filter_lists": {"mine": "/no/such/list.txt"}},
            "client.filter_lists.mine",
            "/no/such/list.txt",
        ),
        ({"urls": {"events": "shop.example/e"}}, "client.urls.events", "shop.example/e"),
        (
            {"blockers": {"dns": {"lists": {"dns_domains": 1.5}}}},
            "client.blockers.dns.lists.dns_domains",
            "1.5",
        ),
    ],
)
def test_bad_list_settings_are_one_line_each(client, field, words):
    data = scenario().model_dump(mode="json", by_alias=True)
    data["client"] = client
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    lines = [p for p in err.value.problems if field in p]
    assert len(lines) == 1 and words in lines[0], err.value.problems


def _loss(result, event: str) -> np.ndarray:
    out = []
    for t in result.tallies:
        tot = t.totals()[0]
        e = t.layout.events.index(event)
        out.append(1 - tot[e, M["delivered"]] / tot[e, M["truth"]])
    return np.array(out)


@pytest.mark.parametrize(
    ("client", "privacy_blocked"),
    [
        ({"destination": "cname"}, 0.5),  # uncloaking share
        (
            {"destination": "proxy", "urls": {"events": "https://shop.example/api/event"}},
            0.1,
        ),  # Ghostery's share
    ],
)
def test_thinning_loss_equals_the_share_the_lists_block(client, privacy_blocked):
    """Closed form: with blocking the only loss, loss is the blocked share from list matches."""
    kind_share = 0.6
    segs = scenario().population.model_dump(mode="json", by_alias=True)["segments"]
    for s in segs:
        s["blockers"] = {"none": 1 - kind_share, "extension_privacy": kind_share}
        s.pop("behaviour", None)
    sc = scenario(users=1500, population={"segments": segs}, client=client)
    table = blocking_table(sc.client, BLOCKERS).shares()
    assert table["extension_privacy"]["blocked"] == pytest.approx(privacy_blocked)
    p = kind_share * table["extension_privacy"]["blocked"]

    def p_value(seed: int) -> float:
        loss = _loss(run(sc, replications=10, seed=seed), "page_viewed")
        return stats.ttest_1samp(loss, p).pvalue  # across replications: visitors cluster

    assert p_value(1) >= 0.001 or p_value(2) >= 0.001
