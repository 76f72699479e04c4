"""Browser copies settled on arrays or page by page: same engine, same counts in distribution.

For a library that sends one xhr/fetch request per event the engine settles browser copies on
arrays (:mod:`simulator.model.client.arrays`); it can also settle them page by page through the
general client path (:mod:`simulator.model.client.paged`), the reference of every settler. The
two draw their variates differently, so they agree in distribution, not draw for draw. On a
scenario with every mechanism such a library meets (blockers, unload, failures and retries,
outages, the local_storage store with its cap, returns, bots, nightly jobs, every plan kind
including a respecting one), each count's mean over replications is compared with Welch's t
test, Bonferroni-corrected over all counts, and redrawn once with fresh seeds as scipy's
distribution tests do.
"""

from __future__ import annotations

import numpy as np
from support.agreement import assert_engine_agrees
from support.factories import scenario
from support.scenarios import EVERYTHING_ON, ONE_REQUEST

from simulator.model.client.settler import on_arrays
from simulator.model.engine import Replication, simulate
from simulator.model.tally import MEASURES, M

LOST = [M[m] for m in MEASURES if m.startswith("lost_") or m == "pending"]


def test_arrays_agree_with_pages_in_distribution() -> None:
    sc = scenario(**ONE_REQUEST)
    assert on_arrays(sc)
    assert_engine_agrees(sc)


def test_every_true_event_is_delivered_lost_or_pending_on_arrays() -> None:
    sc = scenario(**ONE_REQUEST)
    tally, meta = simulate(sc, np.random.SeedSequence(4))
    counts = tally.counts
    accounted = counts[..., M["delivered"]] + counts[..., LOST].sum(axis=-1)
    np.testing.assert_array_equal(counts[..., M["truth"]], accounted)
    lost = counts.sum(axis=(0, 1, 2))
    for cause in ("blocked", "unload", "network", "retries_exhausted", "queue_full",
                  "process_exit", "never_returned", "no_javascript", "withheld"):  # fmt: skip
        assert lost[M[f"lost_{cause}"]] > 0, cause
    assert lost[M["duplicates"]] > 0 and lost[M["bots"]] > 0 and lost[M["anonymous"]] > 0
    assert meta["client_requests"] > meta["events"] * 0.5


def test_dual_events_carried_to_a_later_visit_are_joined_once_both_copies_settle() -> None:
    sc = scenario(**ONE_REQUEST)
    rep = Replication(sc, np.random.SeedSequence(4))
    rep.run()
    assert rep.waits.opened > 0  # some browser copies of dual events waited for a return visit
    assert len(rep.waits) == 0  # and every one was joined with its server copies


def test_same_seed_same_bytes_on_arrays() -> None:
    sc = scenario(**ONE_REQUEST)
    a = simulate(sc, np.random.SeedSequence(9))[0].counts
    b = simulate(sc, np.random.SeedSequence(9))[0].counts
    c = simulate(sc, np.random.SeedSequence(10))[0].counts
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_arrays_only_for_one_request_per_event_libraries() -> None:
    assert on_arrays(scenario(**ONE_REQUEST))
    assert not on_arrays(scenario(**EVERYTHING_ON))  # batches, beacon at unload
    keepalive = {**ONE_REQUEST["client"], "transport": "fetch_keepalive"}
    assert not on_arrays(scenario(**{**ONE_REQUEST, "client": keepalive}))
