"""Batching libraries: arrays against the page-by-page path, per transport x event x outcome.

The same synthetic visits (pages, dwell times, how each page ends, the visitor's browser and
blocker, events and their offsets) go through :class:`~simulator.model.client.page.ClientPath`,
one page at a time, and through :class:`~simulator.model.client.batch_arrays.BatchClient`, all
at once. Each settles with its own draws, so the two must agree in distribution: for every event
type and outcome (delivered, each loss cause, duplicates kept), the mean count per visit is
compared with Welch's t test. Visits are the independent units (a visit's pages share its
store), so the test is exact in its level; it is Bonferroni-corrected over all comparisons and
redrawn once with fresh seeds. Pages hold several events, often more than a batch, so full
batches, timers, the last batch flushed at page-hide and stores larger than a batch all occur;
failures are frequent (10 %, and collector outages), so many pages retry a batch and are
settled again in sequence on the same draws; two of the event types weigh 30 and 36 kB, so that
the keepalive quota binds on some pages. With two attempts at most, a retried batch that fails
again is lost, so replaying those pages on fresh draws instead of the recorded ones fails this
test (p < 1e-6); the draw-for-draw test below catches a wrong cut, fate, flush or store order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.agreement import FAMILY_ALPHA, assert_engine_agrees, slow_but, with_one_redraw
from support.batch_libraries import (
    CONFIGS,
    HANDLER_P,
    HEAVY,
    PAGES,
    SMALL,
    client_config,
    visits,
)
from support.factories import scenario
from support.page_reference import (
    EVENTS,
    OUTCOMES,
    Windows,
    worst_p_against_reference,
)
from support.page_reference import on_arrays as settle_on_arrays

from simulator.model.client.batch_arrays import BatchClient
from simulator.model.client.choice import settler_kind
from simulator.model.client.paged import PagedClient
from simulator.model.streams import Streams


def make(name: str, **collector):
    events = EVENTS if name in HEAVY else SMALL
    return scenario(client=client_config(name), events=events, collector=collector)


def on_arrays(sc, seed, visit_data, outages, client=None) -> np.ndarray:
    """The same counts through BatchClient, all pages at once."""
    client = client or BatchClient(sc, outages, Streams(np.random.SeedSequence(seed)))
    return settle_on_arrays(client, sc, visit_data, PAGES, HANDLER_P)


def corrected_p(name: str, root: int, n: int) -> tuple[float, tuple]:
    sc = make(name, dedupe_window_hours=0.0005)
    return worst_p_against_reference(sc, BatchClient, root, n, visits, PAGES, HANDLER_P)


DEFAULT_RUN = ("fetch_local_storage", "keepalive_quota")
"""The store's order and cap, and the quota, bite most here; the others run with ``-m slow``."""


@pytest.mark.parametrize("name", slow_but(DEFAULT_RUN, CONFIGS))
def test_batch_fates_agree_with_the_page_by_page_path(name: str) -> None:
    corrected, worst = with_one_redraw(lambda root: corrected_p(name, root, 2000), 100, 200)
    assert corrected >= FAMILY_ALPHA, (worst[0], OUTCOMES[worst[1]], corrected)


@pytest.mark.slow
def test_engine_counts_agree_with_the_page_by_page_path(arrays_only) -> None:
    """The whole engine (blockers, returns, outages, the store, every plan kind) in distribution."""
    from support.scenarios import EVERYTHING_ON

    sc = scenario(**EVERYTHING_ON)
    assert settler_kind(sc) is BatchClient
    assert_engine_agrees(sc)


class EveryPageAgain(BatchClient):
    """Settles every raced page again in sequence on the race's draws."""

    def _wrong(self, page, wrong, intervals):
        return np.unique(page)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_race_is_the_sequential_path_on_the_same_draws(name: str) -> None:
    """Draw for draw: settling every page again on the recorded draws changes nothing.

    A page's race is void only where a batch is retried or the quota binds; on every other
    page the page-by-page path, given the variates the race drew, must do exactly what the race
    did (batches, fates, page-hide flush, the store's order and cap). Settling *every* raced
    page again must therefore give the same bytes.
    """
    sc = make(name, dedupe_window_hours=0.0005)
    outages = Windows([(100.0 * i, 100.0 * i + 30.0) for i in range(1, 3000, 97)])
    data = visits(np.random.default_rng(7), 300)
    streams = [Streams(np.random.SeedSequence(3)) for _ in range(2)]
    clients = BatchClient(sc, outages, streams[0]), EveryPageAgain(sc, outages, streams[1])
    raced, again = (on_arrays(sc, None, data, outages, c) for c in clients)
    np.testing.assert_array_equal(raced, again)
    assert clients[0].requests == clients[1].requests  # a replayed page's requests count once


