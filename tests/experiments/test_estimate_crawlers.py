"""``trackloss estimate``: crawlers told apart by a well-kept list of user agents.

The list's own examples of each crawler are matched, as the list's Python package matches them,
and browsers' agents are not. Crawlers' events are dropped whole; a blocked visitor's server
copies are kept, even when the collector records the server's own HTTP client as their agent.
"""

from __future__ import annotations

import csv

import pytest

pytest.importorskip("pyarrow")
duckdb = pytest.importorskip("duckdb")
crawleruseragents = pytest.importorskip("crawleruseragents")

from simulator.experiments.estimate.crawlers import matches_sql, patterns  # noqa: E402
from simulator.experiments.estimate.estimation import estimate  # noqa: E402

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
BROWSERS = [
    CHROME,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
]
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HEADLESS = CHROME.replace("Chrome/", "HeadlessChrome/")
LIBRARY = "python-requests/2.32.3"


def test_duckdb_matches_the_list_as_its_own_package_does():
    examples = [
        u for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA for u in entry["instances"]
    ]
    agents = examples + BROWSERS + [LIBRARY, HEADLESS]
    con = duckdb.connect()
    con.execute("CREATE TABLE a AS SELECT unnest($1::VARCHAR[]) AS ua", [agents])
    found = {ua for (ua,) in con.execute(f"SELECT ua FROM a WHERE {matches_sql('ua')}").fetchall()}
    assert len(patterns()) > 1000 and len(examples) > 1000
    assert found == {ua for ua in agents if crawleruseragents.is_crawler(ua)}
    assert set(examples) <= found
    assert not found & set(BROWSERS)
    assert {LIBRARY, HEADLESS} <= found


def site(server_agent: str) -> list[tuple[str, ...]]:
    """Five people on Chrome who send each event on both paths, though the client copy of
    every third one is lost; a sixth person whose blocker silences the client; a crawler that
    reaches the server only; a headless browser that runs the page's script. Server copies
    carry ``server_agent`` (the visitor's agent when it is ``CHROME``)."""
    rows = []
    for i in range(30):
        key, visitor, when = f"k{i}", f"v{i % 5}", f"2026-01-01T10:{i:02d}:00Z"
        if i % 3:
            rows.append((key, "client", "page_view", when, visitor, CHROME))
        rows.append((key, "server", "page_view", when, visitor, server_agent))
    own = server_agent != CHROME
    rows += [
        ("b1", "server", "page_view", "2026-01-01T11:00:00Z", "blocked", server_agent),
        ("b2", "server", "page_view", "2026-01-01T11:01:00Z", "blocked", server_agent),
        ("c1", "server", "page_view", "2026-01-01T11:02:00Z", "crawler",
         LIBRARY if own else GOOGLEBOT),
        ("h1", "client", "page_view", "2026-01-01T11:03:00Z", "headless", HEADLESS),
        ("h1", "server", "page_view", "2026-01-01T11:03:00Z", "headless",
         LIBRARY if own else HEADLESS),
    ]  # fmt: skip
    return rows


def write(path, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(("event_key", "path", "event", "time", "visitor", "user_agent"))
        out.writerows(rows)
    return path


@pytest.mark.parametrize(
    ("server_agent", "cells", "dropped", "server_only", "named", "raised"),
    [
        # The visitor's agent on the server: 20 events on both paths, 10 on the server only
        # and the blocked visitor's 2; the crawler's copy and both of the headless browser's
        # are dropped.
        (CHROME, (20, 0, 12), 3, 1, 0, False),
        # Every server copy names an HTTP library: the blocked visitor's and the crawler's
        # are kept (the crawler among the visitors with server copies only); the headless
        # browser's client copy still names a crawler.
        (LIBRARY, (20, 0, 13), 2, 2, 20, True),
    ],
    ids=["visitors-agent", "servers-own-agent"],
)
def test_crawlers_events_go_whole_and_the_servers_own_agent_filters_nothing(
    tmp_path, server_agent, cells, dropped, server_only, named, raised
):
    record = estimate(write(tmp_path / "log.csv", site(server_agent)))
    (row,) = record["rows"]
    assert (row["n11"], row["n10"], row["n01"]) == cells
    assert record["bots"]["crawler_rows"] == dropped
    assert record["bots"]["server_only_visitors"] == server_only
    (check,) = [c for c in record["checks"] if c["check"] == "server_user_agents"]
    assert check["raised"] is raised
    assert (check["paired_events"], check["named_crawler"]) == (20, named)


def test_without_user_agents_nothing_is_dropped_or_checked(tmp_path):
    rows = [r[:5] for r in site(CHROME)]
    path = tmp_path / "log.csv"
    path.write_text(
        "event_key,path,event,time,visitor\n" + "".join(",".join(r) + "\n" for r in rows)
    )
    record = estimate(path)
    (row,) = record["rows"]
    assert (row["n11"], row["n10"], row["n01"]) == (21, 0, 13)
    assert record["bots"]["crawler_rows"] == 0
    assert "server_user_agents" not in {c["check"] for c in record["checks"]}
