"""Standard errors and loss intervals from the visitor bootstrap's resamples."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from simulator.experiments.estimate.resampling import (
    central_spread,
    loss_interval,
    served_units,
    spread,
)
from simulator.stats.capture_recapture import none_seen_bound


def normal_sample(n: int, sd: float) -> np.ndarray:
    """``n`` draws at the normal's plotting positions (k - 3/8) / (n + 1/4): a perfect sample."""
    positions = (np.arange(1, n + 1) - 0.375) / (n + 0.25)
    return sd * np.array([NormalDist().inv_cdf(p) for p in positions])


def test_the_central_spread_of_normal_draws_is_their_deviation():
    sds = np.array([0.5, 3.0, 40.0])
    draws = np.stack([normal_sample(200, sd) for sd in sds], axis=1)
    # Between draws the quantile is interpolated: it is exact to within the draws' spacing
    # around the 2.5% point, over the range's 2 x 1.96.
    first = np.sort(draws, axis=0)
    spacing = np.abs(first[5] - first[4]) / (2 * 1.959963984540054)
    assert (np.abs(central_spread(draws) - sds) <= spacing).all()


def test_one_degenerate_resample_does_not_make_the_error():
    """A rare event type's resample whose fit degenerates gives a total in the hundreds of
    millions: the standard deviation follows it, the central spread does not move."""
    draws = normal_sample(200, 4.0)
    wild = draws.copy()
    wild[np.argmax(wild)] = 2.4e8
    assert spread(wild) > 1e6
    assert central_spread(wild) == central_spread(draws)
    wild[:3] = np.nan  # resamples without a value are left out
    assert np.isfinite(central_spread(wild))


def test_a_loss_of_zero_reaches_the_exact_bound_over_its_units():
    draws = np.zeros((200, 3))
    draws[:5, 2] = 0.01  # a few resamples above 0 are not the bound
    lo, hi = loss_interval(np.zeros(3), draws, np.array([2, 49, 49]))
    np.testing.assert_allclose(lo, 0.0)
    np.testing.assert_allclose(hi, none_seen_bound(np.array([2, 49, 49])))
    lo, hi = loss_interval(np.ones(1), np.ones((200, 1)), np.array([7]))
    np.testing.assert_allclose([lo[0], hi[0]], [1 - none_seen_bound(7), 1.0])


def test_served_units_count_each_group_once_per_key():
    group = np.array([0, 0, 1, 5, 5, 5, 2])
    key = np.array([1, 1, 1, 0, 2, 2, 2])
    np.testing.assert_array_equal(served_units(group, key, 4), [1, 2, 2, 0])


def test_without_units_a_loss_of_zero_keeps_the_resamples_interval():
    draws = np.zeros((200, 1))
    draws[:10] = 0.02
    lo, hi = loss_interval(np.zeros(1), draws)
    np.testing.assert_allclose([lo[0], hi[0]], np.quantile(draws, [0.025, 0.975]))
