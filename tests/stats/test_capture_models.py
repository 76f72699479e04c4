"""Logistic and log-linear capture models against statsmodels and against simulated captures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulator.stats import capture_models
from simulator.stats.capture_models import (
    HISTORIES,
    fit_glm,
    horvitz_thompson,
    loglinear_design,
    loglinear_fit,
    three_source,
    unseen_interval,
)
from simulator.stats.capture_recapture import Z95, two_source


def histories(caps: np.ndarray) -> np.ndarray:
    """Counts of the seven observable histories of boolean captures (draws, events, 3)."""
    return np.stack([(caps == h).all(-1).sum(-1) for h in HISTORIES.astype(bool)], axis=-1)


@pytest.mark.parametrize("dense_products", [capture_models.DENSE_PRODUCTS, 0])
def test_the_fits_match_statsmodels(monkeypatch, dense_products):
    """Both ways of computing the normal equations: dense arrays, and sparse matrices (0)."""
    sm = pytest.importorskip("statsmodels.api")
    monkeypatch.setattr(capture_models, "DENSE_PRODUCTS", dense_products)
    rng = np.random.default_rng(4)
    x = np.column_stack([np.ones(40), rng.integers(0, 2, (40, 3)), rng.normal(size=40)])
    n = rng.integers(5, 80, 40)
    y = rng.binomial(n, 1 / (1 + np.exp(-(x @ [0.3, 1.0, -0.8, 0.2, 0.5]))))
    beta, _ = fit_glm(x, y[None], n[None])
    ref = sm.GLM(np.column_stack([y, n - y]), x, family=sm.families.Binomial()).fit()
    np.testing.assert_allclose(beta[0], ref.params, rtol=1e-7, atol=1e-9)
    counts = histories(rng.random((1, 3000, 3)) < [0.6, 0.7, 0.4])[0]
    design = loglinear_design(((0, 2),))
    beta, mu = fit_glm(design, counts[None])
    ref = sm.GLM(counts, design, family=sm.families.Poisson()).fit()
    np.testing.assert_allclose(beta[0], ref.params, rtol=1e-7, atol=1e-9)
    assert three_source(counts[None])["client-third"]["deviance"][0] == pytest.approx(ref.deviance)


def test_with_one_parameter_per_cell_horvitz_thompson_is_lincoln_petersen():
    cells = np.array([[[120.0, 30.0, 20.0], [50.0, 40.0, 5.0], [10.0, 2.0, 8.0]]])
    total, _, _ = horvitz_thompson(np.eye(3), cells, np.array([0, 0, 1]), 2)
    lp = two_source(*cells[0].T).lincoln_petersen
    np.testing.assert_allclose(total[0], [lp[0] + lp[1], lp[2]], rtol=1e-8)


def test_three_independent_sources_recover_the_true_count():
    """Over many simulated populations the independence model's total is unbiased."""
    rng = np.random.default_rng(11)
    n, draws = 4000, 300
    caps = rng.random((draws, n, 3)) < [0.5, 0.7, 0.4]
    fits = three_source(histories(caps))
    total = histories(caps).sum(-1) + fits["independent"]["unseen"]
    se = total.std(ddof=1) / np.sqrt(draws)
    assert abs(total.mean() - n) < 4 * se
    # Independence fits: the deviance on 3 degrees of freedom averages 3.
    dev = fits["independent"]["deviance"]
    assert abs(dev.mean() - 3) < 4 * dev.std(ddof=1) / np.sqrt(draws)


def test_a_dependent_pair_is_seen_and_its_model_recovers_the_count():
    """Client and third source both miss blocked visitors: independence counts too few."""
    rng = np.random.default_rng(12)
    n, draws = 4000, 300
    open_ = rng.random((draws, n)) < 0.7  # not blocked
    client = open_ & (rng.random((draws, n)) < 0.9)
    third = open_ & (rng.random((draws, n)) < 0.8)
    server = rng.random((draws, n)) < 0.6
    counts = histories(np.stack([client, server, third], axis=-1))
    fits = three_source(counts)
    seen = counts.sum(-1)
    naive = seen + fits["independent"]["unseen"]
    paired = seen + fits["client-third"]["unseen"]
    se = paired.std(ddof=1) / np.sqrt(draws)
    assert abs(paired.mean() - n) < 4 * se
    assert naive.mean() < n - 10 * naive.std(ddof=1) / np.sqrt(draws)
    assert (fits["client-third"]["log_odds_ratio"] > 0).all()
    drop = fits["independent"]["deviance"] - fits["client-third"]["deviance"]
    assert np.median(drop) > 3.84  # the pair's test rejects independence


