"""The compiled page loop: the page-by-page path, draw for draw.

:class:`~simulator.model.client.looped.LoopedClient` settles a block in compiled code by the
rules of :class:`~simulator.model.client.page.ClientPath`. Given the same tag loads, page-hide
handlers, connections and request variates (in the order requests are sent), both must give
the same outcome to the last bit: every message's status, every store's content and order, the
messages' attempts, arrivals and causes, and the number of requests. The synthetic visits are
those of the array settlers' tests (several events a page, frequent failures and collector
outages, events of 30 and 36 kB so that the keepalive quota binds, a dedupe window of seconds so
that late arrivals count), with stores carried into some visits from a previous one, and some
visitors without JavaScript or behind a blocker.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from support.agreement import assert_engine_agrees
from support.batch_libraries import CONFIGS, HANDLER_P, HEAVY, PAGES, SMALL, client_config, visits
from support.factories import scenario
from support.page_reference import EVENTS, Windows

from simulator.model.client import looped
from simulator.model.client.arrays import OneRequestClient
from simulator.model.client.batch_arrays import BatchClient
from simulator.model.client.choice import settler_kind
from simulator.model.client.keepalive_arrays import KeepaliveClient
from simulator.model.client.looped import LoopedClient
from simulator.model.client.paged import PagedClient
from simulator.model.client.settler import MessageState, Pages
from simulator.model.collector import LOST
from simulator.model.compiled import stale
from simulator.model.pages import BACKGROUND
from simulator.model.streams import Streams

built = pytest.mark.skipif(not looped.available(), reason="the page loop was not built")

QUOTA_REJECTS = {
    "beacon_batches_rejected": {"transport": "beacon", "unload_transport": "xhr",
                                "retry": {"store": "local_storage"}},
}  # fmt: skip
"""Batches of heavy events that the quota rejects at once, retried after whole seconds of
backoff: a retry then falls due exactly when a batch's timer fires, and the timer goes first."""
ONE_REQUEST_CONFIGS = {
    "keepalive_one_request": {"transport": "fetch_keepalive",
                              "retry": {"store": "local_storage", "max_attempts": 3}},
    "beacon_one_request": {"transport": "beacon", "retry": {"store": "local_storage"}},
    "xhr_beacon_unload_one_request": {"transport": "xhr", "unload_transport": "beacon",
                                      "retry": {"store": "memory", "max_attempts": 4}},
}  # fmt: skip


def make(name: str):
    if name in QUOTA_REJECTS:
        client = {**client_config("xhr_none"), **QUOTA_REJECTS[name]}
        return scenario(client=client, events=EVENTS, collector={"dedupe_window_hours": 0.0005})
    if name in ONE_REQUEST_CONFIGS:
        client = {**client_config("xhr_none"), **ONE_REQUEST_CONFIGS[name], "batch_size": 1}
        return scenario(client=client, events=EVENTS, collector={"dedupe_window_hours": 0.0005})
    events = EVENTS if name in HEAVY else SMALL
    return scenario(client=client_config(name), events=events,
                    collector={"dedupe_window_hours": 0.0005})  # fmt: skip


class Fed(LoopedClient):
    """Takes its request variates from fixed arrays, at most ``chunk`` at a time."""

    def __init__(self, sc, outages, streams, variates, chunk):
        super().__init__(sc, outages, streams)
        self.fixed, self.chunk, self.used = variates, chunk, 0

    def request_variates(self, n):
        n = min(n, self.chunk)
        assert self.used + n <= self.fixed[0].size, "the test's variates ran out"
        out = tuple(x[self.used : self.used + n] for x in self.fixed)
        self.used += n
        return out


