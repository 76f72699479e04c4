"""Two-source estimators: known small cases, and their bias and variance on simulated captures."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.stats.capture_recapture import (
    client_loss,
    percentile_interval,
    two_source,
    visitor_bootstrap,
)


def test_a_hand_worked_table():
    # 100 client copies, 80 server copies, 40 events seen by both.
    est = two_source(40, 60, 40)
    assert est.lincoln_petersen == pytest.approx(100 * 80 / 40)
    assert est.chapman == pytest.approx(101 * 81 / 41 - 1)
    assert est.p_client == pytest.approx(0.5) and est.p_server == pytest.approx(0.4)
    assert est.chapman_var == pytest.approx(101 * 81 * 60 * 40 / (41**2 * 42))
    assert est.client_loss == pytest.approx(1 - 100 / est.chapman)


def test_one_path_only_is_not_estimable():
    est = two_source(np.array([0.0, 10.0]), np.array([50.0, 0.0]), np.array([0.0, 0.0]))
    assert np.isnan(est.client_loss[0]) and np.isnan(est.p_client[0])
    assert est.lincoln_petersen[0] == np.inf
    assert est.client_loss[1] == 0.0


def test_chapman_is_nearly_unbiased_and_seber_matches_the_spread():
    # Independent captures with known N: the mean of Chapman's N is within four standard
    # errors of N, and Seber's variance agrees with the spread of the estimates.
    rng = np.random.default_rng(3)
    n, p_c, p_s, runs = 1000, 0.7, 0.6, 2000
    client = rng.random((runs, n)) < p_c
    server = rng.random((runs, n)) < p_s
    est = two_source((client & server).sum(1), (client & ~server).sum(1), (~client & server).sum(1))
    sd = est.chapman.std(ddof=1)
    assert abs(est.chapman.mean() - n) < 4 * sd / np.sqrt(runs)
    # The sample variance of normal-ish draws has relative sd sqrt(2 / (runs - 1)).
    rel = np.sqrt(2 / (runs - 1))
    assert abs(est.chapman_var.mean() / sd**2 - 1) < 4 * rel
    # Seber's interval covers N about 95% of the time (binomial tolerance over the runs).
    lo, hi = est.chapman_ci
    cover = ((lo <= n) & (n <= hi)).mean()
    assert abs(cover - 0.95) < 4 * np.sqrt(0.95 * 0.05 / runs)


def test_stratified_loss_sums_the_strata():
    cells = np.array([[40.0, 60.0, 40.0], [90.0, 0.0, 10.0], [0.0, 30.0, 0.0]])
    total = client_loss(cells, np.array([0, 0, 0]))
    est = two_source(*cells[:2].T)  # the third stratum was never seen by the server
    assert total[0] == pytest.approx(1 - (100 + 90) / est.chapman.sum())


def test_the_visitor_bootstrap_sees_whole_visitors_missing():
    # Visitors lose all their client copies or none: the bootstrap over visitors is wider than
    # the binomial spread of events, and matches the spread across simulated sites.
    rng = np.random.default_rng(5)

    def site():
        visitors, per = 400, 10
        blocked = rng.random(visitors) < 0.2
        v = np.repeat(np.arange(visitors), per)
        client = ~blocked[v]
        server = rng.random(v.size) < 0.8
        kind = np.where(client & server, 0, np.where(client, 1, 2))
        seen = client | server
        cells = np.zeros((visitors, 3))
        np.add.at(cells, (v[seen], kind[seen]), 1.0)
        return cells

    losses = np.array([client_loss(site().sum(0)[None])[0] for _ in range(300)])
    cells = site()
    draws = visitor_bootstrap(np.zeros(400, np.int64), np.arange(400), cells, 1, 400, seed=1)
    boot_sd = np.nanstd(client_loss(draws)[:, 0], ddof=1)
    true_sd = losses.std(ddof=1)
    # The sd of a sample sd from 300 sites is about sd / sqrt(2 * 299); the bootstrap's own
    # error from 400 resamples is of the same order: allow four of each.
    tol = 4 * true_sd * (np.sqrt(1 / 598) + np.sqrt(1 / 798))
    assert abs(boot_sd - true_sd) < tol
    events_sd = np.sqrt(0.2 * 0.8 / 4000)
    assert boot_sd > 2 * events_sd  # far wider than if events were independent


def test_the_bootstrap_is_reproducible_from_its_seed():
    cells = np.array([[5.0, 1.0, 1.0], [3.0, 0.0, 2.0], [4.0, 2.0, 0.0]])
    args = (np.zeros(3, np.int64), np.arange(3), cells, 1, 50)
    a, b = visitor_bootstrap(*args, seed=9), visitor_bootstrap(*args, seed=9)
    assert np.array_equal(a, b)
    lo, hi = percentile_interval(client_loss(a))
    assert lo[0] <= hi[0]


def test_the_logit_interval_stays_in_0_1_and_falls_back_at_the_edges():
    from simulator.stats.capture_recapture import logit_interval

    est, sd = np.array([0.02, 0.5, 0.0]), np.array([0.02, 0.05, 0.0])
    lo, hi = logit_interval(est, sd, (np.full(3, -1.0), np.full(3, -2.0)))
    assert 0 < lo[0] < est[0] < hi[0] < 1
    assert hi[0] - est[0] > est[0] - lo[0]  # skewed away from 0, as small shares are
    assert (lo[1] + hi[1]) / 2 == pytest.approx(0.5)
    assert (lo[2], hi[2]) == (-1.0, -2.0)  # no logit at 0: the fallback interval


def test_the_bound_of_a_share_none_showed_is_the_exact_binomial_one():
    from scipy import stats

    from simulator.stats.capture_recapture import none_seen_bound

    units = np.array([1, 7, 49, 4096])
    bound = none_seen_bound(units)
    # Clopper-Pearson: the upper end for 0 successes in n trials is the beta quantile.
    assert bound == pytest.approx(stats.beta.ppf(0.975, 1, units), rel=1e-12)
    # At that share, all units escaping has probability 2.5%.
    assert (1 - bound) ** units == pytest.approx(0.025, rel=1e-12)
