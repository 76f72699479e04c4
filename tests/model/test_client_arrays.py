"""Block client fates against the event-by-event client path, on the same synthetic visits.

The same visits (pages, dwell times, how each page ends, events and their offsets) go through
:class:`~simulator.model.client.page.ClientPath`, one page at a time, and through
:class:`~simulator.model.client.arrays.OneRequestClient`, all at once. Each settles with its own
draws, so the two must agree in distribution: for every event type and outcome (delivered,
each loss cause, duplicates kept), the mean count per visit is compared with Welch's t test.
Visits are the independent units (a visit's pages share its store), so the test is exact in
its level; it is Bonferroni-corrected over all comparisons and redrawn once with fresh seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.agreement import FAMILY_ALPHA, slow_but, with_one_redraw
from support.factories import scenario
from support.page_reference import (
    OUTCOMES,
    Windows,
    on_arrays,
    one_replay_chunk,
    synthetic_visits,
    worst_p_against_reference,
)

from simulator.model.client.arrays import OneRequestClient
from simulator.model.client.keepalive_arrays import KeepaliveClient
from simulator.model.client.settler import (
    MessageState,
    distinct_pages,
    page_groups,
    position_order,
)
from simulator.model.streams import Streams

VISITS, PAGES = 6000, 4
HANDLER_P = 0.7


CONFIGS = {
    "local_storage": {
        "transport": "fetch",
        "retry": {"store": "local_storage", "max_attempts": 3, "max_items": 2,
                  "backoff_initial_seconds": 0.2},
    },
    "on_add_xhr": {
        "transport": "xhr",
        "unload_transport": "fetch",
        "retry": {"store": "local_storage", "persist": "on_add", "max_attempts": 4,
                  "backoff_initial_seconds": 0.1},
    },
    "memory": {
        "transport": "fetch",
        "retry": {"store": "memory", "max_attempts": 5, "backoff_initial_seconds": 0.3},
    },
    "none": {"transport": "xhr", "retry": {"store": "none"}},
}  # fmt: skip


def visits(rng: np.random.Generator, n: int = VISITS):
    """Synthetic visits: PAGES pages each, three event types with their usual offsets.

    Every browser honours keepalive and no blocker stops beacons.
    """
    return synthetic_visits(rng, n, PAGES, one_replay_chunk, visitors_vary=False)


def client_config(name: str) -> dict:
    return {
        "failure_probability": 0.1,
        "script_load_seconds": {"kind": "lognormal", "median": 0.6, "sigma": 0.8},
        "upload_latency_seconds": {"kind": "lognormal", "median": 0.15, "sigma": 0.8},
        "handler_fires": {"desktop": HANDLER_P, "mobile": HANDLER_P, "tablet": HANDLER_P},
        **CONFIGS[name],
    }


def corrected_p(name: str, root: int) -> tuple[float, tuple]:
    sc = scenario(client=client_config(name), collector={"dedupe_window_hours": 0.0005})
    return worst_p_against_reference(sc, OneRequestClient, root, VISITS, visits, PAGES, HANDLER_P)


DEFAULT_RUN = ("local_storage", "on_add_xhr")
"""The stores whose fates differ most from a plain request; the others run with ``-m slow``
(and one request per event is checked in distribution by tests/model/test_client_paths.py)."""


@pytest.mark.parametrize("name", slow_but(DEFAULT_RUN, CONFIGS))
def test_block_fates_agree_with_the_page_by_page_path(name: str) -> None:
    corrected, worst = with_one_redraw(lambda root: corrected_p(name, root), 100, 200)
    assert corrected >= FAMILY_ALPHA, (worst[0], OUTCOMES[worst[1]], corrected)


def test_a_copy_that_arrives_after_its_resend_does_is_not_taken_for_the_first() -> None:
    """A request in flight when its page ends can reach the collector after the same event,
    resent from the store on the next page, does. In whichever order two arrivals are recorded,
    the state keeps the earliest as the first and counts the other as a kept duplicate exactly
    when the collector would (more than the dedupe window after the first).
    """
    from simulator.model.client.page import standalone

    sc = scenario(client=client_config("local_storage"), collector={"dedupe_window_hours": 0.001})
    client = OneRequestClient(sc, Windows([]), Streams(np.random.SeedSequence(1)))
    collector = standalone(sc, np.random.SeedSequence(1))[0].collector  # window: 3.6 s
    assert collector.dedupe and collector.window == client.window
    a = np.full(4, 10.0)
    b = np.array([12.0, 20.0, 8.0, 2.0])  # within or beyond the window, after or before
    rows = np.arange(a.size)
    for first, second in ((a, b), (b, a)):
        s = MessageState.new(np.zeros(a.size))
        client._arrive(s, rows, first)
        client._arrive(s, rows, second)
        np.testing.assert_array_equal(s.first, np.minimum(a, b))
        np.testing.assert_array_equal(s.n, 2)
        kept = [collector.duplicates([x, y]) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
        np.testing.assert_array_equal(s.duplicates(True), kept)
        assert s.late.tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize("attempts", [1, 2])
@pytest.mark.parametrize(
    ("settler", "transport"),
    [
        (OneRequestClient, "fetch"),
        (KeepaliveClient, "fetch_keepalive"),
        (KeepaliveClient, "beacon"),
    ],
)
def test_a_first_race_of_new_messages_is_the_general_race(
    monkeypatch: pytest.MonkeyPatch, settler: type, transport: str, attempts: int
) -> None:
    """The first race of a block's new messages skips their state (never sent, never failed):
    on the same visits and the same draws it settles every message as the general race does,
    and leaves the same state, down to the last bit.
    """
    config = client_config("local_storage")
    config["retry"] = {**config["retry"], "max_attempts": attempts}
    sc = scenario(
        client={**config, "transport": transport}, collector={"dedupe_window_hours": 0.0005}
    )
    visit_data = visits(np.random.default_rng(5), 400)
    outages = Windows([(100.0 * i, 100.0 * i + 30.0) for i in range(1, 4000, 97)])

    flagged = []  # calls that asked for the first race's shortcut

    def settled(general: bool) -> tuple:
        if general:  # every race takes the general path
            race = settler._race

            def general_race(self, *args):
                flagged.append(len(args) > 4 and args[4])
                return race(self, *args[:4])

            monkeypatch.setattr(settler, "_race", general_race)
        client = settler(sc, outages, Streams(np.random.SeedSequence(9)))
        with monkeypatch.context() as m:
            states = []
            keep = MessageState.new
            m.setattr(MessageState, "new", lambda seq: states.append(keep(seq)) or states[-1])
            counts = on_arrays(client, sc, visit_data, PAGES, HANDLER_P)
        monkeypatch.undo()
        return counts, states[0], client.requests

    fast, general = settled(False), settled(True)
    np.testing.assert_array_equal(fast[0], general[0])
    for f in MessageState.FIELDS:
        np.testing.assert_array_equal(getattr(fast[1], f), getattr(general[1], f), err_msg=f)
    assert fast[2] == general[2]
    assert any(flagged)
    # Failures were seen on the first race, and (but for beacons, never retried) exhausted.
    seen = "network" if transport == "beacon" else "retries_exhausted"
    assert fast[0][:, :, OUTCOMES.index(seen)].sum() > 0


@pytest.mark.parametrize("top", [40, 70_000])
def test_position_order_is_a_stable_sort_whatever_the_positions_span(top: int) -> None:
    position = np.random.default_rng(top).integers(0, top, 20_000)  # many ties
    np.testing.assert_array_equal(position_order(position), np.argsort(position, kind="stable"))


@pytest.mark.parametrize("in_order", [False, True])
@pytest.mark.parametrize("n", [0, 1, 2_000])
def test_page_groups_and_distinct_pages_are_what_np_unique_gives(n: int, in_order: bool) -> None:
    page = np.random.default_rng(n).integers(0, 50, n)  # many repeats
    if in_order:  # as a queue holds them: grouped without a sort
        page = np.sort(page)
    pages, which = np.unique(page, return_inverse=True)
    got = page_groups(page)
    np.testing.assert_array_equal(got[0], pages)
    np.testing.assert_array_equal(got[1], which)
    np.testing.assert_array_equal(distinct_pages(page[: n // 2], page[n // 2 :]), pages)