def test_the_unseen_count_is_the_closed_form_and_unbounded_where_it_divides_by_zero():
    rng = np.random.default_rng(1)
    h = rng.integers(5, 200, (5, 7)).astype(float)
    h100, h010, h001, h110, h101, h011, h111 = h.T
    closed = {  # Bishop, Fienberg and Holland (1975), chapter 6
        ((0, 1),): h001 * (h100 + h010 + h110) / (h101 + h011 + h111),
        ((0, 2),): h010 * (h100 + h001 + h101) / (h110 + h011 + h111),
        ((1, 2),): h100 * (h010 + h001 + h011) / (h110 + h101 + h111),
        ((0, 1), (0, 2)): h010 * h001 / h011,
        ((0, 1), (1, 2)): h100 * h001 / h101,
        ((0, 2), (1, 2)): h100 * h010 / h110,
        ((0, 1), (0, 2), (1, 2)): h100 * h010 * h001 * h111 / (h110 * h101 * h011),
    }
    for pairs, unseen in closed.items():
        np.testing.assert_allclose(loglinear_fit(h, pairs)["unseen"], unseen, rtol=1e-7)
    # A third source that never sees an event the client missed (h001 = h011 = 0): a model in
    # which client and third depend, given the server, has nothing to measure that by.
    h[:, [2, 5]] = 0
    assert np.isnan(loglinear_fit(h, ((0, 1), (0, 2)))["unseen"]).all()
    assert np.isnan(loglinear_fit(h, ((0, 1), (0, 2), (1, 2)))["unseen"]).all()
    assert np.isfinite(loglinear_fit(h, ((0, 1),))["unseen"]).all()


@pytest.mark.parametrize("mean", [3.0, 11.0, 40.0, 200.0, 1000.0])
def test_a_poisson_counts_interval_has_its_quantiles_for_ends(mean: float) -> None:
    # Rates known exactly (no fitted part) and every event as likely to be seen: the unseen
    # events are a Poisson count of the estimate's mean, and the ends its 2.5% and 97.5%
    # quantiles, to within the half event a continuous end may sit from a count.
    seen = np.array([1e9])
    unseen = np.array([mean])
    lo, hi = unseen_interval(seen, unseen, np.zeros(1), unseen * (seen + unseen) / seen)
    quantiles = stats.poisson.ppf([0.025, 0.975], mean)
    np.testing.assert_allclose([lo[0] - seen[0], hi[0] - seen[0]], quantiles, atol=0.5)


def test_the_ends_are_the_normal_interval_moved_up_by_the_skew_of_the_unseen_count():
    rng = np.random.default_rng(4)
    seen = rng.integers(10, 5000, 200).astype(float)
    unseen = np.where(rng.random(200) < 0.2, 0.0, rng.gamma(1.0, 30.0, 200))
    fitted = rng.gamma(1.0, 5.0, 200) * (rng.random(200) < 0.8)
    scale = rng.uniform(1.0, 1.5, 200)  # chance of being seen varying across cells
    chance = scale * unseen * (seen + unseen) / seen
    lo, hi = unseen_interval(seen, unseen, fitted, chance)
    sd = np.sqrt(fitted + chance)
    k = np.where(unseen > 0, scale, 1.0)
    shift = np.where(sd > 0, (Z95**2 - 1) / 6 * k * chance / np.where(sd > 0, sd, 1) ** 2, 0.0)
    # The shift is at most (z**2 - 1) k / 6 events, all of it where the chance part is all.
    assert ((shift >= 0) & (shift <= (Z95**2 - 1) / 6 * k + 1e-12)).all()
    normal = unseen - Z95 * sd
    np.testing.assert_allclose(lo, seen + np.where(normal > 0, normal + shift, 0.0))
    none = unseen_interval(seen, np.zeros(200), fitted, np.zeros(200))[1]
    np.testing.assert_allclose(hi, np.maximum(seen + unseen + Z95 * sd + shift, none))
    # Where the upper end is the normal one, no estimate of none unseen would reach it.
    assert (hi >= none).all() and (lo >= seen).all() and (lo <= seen + unseen).all()


def test_no_unseen_event_estimated_leaves_about_four_possible():
    seen = np.array([5.0, 20.0, 500.0, 3.0])
    lo, hi = unseen_interval(seen, np.zeros(4), np.zeros(4), np.zeros(4))
    np.testing.assert_allclose(hi[:3] - seen[:3], Z95**2 / (1 - Z95**2 / seen[:3]))
    assert hi[3] == np.inf  # three events seen: too few to bound how many went unseen
    np.testing.assert_array_equal(lo, seen)
    # a model that leaves the count unknown leaves both ends unknown
    lo, hi = unseen_interval(seen, np.full(4, np.nan), np.zeros(4), np.zeros(4))
    assert np.isnan(lo).all() and np.isnan(hi).all()
    # with the fitted rates' variance, the x that 0 is within z standard errors of
    x = unseen_interval(seen[:3], np.zeros(3), np.full(3, 4.0), np.zeros(3))[1] - seen[:3]
    np.testing.assert_allclose(x**2, Z95**2 * (4.0 + x * (seen[:3] + x) / seen[:3]))
