"""Interval and test primitives against textbook formulas and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulator.stats.intervals import (
    BY_GROUPS,
    Z95,
    difference_test,
    paired_difference,
    replicates,
    spread,
    t_interval,
    t_intervals,
    wilson,
)


def test_wilson_matches_the_closed_form_and_stays_in_the_unit_interval():
    lo, hi = wilson(20, 100)
    p, n, z = 0.2, 100, Z95
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert (lo, hi) == pytest.approx((centre - half, centre + half))
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    assert 0.0 <= wilson(1, 3)[0] <= wilson(1, 3)[1] <= 1.0


def test_t_interval_matches_scipy():
    x = np.array([0.21, 0.25, 0.19, 0.24, 0.22])
    lo, hi = t_interval(x)
    ref = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert (lo, hi) == pytest.approx(ref)
    assert t_interval([0.3]) == (0.3, 0.3)


def test_t_intervals_are_per_column_and_skip_undefined_replications():
    x = np.array([[0.1, np.nan, 1.0], [0.3, 0.5, np.nan], [0.2, np.nan, np.nan]])
    mean, lo, hi = t_intervals(x)
    assert mean[0] == pytest.approx(0.2)
    assert (lo[0], hi[0]) == pytest.approx(t_interval([0.1, 0.3, 0.2]))
    assert mean[1] == lo[1] == hi[1] == 0.5  # one defined replication: zero width
    assert mean[2] == 1.0
    mean, lo, hi = t_intervals(np.full((2, 1), np.nan))
    assert np.isnan(mean[0]) and np.isnan(lo[0])


def test_group_jackknife_of_a_total_is_the_random_groups_variance():
    # For a linear figure the delete-a-group jackknife equals the textbook random-groups
    # estimator: G^2 s^2 / G for a total over G groups, with G - 1 degrees of freedom.
    groups = np.array([[12.0], [9.0], [15.0], [11.0], [8.0]])
    draws = replicates(groups.sum(axis=0)[None], groups)
    assert draws.by_groups
    est, lo, hi = draws.interval(lambda c: c[..., 0])
    g = len(groups)
    se = math.sqrt(g * np.var(groups[:, 0], ddof=1))
    q = stats.t.ppf(0.975, g - 1)
    assert est == pytest.approx(55.0)
    assert (lo, hi) == pytest.approx((55 - q * se, 55 + q * se))
    assert draws.method == BY_GROUPS.format(g=5, df=4)


def test_group_jackknife_of_a_ratio_is_the_linearised_cluster_variance():
    # Loss = 1 - D / T over clusters: the jackknife variance matches the linearised
    # (delta-method) cluster variance sum((d_g - R t_g)^2) / T^2 * G / (G - 1) to first order.
    rng = np.random.default_rng(3)
    truth = rng.integers(800, 1200, size=40).astype(float)
    delivered = np.floor(truth * rng.uniform(0.6, 0.8, size=40))
    groups = np.stack([truth, delivered], axis=1)
    draws = replicates(groups.sum(axis=0)[None], groups)
    est, lo, hi = draws.interval(lambda c: 1 - c[..., 1] / c[..., 0])
    t, d = truth.sum(), delivered.sum()
    ratio = d / t
    linear = math.sqrt(((delivered - ratio * truth) ** 2).sum() / t**2 * 40 / 39)
    q = stats.t.ppf(0.975, 39)
    assert est == pytest.approx(1 - ratio)
    assert (hi - lo) / (2 * q) == pytest.approx(linear, rel=0.02)


def test_measures_not_counted_per_group_do_not_vary_between_draws():
    whole = np.array([[10.0, 4.0]])
    groups = np.array([[6.0, 0.0], [4.0, 0.0]])  # second measure not counted per group
    draws = replicates(whole, groups)
    assert (draws.samples[:, 1] == 4.0).all()
    assert draws.samples[:, 0] == pytest.approx([8.0, 12.0])


def test_several_replications_keep_student_t_and_one_without_groups_has_no_interval():
    x = np.array([[0.2], [0.3], [0.25]])
    mean, lo, hi = spread(x, np.array([9.0]), False)
    assert (mean[0], lo[0], hi[0]) == pytest.approx((0.25, *t_interval(x[:, 0])))
    draws = replicates(x[:1], None)
    est, lo, hi = draws.interval(lambda c: c[..., 0])
    assert est == pytest.approx(0.2) and np.isnan(lo) and np.isnan(hi)


def test_group_difference_test_is_a_t_test_with_groups_minus_one_degrees_of_freedom():
    per_draw = np.array([0.11, 0.09, 0.10, 0.12, 0.08, 0.10])
    d = difference_test(per_draw, 0.1, True)
    g = len(per_draw)
    se = math.sqrt((g - 1) / g * ((per_draw - per_draw.mean()) ** 2).sum())
    assert d.estimate == pytest.approx(0.1)
    assert d.p_value == pytest.approx(2 * stats.t.sf(0.1 / se, g - 1))
    assert d.ci == pytest.approx(
        (0.1 - stats.t.ppf(0.975, g - 1) * se, 0.1 + stats.t.ppf(0.975, g - 1) * se)
    )


def test_paired_difference_is_the_paired_t_test():
    a = np.array([0.20, 0.22, 0.18, 0.25])
    b = np.array([0.05, 0.06, 0.05, 0.08])
    d = paired_difference(a, b)
    ref = stats.ttest_rel(b, a)
    assert d.estimate == pytest.approx((b - a).mean())
    assert d.p_value == pytest.approx(ref.pvalue)
    assert d.ci == pytest.approx(t_interval(b - a))


def test_a_difference_that_never_varies_has_no_p_value():
    zero = paired_difference(np.zeros(3), np.zeros(3))
    assert zero.estimate == 0 and zero.ci == (0, 0) and zero.p_value is None
    one = paired_difference(np.array([0.1]), np.array([0.2]))
    assert one.p_value is None and one.method == "one replication"
