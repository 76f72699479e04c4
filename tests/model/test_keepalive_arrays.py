"""One request per event with keepalive or beacon transports: arrays against the page-by-page path.

The same synthetic visits (pages, dwell times, how each page ends, the visitor's browser and
blocker, events and their offsets) go through
:class:`~simulator.model.client.page.ClientPath`, one page at a time, and through
:class:`~simulator.model.client.keepalive_arrays.KeepaliveClient`, all at once. Each settles
with its own draws, so the two must agree in distribution: for every event type and outcome
(delivered, each loss cause, duplicates kept), the mean count per visit is compared with Welch's
t test. Visits are the independent units (a visit's pages share its store), so the test is exact
in its level; it is Bonferroni-corrected over all comparisons and redrawn once with fresh seeds.
Two of the three event types weigh 30 and 36 kB, so that pages surely within the 64 KiB in-flight
quota, pages that might exceed it but do not, and pages whose requests overrun it (replayed in
sequence on the same draws) all occur. Replaying on fresh draws instead, or not replaying, fails
this test.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.agreement import FAMILY_ALPHA, assert_engine_agrees, slow_but, with_one_redraw
from support.factories import scenario
from support.page_reference import (
    EVENTS,
    OUTCOMES,
    Windows,
    one_replay_chunk,
    synthetic_visits,
    worst_p_against_reference,
)
from support.page_reference import on_arrays as settle_on_arrays

from simulator.model.client.choice import settler_kind
from simulator.model.client.keepalive_arrays import KeepaliveClient
from simulator.model.client.quota_replay import Recording
from simulator.model.client.transports import overloaded_pages
from simulator.model.streams import Streams

PAGES = 4
HANDLER_P = 0.7
CONFIGS = {
    "keepalive_local_storage": {
        "transport": "fetch_keepalive",
        "retry": {"store": "local_storage", "max_attempts": 3, "max_items": 3,
                  "backoff_initial_seconds": 0.2},
    },
    "beacon_xhr_unload": {"transport": "beacon", "unload_transport": "xhr",
                          "retry": {"store": "local_storage", "persist": "on_add"}},
    "xhr_beacon_unload": {
        "transport": "xhr", "unload_transport": "beacon",
        "retry": {"store": "local_storage", "max_attempts": 4, "backoff_initial_seconds": 0.1},
    },
    "keepalive_memory": {
        "transport": "fetch_keepalive", "unload_transport": "beacon",
        "retry": {"store": "memory", "max_attempts": 5, "backoff_initial_seconds": 0.3},
    },
}  # fmt: skip


def visits(rng: np.random.Generator, n: int):
    """Synthetic visits of PAGES pages, with each visitor's keepalive and ``$ping`` blocking."""
    return synthetic_visits(rng, n, PAGES, one_replay_chunk)


def client_config(name: str) -> dict:
    return {
        "failure_probability": 0.1,
        "keepalive_quota_bytes": 65536,
        "script_load_seconds": {"kind": "lognormal", "median": 0.6, "sigma": 0.8},
        "upload_latency_seconds": {"kind": "lognormal", "median": 0.4, "sigma": 0.8},
        "handler_fires": {"desktop": HANDLER_P, "mobile": HANDLER_P, "tablet": HANDLER_P},
        **CONFIGS[name],
    }


def on_arrays(sc, seed, visit_data, outages, client=None) -> np.ndarray:
    """The same counts through KeepaliveClient (or ``client``), all pages at once."""
    client = client or KeepaliveClient(sc, outages, Streams(np.random.SeedSequence(seed)))
    return settle_on_arrays(client, sc, visit_data, PAGES, HANDLER_P)


def corrected_p(name: str, root: int, n: int) -> tuple[float, tuple]:
    sc = scenario(client=client_config(name), events=EVENTS,
                  collector={"dedupe_window_hours": 0.0005})  # fmt: skip
    return worst_p_against_reference(sc, KeepaliveClient, root, n, visits, PAGES, HANDLER_P)


DEFAULT_RUN = ("keepalive_local_storage", "beacon_xhr_unload")
"""The quota and the ``$ping`` blocking bite most here; the others run with ``-m slow``."""


