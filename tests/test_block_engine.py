"""The block engine against the event-by-event engine: same model, same counts in distribution.

Both engines simulate the same mechanisms; the block engine draws its variates in another
order, so the two agree in distribution, not draw for draw. On a scenario with every mechanism
that a one-request-per-event library meets (blockers, unload, failures and retries, outages,
the local_storage store with its cap, returns, bots, nightly jobs, every plan kind including a
respecting one), each count's mean over replications is compared between the engines with
Welch's t test, Bonferroni-corrected over all counts, redrawn once with fresh seeds as scipy's
distribution tests do.
"""

from __future__ import annotations

import numpy as np
import pytest
from factories import scenario
from scipy import stats
from test_engine import EVERYTHING_ON

from simulator import client_fates
from simulator.block_engine import BlockReplication
from simulator.engine import simulate
from simulator.tally import MEASURES

M = {m: i for i, m in enumerate(MEASURES)}
LOST = [M[m] for m in MEASURES if m.startswith("lost_") or m == "pending"]
ONE_REQUEST = dict(
    EVERYTHING_ON,
    users=1500,
    client={
        **EVERYTHING_ON["client"],
        "batch_size": 1,
        "transport": "fetch",
        "unload_transport": "xhr",
        "failure_probability": 0.08,
        "retry": {"store": "local_storage", "max_attempts": 3, "max_items": 1},
    },
)
FAMILY_ALPHA = 0.01


def _totals(sc, engine: str, seeds) -> np.ndarray:
    return np.stack([simulate(sc, s, engine=engine)[0].totals() for s in seeds])


def _worst_p(sc, root: int, replications: int) -> tuple[float, tuple]:
    seeds = np.random.SeedSequence(root).spawn(2 * replications)
    a = _totals(sc, "blocks", seeds[:replications])
    b = _totals(sc, "events", seeds[replications:])
    varied = (a.std(axis=0) + b.std(axis=0)) > 0
    p = np.ones(a.shape[1:])
    p[varied] = stats.ttest_ind(a[:, varied], b[:, varied], equal_var=False).pvalue
    same = ~varied & (a[0] != b[0])  # constant within each engine but different between them
    p[same] = 0.0
    worst = np.unravel_index(np.argmin(p), p.shape)
    return float(p[worst]) * int(varied.sum() + same.sum()), worst


@pytest.mark.parametrize("users", [1500])
def test_block_engine_agrees_with_the_event_engine_in_distribution(users: int) -> None:
    sc = scenario(**{**ONE_REQUEST, "users": users})
    assert client_fates.applies(sc)
    corrected, worst = _worst_p(sc, 11, 10)
    if corrected < FAMILY_ALPHA:  # one redraw with fresh seeds
        corrected, worst = _worst_p(sc, 12, 10)
    plan, event, measure = worst
    assert corrected >= FAMILY_ALPHA, (sc.plans[plan].name, sc.events[event].name,
                                       MEASURES[measure], corrected)  # fmt: skip


def test_every_true_event_is_delivered_lost_or_pending_in_blocks() -> None:
    sc = scenario(**ONE_REQUEST)
    tally, meta = simulate(sc, np.random.SeedSequence(4), engine="blocks")
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
    rep = BlockReplication(sc, np.random.SeedSequence(4))
    rep.run()
    assert rep.waits.opened > 0  # some browser copies of dual events waited for a return visit
    assert len(rep.waits) == 0  # and every one was joined with its server copies


def test_same_seed_same_bytes_in_blocks() -> None:
    sc = scenario(**ONE_REQUEST)
    a = simulate(sc, np.random.SeedSequence(9), engine="blocks")[0].counts
    b = simulate(sc, np.random.SeedSequence(9), engine="blocks")[0].counts
    c = simulate(sc, np.random.SeedSequence(10), engine="blocks")[0].counts
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_the_engines_are_chosen_by_the_client_library() -> None:
    batched = scenario(**EVERYTHING_ON)
    assert not client_fates.applies(batched)
    with pytest.raises(ValueError, match="one xhr/fetch request per event"):
        simulate(batched, np.random.SeedSequence(1), engine="blocks")
    with pytest.raises(ValueError, match="engine must be one of"):
        simulate(batched, np.random.SeedSequence(1), engine="fast")
