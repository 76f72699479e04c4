"""The t, normal and F tails from scipy.special are scipy.stats' numbers, without its import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from scipy import stats

from simulator.stats import tails

Q = np.array([0.5, 0.8, 0.9, 0.95, 0.975, 0.995, 0.9995])
X = np.array([0.0, 0.3, 1.0, 1.96, 2.5, 4.0, 12.0])
DF = np.array([1, 2, 3, 4, 9, 19, 30, 120, 1000])


def test_t_matches_scipy_stats_bit_for_bit() -> None:
    for df in DF:
        assert np.array_equal(tails.t_quantile(Q, df), stats.t.ppf(Q, df))
        assert np.array_equal(tails.t_upper_tail(X, df), stats.t.sf(X, df))
    assert tails.t_quantile(0.975, 9) == stats.t.ppf(0.975, 9)


def test_normal_and_f_match_scipy_stats_bit_for_bit() -> None:
    assert np.array_equal(tails.normal_quantile(Q), stats.norm.ppf(Q))
    assert np.array_equal(tails.normal_upper_tail(X), stats.norm.sf(X))
    for dfn, dfd in ((1, 9), (3, 27), (2.5, 30.7), (10, 1000)):
        assert np.array_equal(tails.f_upper_tail(X, dfn, dfd), stats.f.sf(X, dfn, dfd))


def test_statistics_and_advice_do_not_import_scipy_stats() -> None:
    code = (
        "import sys, simulator.stats.summary, simulator.experiments.recommend;"
        "print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