@pytest.mark.parametrize(
    ("preset", "overrides"),
    [("mobile_heavy", []), ("baseline", ["client.batch_size=10", "client.transport=beacon"])],
)
def test_the_engine_replaying_every_page_gives_the_same_counts(preset, overrides, arrays_only):
    """Draw for draw through the whole engine: stores carried between blocks and visits too.

    Integer counts must be equal; value sums only to rounding, since replayed messages are
    reported (and summed) after the others.
    """
    import simulator.model.client.batch_arrays as batch_arrays
    from simulator.config.loading import load_scenario
    from simulator.model.engine import simulate
    from simulator.model.tally import MEASURES

    path = Path(__file__).resolve().parents[2] / "scenarios" / f"{preset}.toml"
    sc = load_scenario(path, [*overrides, "population.users=2000"])
    assert settler_kind(sc) is BatchClient
    raced, raced_meta = simulate(sc, np.random.SeedSequence(1))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch_arrays.BatchClient, "_wrong", EveryPageAgain._wrong)
        again, again_meta = simulate(sc, np.random.SeedSequence(1))
    value = np.array([m.startswith("value") for m in MEASURES])
    np.testing.assert_array_equal(raced.counts[..., ~value], again.counts[..., ~value])
    np.testing.assert_allclose(raced.counts[..., value], again.counts[..., value], rtol=1e-12)
    assert raced_meta["client_requests"] == again_meta["client_requests"]


def test_same_seed_same_fates_including_the_replayed_pages() -> None:
    sc = make("keepalive_quota")
    outages = Windows([(100.0 * i, 100.0 * i + 30.0) for i in range(1, 3000, 97)])
    data = visits(np.random.default_rng(5), 300)
    a, b, c = (on_arrays(sc, seed, data, outages) for seed in (1, 1, 2))
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_batching_libraries_are_settled_on_arrays_without_the_page_loop(arrays_only) -> None:
    for transport in ("xhr", "fetch", "fetch_keepalive", "beacon"):
        sc = scenario(client={"batch_size": 10, "transport": transport})
        assert settler_kind(sc) is BatchClient
    assert settler_kind(scenario(client={"batch_size": 10}), paged=True) is PagedClient


def test_queue_order_sorts_by_page_then_ready_then_store_place_then_input():
    """The queue's order, with many ties at every level, against its definition as a lexsort.

    A carried message is ready at the tag's load and a page's own at its offset or the load,
    whichever is later; the queue takes them by ready time, carried first at a tie (in the
    store's order), then own messages by offset, then in input order.
    """
    from simulator.model.client.batches import queue_order

    rng = np.random.default_rng(7)
    n = 5_000
    page = rng.integers(0, 40, n)
    load = rng.integers(0, 4, 40)[page] * 0.25
    carried = rng.random(n) < 0.4
    offset = rng.integers(0, 6, n) * 0.25  # few distinct times: ties within a page are common
    store = rng.permutation(n)  # a place in the store, distinct
    rank = np.where(carried, store, offset)
    ready = np.where(carried, load, np.maximum(offset, load))
    expected = np.lexsort((np.arange(n), rank, ~carried, ready, page))
    assert np.array_equal(queue_order(page, carried, rank), expected)
    assert queue_order(page[:0], carried[:0], rank[:0]).size == 0


@pytest.mark.parametrize("n", [300, 3_000])
@pytest.mark.parametrize("size", [1, 2, 10, 32, 33])
def test_where_the_next_batch_starts_by_scan_as_by_its_definition(size, n):
    """The next batch's first message: ``size`` on, or the first on a later page or ready an
    interval or more after, whichever is first (scan up to 32 a batch on 1,000 messages or
    more, search otherwise)."""
    from simulator.model.client.batches import _next_batch

    rng = np.random.default_rng(size)
    page = np.sort(rng.integers(0, n // 20, n))
    ready = np.concatenate([np.sort(rng.integers(0, 40, c) * 0.25) for c in np.bincount(page)])
    interval = 2.0  # ties with ready + interval are common: the message there qualifies
    expected = np.empty(n, np.int64)
    for i in range(n):
        j = i + 1
        while j < min(i + size, n) and page[j] == page[i] and ready[j] < ready[i] + interval:
            j += 1
        expected[i] = j
    assert np.array_equal(_next_batch(page, ready, size, interval), expected)