@pytest.mark.parametrize("name", slow_but(DEFAULT_RUN, CONFIGS))
def test_keepalive_fates_agree_with_the_page_by_page_path(name: str) -> None:
    corrected, worst = with_one_redraw(lambda root: corrected_p(name, root, 3000), 100, 200)
    assert corrected >= FAMILY_ALPHA, (worst[0], OUTCOMES[worst[1]], corrected)


def test_one_request_per_event_with_a_surviving_transport_is_settled_on_arrays(
    arrays_only,
) -> None:
    from simulator.model.client.arrays import OneRequestClient
    from simulator.model.client.paged import PagedClient

    def kind(**client):
        return settler_kind(scenario(client={"batch_size": 1, **client}))

    assert kind(transport="fetch") is OneRequestClient
    assert kind(transport="beacon") is KeepaliveClient
    assert kind(transport="fetch_keepalive", unload_transport="xhr") is KeepaliveClient
    assert kind(transport="xhr", unload_transport="beacon") is KeepaliveClient
    assert settler_kind(scenario(client={"transport": "beacon"}), paged=True) is PagedClient


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["beacon", "fetch_keepalive"])
def test_engine_counts_agree_with_the_page_by_page_path(transport: str, arrays_only) -> None:
    """The whole engine (blockers, returns, outages, the store, every plan kind) in distribution."""
    from support.scenarios import ONE_REQUEST

    client = {**ONE_REQUEST["client"], "transport": transport, "unload_transport": None}
    sc = scenario(**{**ONE_REQUEST, "client": client})
    assert settler_kind(sc) is KeepaliveClient
    assert_engine_agrees(sc)


def test_same_seed_same_fates_including_the_replayed_pages() -> None:
    sc = scenario(client=client_config("keepalive_local_storage"), events=EVENTS)
    outages = Windows([(100.0 * i, 100.0 * i + 30.0) for i in range(1, 3000, 97)])
    data = visits(np.random.default_rng(5), 300)
    a, b, c = (on_arrays(sc, seed, data, outages) for seed in (1, 1, 2))
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


class EveryPageAgain(KeepaliveClient):
    """Settles every page raced as if it might overrun the quota again, on the race's draws."""

    replayed = 0

    def _wrong(self, page, wrong, intervals):
        over = np.unique(page)
        self.replayed += over.size
        return over


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_race_is_the_sequential_path_on_the_same_draws(name: str) -> None:
    """Draw for draw: settling every raced page again on the recorded draws changes nothing.

    On a page where the quota does not bind, the page-by-page path given the race's variates
    does exactly what the race did, so settling all of them again must give the same counts,
    and the same number of requests (a replayed page's requests count once).
    """
    sc = scenario(client=client_config(name), events=EVENTS,
                  collector={"dedupe_window_hours": 0.0005})  # fmt: skip
    outages = Windows([(100.0 * i, 100.0 * i + 30.0) for i in range(1, 3000, 97)])
    data = visits(np.random.default_rng(7), 300)
    raced = KeepaliveClient(sc, outages, Streams(np.random.SeedSequence(3)))
    again = EveryPageAgain(sc, outages, Streams(np.random.SeedSequence(3)))
    counts = [on_arrays(sc, None, data, outages, c) for c in (raced, again)]
    assert again.replayed > 0
    np.testing.assert_array_equal(*counts)
    assert raced.requests == again.requests


class Watched(KeepaliveClient):
    """Records the quota-bound requests of every race outside an optimistic one.

    Those are the pages raced at once, trusted to stay within the quota without a check: their
    requests, and their page-hide flushes.
    """

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.trusted = Recording()

    def _race(self, s, rows, page, ready, fresh=False):
        return self._watching(super()._race, s, rows, page, ready, fresh)

    def _flush(self, s, rows, page, unsent):
        return self._watching(super()._flush, s, rows, page, unsent)

    def _watching(self, settle, *args):
        if self.recording is not None:  # an optimistic race: checked by its own stabbing
            return settle(*args)
        self.recording = self.trusted
        try:
            return settle(*args)
        finally:
            self.recording = None


def sometimes_a_chunk(rng: np.random.Generator, dwell: float) -> list[tuple[float, int]]:
    """A replay chunk on 30% of the pages: most pages keep within the quota, some pass it."""
    return [(rng.random() * dwell, 2)] if rng.random() < 0.3 else []


