"""Interval and test primitives against textbook formulas and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulator.stats.intervals import (
    Z95,
    Piece,
    delta_se,
    independent_difference,
    paired_difference,
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


def test_delta_method_on_poisson_pieces_gives_the_binomial_variance_of_a_share():
    kept, lost = 700.0, 300.0
    se = delta_se(lambda x: x[0] / (x[0] + x[2]), [Piece(kept), Piece(lost)])
    assert se == pytest.approx(math.sqrt(0.7 * 0.3 / 1000), rel=1e-6)


def test_delta_method_on_marked_pieces_gives_the_variance_of_a_ratio_of_sums():
    # Kept share of revenue, events iid with values: influence-function variance.
    n_d, s_d, q_d = 80.0, 4000.0, 250_000.0
    n_l, s_l, q_l = 20.0, 800.0, 40_000.0
    se = delta_se(lambda x: x[1] / (x[1] + x[3]), [Piece(n_d, s_d, q_d), Piece(n_l, s_l, q_l)])
    total = s_d + s_l
    k = s_d / total
    ref = math.sqrt(((1 - k) ** 2 * q_d + k**2 * q_l) / total**2)
    assert se == pytest.approx(ref, rel=1e-6)


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


def test_independent_difference_is_a_two_sided_z_test():
    d = independent_difference(0.20, 0.01, 0.25, 0.02)
    se = math.hypot(0.01, 0.02)
    assert d.estimate == pytest.approx(0.05)
    assert d.ci == pytest.approx((0.05 - Z95 * se, 0.05 + Z95 * se))
    assert d.p_value == pytest.approx(2 * stats.norm.sf(0.05 / se))