def block(seed: int):
    """A block of 1,000 synthetic visits, with a store carried into a third of them."""
    rng = np.random.default_rng(seed)
    start, dwell, end, keepalive, blocked_beacon, events = visits(rng, 1000)
    n = dwell.size
    position = np.tile(np.arange(PAGES), dwell.shape[0])
    # A few visitors run no JavaScript, some have a blocker that stops the tag (a store
    # carried in is still sent where the tag loads: only the page's own events are blocked).
    javascript = np.repeat(rng.random(dwell.shape[0]) > 0.05, PAGES)
    blocked = np.repeat(rng.random(dwell.shape[0]) < 0.1, PAGES)
    pages = Pages(
        t0=start.ravel(), dwell=dwell.ravel(), end=end.ravel(),
        cancels=end.ravel() != BACKGROUND, javascript=javascript,
        handler_p=np.full(n, HANDLER_P), position=position, last=position == PAGES - 1,
        blocked=blocked, blocked_ads=blocked,
        blocked_beacon=np.repeat(blocked_beacon, PAGES), keepalive=np.repeat(keepalive, PAGES),
    )  # fmt: skip
    v, k, offset, e = (np.array(c) for c in zip(*events, strict=True))
    page = v.astype(int) * PAGES + k.astype(int)
    made = start.ravel()[page] + offset
    # Stores carried in: up to three messages made on an earlier visit, in the store's order
    # (their "offset"), sent before, some of them arrived.
    into = np.flatnonzero(rng.random(dwell.shape[0]) < 0.3) * PAGES
    m = rng.integers(1, 4, into.size)
    c_page = np.repeat(into, m)
    c_offset = np.concatenate([np.arange(x) for x in m]).astype(float)
    carried = np.concatenate([np.zeros(page.size, bool), np.ones(c_page.size, bool)])
    page = np.concatenate([page, c_page])
    offset = np.concatenate([offset, c_offset])
    event = np.concatenate([e.astype(int), rng.integers(0, 3, c_page.size)])
    s = MessageState.new(np.concatenate([made, pages.t0[c_page] - 100.0 + c_offset]))
    old = np.flatnonzero(carried)
    s.attempts[old] = rng.integers(1, 3, old.size)
    arrived = old[rng.random(old.size) < 0.4]
    s.n[arrived], s.first[arrived] = 1, pages.t0[page[arrived]] - 50.0
    s.cause[old[~np.isin(old, arrived)]] = LOST["network"]
    return pages, s, page, offset, event, carried


def page_by_page(sc, outages, drawn: LoopedClient, variates, args) -> tuple:
    """The reference: PagedClient on the loads, handlers and connections ``drawn`` drew."""
    pages, s, page, offset, event, carried = args
    ref = PagedClient(sc, outages, Streams(np.random.SeedSequence(0)))
    path = ref.path
    triples = zip(*(x.tolist() for x in variates), strict=True)
    path.request_variates = lambda msgs, at: next(triples)
    index = {t: i for i, t in enumerate(pages.t0.tolist())}
    load, fires = drawn.load.tolist(), drawn.fires.tolist()
    page_of_path = path.page

    def one_page(visitor, t0, pg, live):
        i = index[t0]
        path.script = lambda: load[i]
        path.unload_u = (lambda: 0.0) if fires[i] else (lambda: 1.0)
        page_of_path(visitor, t0, pg, live)

    path.page = one_page
    # Whether the handler runs is decided above, page by page (handler_p 0.5: fires if u is 0).
    sub = dataclasses.replace(drawn.pages, handler_p=np.full(pages.dwell.size, 0.5))
    return ref, ref.settle(sub, s, page, offset, event, carried)


@built
@pytest.mark.parametrize("chunk", [1 << 30, 7])
@pytest.mark.parametrize("name", [*CONFIGS, *QUOTA_REJECTS, *ONE_REQUEST_CONFIGS])
def test_the_loop_is_the_page_by_page_path_on_the_same_draws(name: str, chunk: int) -> None:
    """Bit for bit, for every library; ``chunk`` 7 feeds the loop a few variates at a time."""
    sc = make(name)
    outages = Windows([(100.0 * i, 100.0 * i + 30.0) for i in range(1, 3000, 97)])
    rng = np.random.default_rng(11)
    n = 200_000
    cfg = sc.client
    variates = (
        cfg.upload_latency_seconds.sample(rng, n),
        cfg.response_latency_seconds.sample(rng, n),
        rng.random(n),
    )
    args = block(5)
    pages, s, page, offset, event, carried = args
    ref_state = MessageState(**{f: getattr(s, f).copy() for f in MessageState.FIELDS})
    fed = Fed(sc, outages, Streams(np.random.SeedSequence(3)), variates, chunk)
    rows, status, left, left_page = fed.settle(*args)
    ref, (r_rows, r_status, r_left, r_left_page) = page_by_page(
        sc, outages, fed, variates, (pages, ref_state, page, offset, event, carried)
    )
    settled = dict(zip(rows.tolist(), status.tolist(), strict=True))
    assert settled == dict(zip(r_rows.tolist(), r_status.tolist(), strict=True))
    assert left.tolist() == r_left.tolist() and left_page.tolist() == r_left_page.tolist()
    for f in ("attempts", "first", "n", "late"):
        np.testing.assert_array_equal(getattr(s, f), getattr(ref_state, f), err_msg=f)
    sent = np.isin(np.arange(page.size), np.concatenate([left, rows[s.attempts[rows] > 0]]))
    np.testing.assert_array_equal(s.cause[sent], ref_state.cause[sent])
    assert fed.requests == ref.requests
    # Each message once; retries, and the store's cap where it is small, did happen.
    assert np.unique(np.concatenate([rows, left])).size == page.size
    assert (s.attempts > 1).any()
    if name == "fetch_local_storage":
        assert (status == LOST["queue_full"]).any()


