"""Confidence intervals and tests for the figures a run reports.

Two situations, two families of methods:

- **Several replications.** Each replication is an independent draw of the whole site, so any
  figure computed per replication (a loss, a share, a ratio) has a Student t interval across
  replications. Visitors' events may be correlated (a blocked visitor loses all of them); the
  spread between replications already contains that correlation, so these intervals are honest.
  Differences between plans or scenarios run on common random numbers are paired by replication.
- **One replication.** Only the counts are known, so intervals come from a count model: Wilson
  for a proportion, and the delta method for smooth functions of counts and value sums, where the
  counts of disjoint pieces (delivered, lost, duplicated, ...) are treated as independent Poisson
  (marked by values when sums of values are involved). For functions that do not depend on the
  overall scale (shares, rates, ratios of rates) this equals the multinomial delta method. It
  treats events as independent, so it is too narrow when a visitor's events share a fate.

Every function here is deterministic: no random draws, nothing machine-dependent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95
Z95 = float(stats.norm.ppf(0.5 + LEVEL / 2))


def wilson(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``successes / n``.

    Parameters
    ----------
    successes, n : float
        Successes and trials (``n > 0``).
    z : float
        Normal quantile (1.96 for 95%).

    Returns
    -------
    tuple of float
        Lower and upper bound, inside ``[0, 1]``.
    """
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def t_interval(samples: Sequence[float] | np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Student t interval for the mean of independent replications.

    Parameters
    ----------
    samples : array_like
        One value per replication.
    level : float
        Confidence level.

    Returns
    -------
    tuple of float
        Lower and upper bound; both equal the mean when there are fewer than two samples.
    """
    x = np.asarray(samples, dtype=float)
    n = len(x)
    mean = float(np.mean(x))
    if n < 2:
        return mean, mean
    half = stats.t.ppf(0.5 + level / 2, n - 1) * float(np.std(x, ddof=1)) / math.sqrt(n)
    return mean - half, mean + half


def t_intervals(
    samples: np.ndarray, level: float = LEVEL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised Student t intervals across replications (axis 0).

    Replications where a value is undefined (NaN) are left out of that value's interval.

    Parameters
    ----------
    samples : numpy.ndarray
        Shape ``(replications, ...)``.
    level : float
        Confidence level.

    Returns
    -------
    tuple of numpy.ndarray
        Mean, lower and upper bound, each of shape ``samples.shape[1:]``; NaN where no
        replication defines the value, and lower = upper = mean where only one does.
    """
    x = np.asarray(samples, dtype=float)
    ok = ~np.isnan(x)
    n = ok.sum(axis=0)
    safe = np.where(ok, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = safe.sum(axis=0) / n
        dev = np.where(ok, x - mean, 0.0)
        sd = np.sqrt((dev**2).sum(axis=0) / (n - 1))
        q = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))
        half = np.where(n >= 2, q * sd / np.sqrt(n), 0.0)
    return mean, mean - half, mean + half


def normal_interval(estimate: float, se: float, z: float = Z95) -> tuple[float, float]:
    """Symmetric normal interval ``estimate ± z se``."""
    return estimate - z * se, estimate + z * se


@dataclass(frozen=True)
class Piece:
    """A disjoint group of events seen as a (marked) Poisson count.

    Attributes
    ----------
    n : float
        How many events.
    value : float
        Sum of their values (0 for counts only).
    value_sq : float
        Sum of squared values.
    """

    n: float
    value: float = 0.0
    value_sq: float = 0.0


def delta_se(func: Callable[[np.ndarray], float], pieces: Sequence[Piece]) -> float:
    """Standard error of ``func`` of independent marked Poisson pieces, by the delta method.

    ``func`` receives a flat array ``[n_0, value_0, n_1, value_1, ...]``. Piece ``j`` has
    ``Var(n_j) = n_j``, ``Var(value_j) = value_sq_j`` and ``Cov(n_j, value_j) = value_j``
    (a compound Poisson sum); different pieces are independent. The gradient is taken by
    central differences, which is exact enough for the rational functions used here.

    Parameters
    ----------
    func : callable
        Maps the flat array to a float.
    pieces : sequence of Piece
        The counts (and value sums) the figure is made of.

    Returns
    -------
    float
        The standard error (NaN when ``func`` is undefined at the counts).
    """
    x = np.array([v for p in pieces for v in (p.n, p.value)], dtype=float)
    grad = np.empty_like(x)
    for i, xi in enumerate(x):
        h = 1e-6 * max(abs(xi), 1.0)
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (func(up) - func(down)) / (2 * h)
    var = 0.0
    for j, p in enumerate(pieces):
        gn, gv = grad[2 * j], grad[2 * j + 1]
        var += gn * gn * p.n + 2 * gn * gv * p.value + gv * gv * p.value_sq
    return math.sqrt(var) if var >= 0 else math.nan


@dataclass(frozen=True)
class Difference:
    """A difference between two paired figures, with its interval and test.

    Attributes
    ----------
    estimate : float
        Mean difference (second minus first).
    ci : tuple of float
        95% interval.
    p_value : float or None
        Two-sided p-value of "no difference"; ``None`` when the difference never varies.
    method : str
        How the interval and test were made.
    """

    estimate: float
    ci: tuple[float, float]
    p_value: float | None
    method: str


def paired_difference(first: np.ndarray, second: np.ndarray) -> Difference:
    """Paired t interval and test for ``second - first`` over replications.

    Parameters
    ----------
    first, second : numpy.ndarray
        One value per replication, paired by replication (common random numbers). Replications
        where either is NaN are left out.

    Returns
    -------
    Difference
        With two or more pairs, Student t on the paired differences; with one, the difference
        alone (interval of zero width, no p-value): use :func:`independent_difference` then.
    """
    d = np.asarray(second, dtype=float) - np.asarray(first, dtype=float)
    d = d[~np.isnan(d)]
    if len(d) == 0:
        return Difference(math.nan, (math.nan, math.nan), None, "undefined")
    mean = float(d.mean())
    if len(d) < 2:
        return Difference(mean, (mean, mean), None, "one replication")
    lo, hi = t_interval(d)
    sd = float(d.std(ddof=1))
    if sd == 0:
        # The difference never varies (often: both exactly zero); a t test says nothing.
        return Difference(mean, (mean, mean), None, "paired t")
    t = mean / (sd / math.sqrt(len(d)))
    p = float(2 * stats.t.sf(abs(t), len(d) - 1))
    return Difference(mean, (lo, hi), p, "paired t")


def independent_difference(
    first: float, se_first: float, second: float, se_second: float
) -> Difference:
    """Normal interval and z test for ``second - first`` treating the two as independent.

    Used with one replication, where the joint fate of an event under both plans is not
    counted. Two plans observing the same visitors usually lose positively correlated events,
    so the interval is then conservative.
    """
    est = second - first
    se = math.hypot(se_first, se_second)
    if se == 0 or math.isnan(se):
        return Difference(est, (est, est), None, "normal, independent")
    p = float(2 * stats.norm.sf(abs(est) / se))
    return Difference(est, normal_interval(est, se), p, "normal, independent")


__all__ = [
    "LEVEL",
    "Z95",
    "Difference",
    "Piece",
    "delta_se",
    "independent_difference",
    "normal_interval",
    "paired_difference",
    "t_interval",
    "t_intervals",
    "wilson",
]
