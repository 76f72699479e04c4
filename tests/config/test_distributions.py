"""Named distributions: samples agree with the stated mean, and with the scipy equivalent.

Tolerances come from the variance: a sample mean of ``n`` draws has standard error
``sqrt(var / n)``, and a sample variance has standard error ``var * sqrt((kurtosis + 2) / n)``
(``kurtosis`` in excess form, as scipy reports it). Checks allow five standard errors, so a
correct sampler fails with probability below 1e-6 per check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter
from support.distributions import as_scipy

from simulator.config.distributions import Distribution

N = 40_000
Z = 5.0

CASES = {
    "constant": {"kind": "constant", "value": 3.5},
    "exponential": {"kind": "exponential", "mean": 72.0},
    "lognormal": {"kind": "lognormal", "median": 25.0, "sigma": 0.8},
    "gamma": {"kind": "gamma", "shape": 2.5, "scale": 4.0},
    "uniform": {"kind": "uniform", "low": 1.0, "high": 3.0},
    "geometric": {"kind": "geometric", "mean": 4.0},
    "poisson": {"kind": "poisson", "mean": 0.8},
    "empirical": {"kind": "empirical", "values": [10, 25, 60, 200], "weights": [4, 3, 2, 1]},
    "empirical_unweighted": {"kind": "empirical", "values": [1.5, 2.5, 7.0]},
}

_ADAPTER = TypeAdapter(Distribution)


def build(kind: str):
    return _ADAPTER.validate_python(CASES[kind])


def sample(kind: str, seed: int = 20261129) -> np.ndarray:
    return build(kind).sample(np.random.default_rng(seed), N)


@pytest.mark.parametrize("kind", list(CASES))
def test_sample_is_a_float_block_of_the_requested_size(kind: str) -> None:
    x = sample(kind)
    assert x.shape == (N,)
    assert x.dtype == np.float64
    assert np.isfinite(x).all()


@pytest.mark.parametrize("kind", [k for k in CASES if k != "constant"])
def test_sample_mean_matches_mean_within_five_standard_errors(kind: str) -> None:
    dist = build(kind)
    var = float(as_scipy(dist).var())
    assert var > 0
    se = math.sqrt(var / N)
    assert abs(sample(kind).mean() - dist.mean()) < Z * se


@pytest.mark.parametrize("kind", [k for k in CASES if k != "constant"])
def test_sample_variance_matches_scipy_within_five_standard_errors(kind: str) -> None:
    var, kurtosis = (float(m) for m in as_scipy(build(kind)).stats(moments="vk"))
    se = var * math.sqrt((kurtosis + 2.0) / N)
    assert abs(sample(kind).var(ddof=1) - var) < Z * se


def test_constant_samples_are_exactly_the_value() -> None:
    dist = build("constant")
    assert dist.mean() == 3.5
    assert (sample("constant") == 3.5).all()


@pytest.mark.parametrize("kind", list(CASES))
def test_scipy_equivalent_has_the_same_mean(kind: str) -> None:
    dist = build(kind)
    assert float(as_scipy(dist).mean()) == pytest.approx(dist.mean(), rel=1e-12)


def test_lognormal_is_stated_by_its_median() -> None:
    dist = build("lognormal")
    assert float(as_scipy(dist).median()) == pytest.approx(25.0)
    assert np.median(sample("lognormal")) == pytest.approx(25.0, rel=0.02)


def test_geometric_counts_start_at_one() -> None:
    x = sample("geometric")
    assert x.min() == 1.0
    assert np.array_equal(x, np.round(x))


def test_empirical_draws_only_the_given_values_in_proportion() -> None:
    x = sample("empirical")
    values, counts = np.unique(x, return_counts=True)
    assert values.tolist() == [10.0, 25.0, 60.0, 200.0]
    p = np.array([0.4, 0.3, 0.2, 0.1])
    se = np.sqrt(p * (1 - p) / N)
    assert (np.abs(counts / N - p) < Z * se).all()


def test_same_generator_state_gives_the_same_block() -> None:
    assert np.array_equal(sample("gamma", seed=7), sample("gamma", seed=7))
    assert not np.array_equal(sample("gamma", seed=7), sample("gamma", seed=8))


@pytest.mark.parametrize("kind", ["exponential", "geometric", "poisson"])
def test_mean_has_one_spelling(kind: str) -> None:
    from pydantic import TypeAdapter, ValidationError

    from simulator.config.distributions import Distribution

    with pytest.raises(ValidationError):
        TypeAdapter(Distribution).validate_python({"kind": kind, "mean_": 2.0})
