"""Do the 95% intervals cover the truth 95% of the time, and are the MCAR p-values uniform?

Closed form (see ``bias_factories.two_devices``): visitors are desktop or mobile with equal
probability and equal behaviour, and privacy blockers stop 40% of desktop and 10% of mobile
visitors' events; nothing else is lost. So each visitor is lost with probability 0.25, and so is
each event in expectation; desktop's share is 0.5 among true events and 0.4 among received
ones. Countries are drawn independently of everything, so loss is independent of country (the
MCAR null holds) and depends on device (it fails).

Many runs of a small scenario are drawn; each run of ``R`` replications gives Student t
intervals and a Rao-Scott corrected chi-square p-value, each single replication a Wilson
interval (of the independent session starts) and the jackknife over its random groups of
visitors (share shift, independence test). A coverage count is binomial: the tolerance is three of
its standard deviations. Every check may redraw once with a fresh seed before failing.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats
from support.bias_factories import expected_received_share, two_devices
from support.running import run

from simulator.model.tally import M
from simulator.replications.result import RunResult
from simulator.stats.bias import composition, mcar_test
from simulator.stats.intervals import replicates, wilson
from simulator.stats.summary import summarise

USERS = 150
TRUE_LOSS = 0.25
TRUE_DIFF = expected_received_share(0.5, 0.4, 0.1) - 0.5  # -0.1 for desktop
FAST = (300, 3)  # runs, replications per run: about 7 s
SLOW = (2000, 5)
SEEDS = (101, 202)


@dataclass(frozen=True)
class Draw:
    runs: int
    loss_covered: int  # Student t intervals of page_viewed loss containing TRUE_LOSS
    diff_covered: int  # Student t intervals of desktop's share shift containing TRUE_DIFF
    wilson_covered: int  # Wilson intervals of session_started loss (one replication)
    group_covered: int  # group jackknife intervals of desktop's session share shift (one)
    singles: int
    p_country: np.ndarray  # design-effect F test, page_viewed, per run (null holds)
    p_device: np.ndarray  # same, device (null fails)
    p_country_single: np.ndarray  # Rao-Scott over groups, session_started (null holds)


@functools.cache
def draw(runs: int, reps: int, seed: int) -> Draw:
    sc = two_devices(users=USERS)
    result = run(sc, replications=runs * reps, seed=seed)
    loss_c = diff_c = 0
    p_country, p_device = [], []
    for i in range(runs):
        part = slice(i * reps, (i + 1) * reps)
        record = summarise(RunResult(sc, result.tallies[part], result.metas[part], 0.0))
        rows = {r["event"]: r for r in record["results"]}
        lo, hi = rows["page_viewed"]["loss_ci"]
        loss_c += lo <= TRUE_LOSS <= hi
        shift = rows["page_viewed"]["bias"]["device"]["shares"]["desktop"]["diff_ci"]
        diff_c += shift[0] <= TRUE_DIFF <= shift[1]
        p_country.append(rows["page_viewed"]["bias"]["country"]["p_value"])
        p_device.append(rows["page_viewed"]["bias"]["device"]["p_value"])
    wilson_c = group_c = 0
    p_single = []
    e = result.tallies[0].layout.events.index("session_started")
    for t in result.tallies:
        truth, delivered = t.totals()[0, e, M["truth"]], t.totals()[0, e, M["delivered"]]
        assert truth == USERS  # one session per visitor: independent events
        lo, hi = wilson(truth - delivered, truth)
        wilson_c += lo <= TRUE_LOSS <= hi
        country = replicates(t.marginal("country")[None], t.group_marginal("country"))
        p_single.append(mcar_test(country)[3][0, e])
        device = replicates(t.marginal("device")[None], t.group_marginal("device"))
        lo, hi = (b[0, e, 0] for b in composition(device).diff_ci)
        group_c += lo <= TRUE_DIFF <= hi
    return Draw(
        runs, loss_c, diff_c, wilson_c, group_c, len(result.tallies),
        np.array(p_country), np.array(p_device), np.array(p_single),
    )  # fmt: skip


def within(count: int, n: int, p: float, sigmas: float = 3.0) -> bool:
    """Is a binomial count within ``sigmas`` standard deviations of ``n p``?"""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def wilson_exact_coverage(n: int, p: float) -> float:
    """Coverage of the Wilson interval for Binomial(n, p), summed over outcomes."""
    ks = np.arange(n + 1)
    hits = [wilson(k, n)[0] <= p <= wilson(k, n)[1] for k in ks]
    return float(stats.binom.pmf(ks, n, p)[hits].sum())


def redraw_once(check, size):
    """Run ``check(draw)`` on the first seed, and on the second if it fails."""
    ok, message = check(draw(*size, SEEDS[0]))
    if not ok:
        ok, message = check(draw(*size, SEEDS[1]))
    assert ok, message


def _t_coverage(d: Draw) -> tuple[bool, str]:
    ok = within(d.loss_covered, d.runs, 0.95) and within(d.diff_covered, d.runs, 0.95)
    return ok, f"loss {d.loss_covered}/{d.runs}, share shift {d.diff_covered}/{d.runs}"


def _single_coverage(d: Draw) -> tuple[bool, str]:
    exact = wilson_exact_coverage(USERS, TRUE_LOSS)
    assert 0.93 <= exact <= 0.97
    ok = within(d.wilson_covered, d.singles, exact) and within(d.group_covered, d.singles, 0.95)
    return ok, f"Wilson {d.wilson_covered}/{d.singles} vs {exact:.4f}, groups {d.group_covered}"


def _uniform(d: Draw) -> tuple[bool, str]:
    p1 = stats.kstest(d.p_country, "uniform").pvalue
    p2 = stats.kstest(d.p_country_single, "uniform").pvalue
    return min(p1, p2) > 0.001, f"KS p-values: replications {p1:.4f}, groups {p2:.4f}"


def _rejects(d: Draw) -> tuple[bool, str]:
    rate = float(np.mean(d.p_device < 0.05))
    # Under the null the rate is 5%; at this size and effect it is about 80%.
    return rate > 0.5, f"rejection rate {rate:.3f}"


def test_t_intervals_cover_loss_and_share_shift():
    redraw_once(_t_coverage, FAST)


def test_one_replication_intervals_cover_for_independent_events():
    # Wilson's coverage at n = 150 is not exactly 95% (lattice effects): its exact value is
    # the target. The group jackknife share shift targets 95%.
    redraw_once(_single_coverage, FAST)


def test_mcar_p_values_are_uniform_when_loss_is_independent_of_the_dimension():
    redraw_once(_uniform, FAST)


def test_mcar_test_rejects_when_loss_depends_on_the_dimension():
    redraw_once(_rejects, FAST)


def test_mcar_test_with_enough_replications_rejects_decisively():
    record = summarise(run(two_devices(users=300), replications=10, seed=5))
    row = next(r for r in record["results"] if r["event"] == "page_viewed")
    assert row["bias"]["device"]["p_value"] < 1e-3
    assert row["bias"]["device"]["design_effect"] > 1  # a visitor's page views share a fate


@pytest.mark.slow
def test_t_intervals_cover_93_to_97_percent_over_2000_runs():
    d = draw(*SLOW, SEEDS[0])
    # 3 sd of a count of 2000 at 95% is 1.46 points: the band is 93.5-96.5%.
    redraw_once(_t_coverage, SLOW)
    assert 0.93 <= d.loss_covered / d.runs <= 0.97


@pytest.mark.slow
def test_wilson_and_mcar_over_10000_replications():
    redraw_once(_single_coverage, SLOW)
    redraw_once(_uniform, SLOW)