def test_the_page_loop_is_built() -> None:
    """The package's install compiles the loop (it needs a C compiler and Cython)."""
    assert looped.available(), (
        "simulator.model.client.page_loop was not compiled: with a C compiler, reinstall the "
        "package (pip install -e .) to build it"
    )


@built
def test_every_library_but_one_plain_request_per_event_goes_through_the_loop() -> None:
    assert settler_kind(scenario(client={"transport": "fetch"})) is OneRequestClient
    for client in ({"batch_size": 10}, {"transport": "beacon"}, {"transport": "fetch_keepalive"},
                   {"transport": "xhr", "unload_transport": "beacon"}):  # fmt: skip
        assert settler_kind(scenario(client=client)) is LoopedClient


def test_without_the_loop_the_array_settlers_stand_in(arrays_only) -> None:
    assert not looped.available()
    assert settler_kind(scenario(client={"batch_size": 10})) is BatchClient
    assert settler_kind(scenario(client={"transport": "beacon"})) is KeepaliveClient
    assert settler_kind(scenario(client={"transport": "fetch"})) is OneRequestClient


@built
def test_the_run_says_whether_the_loop_settled_its_copies(monkeypatch) -> None:
    from simulator.model.engine import simulate

    def page_loop(**client):
        sc = scenario(client=client, users=300)
        return simulate(sc, np.random.SeedSequence(1))[1]["client_page_loop"]

    assert page_loop(batch_size=5) == 1
    assert page_loop(transport="fetch") == 0
    monkeypatch.setattr(looped, "PageLoop", None)
    assert page_loop(batch_size=5) == 0


@built
def test_same_seed_same_bytes_through_the_loop() -> None:
    from simulator.model.engine import simulate

    sc = scenario(client={"batch_size": 4, "failure_probability": 0.05}, users=500)
    a, b, c = (simulate(sc, np.random.SeedSequence(seed))[0].counts for seed in (4, 4, 5))
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


@built
@pytest.mark.slow
@pytest.mark.parametrize("transport", ["beacon", "fetch_keepalive"])
def test_engine_counts_agree_with_the_page_by_page_path(transport: str) -> None:
    """The whole engine through the loop (blocks, returns, stores between visits), in
    distribution."""
    from support.scenarios import EVERYTHING_ON, ONE_REQUEST

    client = {**ONE_REQUEST["client"], "transport": transport, "unload_transport": None}
    for sc in (scenario(**{**ONE_REQUEST, "client": client}), scenario(**EVERYTHING_ON)):
        assert settler_kind(sc) is LoopedClient
        assert_engine_agrees(sc)


def test_a_loop_older_than_its_sources_is_not_used(tmp_path) -> None:
    """In an editable install, sources changed since the build would run as old machine code."""
    import os

    compiled = tmp_path / "page_loop.so"
    for name in ("page_loop.pyx", "queue_heap.pyx", "page_loop.so"):
        (tmp_path / name).write_text("")
        os.utime(tmp_path / name, (1000.0, 1000.0))
    assert stale(tmp_path, [compiled], looped.SOURCES) == []
    os.utime(tmp_path / "queue_heap.pyx", (2000.0, 2000.0))
    assert stale(tmp_path, [compiled], looped.SOURCES) == ["queue_heap.pyx"]