def overruns_of_trusted_pages(name: str, seed: int, page_events=one_replay_chunk) -> tuple:
    """Pages raced at once that overran the quota, and the requests raced at once."""
    sc = scenario(client=client_config(name), events=EVENTS,
                  collector={"dedupe_window_hours": 0.0005})  # fmt: skip
    outages = Windows([(100.0 * i, 100.0 * i + 30.0) for i in range(1, 3000, 97)])
    client = Watched(sc, outages, Streams(np.random.SeedSequence(seed)))
    data = synthetic_visits(np.random.default_rng(seed), 2000, PAGES, page_events)
    on_arrays(sc, None, data, outages, client)
    page, start, end, nbytes = client.trusted.intervals()
    return overloaded_pages(page, start, end, nbytes, 65536).size, page.size


@pytest.mark.parametrize("page_events", [one_replay_chunk, sometimes_a_chunk])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_pages_raced_at_once_never_overrun_the_quota(name: str, page_events) -> None:
    # The bound lets a page race without the check only if what it makes, carries in or could
    # be carried from the visit's earlier pages keeps within the quota. A beacon sent during a
    # page that keeps within it is settled then, so it is never carried on; one the quota
    # rejects is.
    overruns, trusted = overruns_of_trusted_pages(name, 11, page_events)
    assert overruns == 0
    if page_events is sometimes_a_chunk and name != "xhr_beacon_unload":
        assert trusted > 1000  # (with xhr, only the page-hide flushes take quota)


@pytest.mark.parametrize(
    ("name", "forget"),
    [("keepalive_local_storage", "the store"), ("beacon_xhr_unload", "the quota's rejections")],
)
def test_a_bound_that_forgets_what_can_be_carried_lets_overruns_through(
    monkeypatch, name: str, forget: str
) -> None:
    # The check above has teeth: leave out of the bound what the store carries, or the
    # beacons the quota rejects (which stay open), and some pages raced at once overrun it.
    import simulator.model.client.keepalive_arrays as module

    bound = module.quota_bound

    def forgetful(pages, page, nbytes, carries, leaves, quota):
        if forget == "the store":
            return bound(pages, page, nbytes, False)
        return bound(pages, page, nbytes, carries, leaves, np.inf)

    monkeypatch.setattr(module, "quota_bound", forgetful)
    assert overruns_of_trusted_pages(name, 11, sometimes_a_chunk)[0] > 0


def test_the_bound_of_pages_with_no_message_is_zero() -> None:
    # A block where every message was settled before its race (blocked, no JavaScript).
    from simulator.model.client.settler import Pages
    from simulator.model.client.transports import quota_bound

    pos = np.array([0, 1, 2, 0])
    pages = Pages(*(np.zeros(4),) * 6, position=pos, last=np.array([0, 0, 1, 1], bool),
                  blocked=None, blocked_ads=None, blocked_beacon=None, keepalive=None)  # fmt: skip
    none = np.zeros(0, np.int64)
    for leaves in (None, np.zeros(0, bool)):
        bound = quota_bound(pages, none, none.astype(float), True, leaves, 65536.0)
        assert bound.dtype == float
        assert bound.tolist() == [0.0] * 4


def test_overloaded_pages_are_those_whose_bytes_in_flight_pass_the_quota_at_a_send() -> None:
    """The sweep against its definition, on requests with ties in send and arrival times.

    At a request's send, the bytes in flight are those of every request of its page sent no
    later and not yet arrived (one arriving at that instant has freed its bytes).
    """
    rng = np.random.default_rng(4)
    n = 3000
    page = np.sort(rng.integers(0, 400, n))
    start = rng.integers(0, 20, n) / 4.0  # quarter seconds: many equal times
    end = start + rng.integers(1, 12, n) / 4.0
    nbytes = rng.integers(1, 30, n) * 1000.0
    held = [
        nbytes[(page == page[i]) & (start <= start[i]) & (end > start[i])].sum() for i in range(n)
    ]
    expected = np.unique(page[np.array(held) > 65536.0])
    assert 0 < expected.size < np.unique(page).size
    np.testing.assert_array_equal(overloaded_pages(page, start, end, nbytes, 65536.0), expected)
