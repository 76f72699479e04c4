"""Named random distributions, parameterised the same way everywhere in a scenario.

A scenario states what a team measured (dwell times, latencies, order values, gaps between
visits) as an inline table such as ``{ kind = "lognormal", median = 30, sigma = 1.1 }``.
Every distribution can draw a block of variates from a ``numpy.random.Generator`` and report its
mean.

Every quantity a scenario draws is a duration, a count or an amount of money, so no
distribution here yields a negative value, and every parameter is finite and at most
:data:`~simulator.config.limits.MAX_AMOUNT` (log-normal sigma at most
:data:`~simulator.config.limits.MAX_SIGMA`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from simulator.config.frozen import Frozen
from simulator.config.limits import MAX_AMOUNT, MAX_SIGMA
from simulator.config.wording import problem

if TYPE_CHECKING:  # numpy loads when a scenario is simulated, not when it is only validated
    import numpy as np

Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT)]
"""A value a distribution may take or be centred on: finite, non-negative and bounded."""


class _Dist(Frozen):
    model_config = ConfigDict(populate_by_name=False, validate_by_name=False)  # by name only

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` independent variates.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness (never the legacy global state).
        size : int
            Number of variates.

        Returns
        -------
        numpy.ndarray
            Float array of shape ``(size,)``.
        """
        raise NotImplementedError

    def mean(self) -> float:
        """Return the expectation of the distribution."""
        raise NotImplementedError


class Constant(_Dist):
    """Always the same value."""

    kind: Literal["constant"]
    value: Amount

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # noqa: D102
        import numpy as np

        return np.full(size, float(self.value))

    def mean(self) -> float:  # noqa: D102
        return float(self.value)


class Exponential(_Dist):
    """Exponential with the given mean."""

    kind: Literal["exponential"]
    mean_: float = Field(alias="mean", gt=0, le=MAX_AMOUNT)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # noqa: D102
        return rng.exponential(self.mean_, size)

    def mean(self) -> float:  # noqa: D102
        return float(self.mean_)


class LogNormal(_Dist):
    """Log-normal stated by its median and the sigma of the underlying normal."""

    kind: Literal["lognormal"]
    median: float = Field(gt=0, le=MAX_AMOUNT)
    sigma: float = Field(ge=0, le=MAX_SIGMA)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # noqa: D102
        return rng.lognormal(math.log(self.median), self.sigma, size)

    def mean(self) -> float:  # noqa: D102
        return float(self.median * math.exp(self.sigma**2 / 2))


class Gamma(_Dist):
    """Gamma with shape ``k`` and scale ``theta`` (mean ``k * theta``)."""

    kind: Literal["gamma"]
    shape: float = Field(gt=0, le=MAX_AMOUNT)
    scale: float = Field(gt=0, le=MAX_AMOUNT)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # noqa: D102
        return rng.gamma(self.shape, self.scale, size)

    def mean(self) -> float:  # noqa: D102
        return float(self.shape * self.scale)


class Uniform(_Dist):
    """Uniform on ``[low, high)``."""

    kind: Literal["uniform"]
    low: Amount
    high: Amount

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.high > self.low:
            raise problem("high_above_low", at=("high",), low=self.low, high=self.high)
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # noqa: D102
        return rng.uniform(self.low, self.high, size)

    def mean(self) -> float:  # noqa: D102
        return 0.5 * (self.low + self.high)


class Geometric(_Dist):
    """Geometric on ``1, 2, 3, ...`` stated by its mean (>= 1): counts such as pages per visit."""

    kind: Literal["geometric"]
    mean_: float = Field(alias="mean", ge=1, le=MAX_AMOUNT)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # noqa: D102
        return rng.geometric(1.0 / self.mean_, size).astype(float)

    def mean(self) -> float:  # noqa: D102
        return float(self.mean_)


class Poisson(_Dist):
    """Poisson counts with the given mean."""

    kind: Literal["poisson"]
    mean_: float = Field(alias="mean", ge=0, le=MAX_AMOUNT)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # noqa: D102
        return rng.poisson(self.mean_, size).astype(float)

    def mean(self) -> float:  # noqa: D102
        return float(self.mean_)


class Empirical(_Dist):
    """Observed values with weights (weights need not sum to 1; they are normalised)."""

    kind: Literal["empirical"]
    values: list[Amount] = Field(min_length=1)
    weights: list[Annotated[float, Field(le=MAX_AMOUNT)]] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> Empirical:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise problem(
                    "weights_length",
                    at=("weights",),
                    values=len(self.values),
                    weights=len(self.weights),
                )
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise problem("weights_positive", at=("weights",), weights=self.weights)
        return self

    def _p(self) -> np.ndarray:
        import numpy as np

        if self.weights is None:
            return np.full(len(self.values), 1.0 / len(self.values))
        w = np.asarray(self.weights, dtype=float)
        return w / w.sum()

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # noqa: D102
        import numpy as np

        return rng.choice(np.asarray(self.values, dtype=float), size=size, p=self._p())

    def mean(self) -> float:  # noqa: D102
        import numpy as np

        return float(np.dot(self.values, self._p()))


Distribution = Annotated[
    Constant | Exponential | LogNormal | Gamma | Uniform | Geometric | Poisson | Empirical,
    Field(discriminator="kind"),
]
"""Any named distribution; the ``kind`` key selects which."""
