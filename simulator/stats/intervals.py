"""Confidence intervals and tests for the figures a run reports.

Every figure with an interval is computed on independent draws of the site, and one function,
:meth:`Replicates.interval`, turns the draws into the interval:

- **Several replications.** Each is an independent draw of the whole site: the figure per
  replication has a Student t interval across replications, whose spread already contains the
  correlation of a visitor's events. Differences on common random numbers are paired.
- **One replication: random groups of visitors.** Every visitor belongs to one of
  :data:`~simulator.model.tally.GROUPS` groups (a fixed hash of the visitor, no random draw),
  and the run counts each group apart. Visitors are independent of each other while a
  visitor's events are not, so the groups are independent clusters: the figure is recomputed
  with each group left out (the delete-a-group jackknife; Wolter 2007, §8 of docs/sources.md) and
  the interval is Student t with ``GROUPS - 1`` degrees of freedom around the figure of the whole
  run. This is cluster-robust at the visitor level for every figure alike (losses, shares and their
  differences, TVD, value, KPIs, paired differences between plans), needs no per-visitor state while
  the run goes, and does not touch the random streams, so counts do not change. The jackknife keeps
  the whole run's point estimate (no small-group ratio bias). A linearised cluster variance would
  need each visitor's final counts (they span several windows) and a formula per figure; a
  bootstrap, per-visitor outcomes.

One replication cannot see variation common to all visitors of a run (an outage, a congested
server queue): only replications measure it. Nothing here draws random numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from simulator.replications.result import RunResult
from simulator.stats.tails import normal_quantile, t_quantile, t_upper_tail

LEVEL = 0.95
Z95 = float(normal_quantile(0.5 + LEVEL / 2))


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
    half = t_quantile(0.5 + level / 2, n - 1) * float(np.std(x, ddof=1)) / math.sqrt(n)
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
        q = t_quantile(0.5 + level / 2, np.maximum(n - 1, 1))
        half = np.where(n >= 2, q * sd / np.sqrt(n), 0.0)
    return mean, mean - half, mean + half


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
    p = float(2 * t_upper_tail(abs(t), len(d) - 1))
    return Difference(mean, (lo, hi), p, "paired t")


BY_REPLICATIONS = "Student t across {n} replications (95%)"
BY_GROUPS = (
    "one replication: delete-a-group jackknife over {g} random groups of visitors, "
    "Student t with {df} degrees of freedom (95%), cluster-robust at the visitor level"
)
NO_INTERVAL = "one replication counted without groups of visitors: no interval"


@dataclass(frozen=True)
class Replicates:
    """Counts of the independent draws a figure's interval is made from.

    Attributes
    ----------
    samples : numpy.ndarray
        Counts of each draw, shape ``(draws, ...)``: per replication, or the whole run with one
        group of visitors left out (scaled back to the whole run's size).
    whole : numpy.ndarray
        Counts of the point estimate, shape ``samples.shape[1:]``: the mean replication, or
        the whole run.
    by_groups : bool
        Whether the draws are leave-one-group-out (jackknife) rather than replications.
    """

    samples: np.ndarray
    whole: np.ndarray
    by_groups: bool

    @property
    def method(self) -> str:
        """How the intervals of these draws are made, for the record's ``methods``."""
        return interval_method(len(self.samples), self.by_groups)

    def __getitem__(self, index: int | tuple) -> Replicates:
        """The draws of one part of the counts (``index`` applies after the draws' axis)."""
        index = index if isinstance(index, tuple) else (index,)
        return Replicates(self.samples[(slice(None), *index)], self.whole[index], self.by_groups)

    def values(self, figure: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """A figure on every draw and on the whole.

        Parameters
        ----------
        figure : callable
            Maps counts with a leading draws axis to the figure per draw (vectorised).

        Returns
        -------
        tuple of numpy.ndarray
            Per draw, shape ``(draws, ...)``, and of the whole.
        """
        with np.errstate(invalid="ignore", divide="ignore"):
            return figure(self.samples), figure(self.whole[None])[0]

    def interval(
        self, figure: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Estimate and 95% interval of a figure: the one dispatch of every interval.

        Returns
        -------
        tuple of numpy.ndarray
            Estimate, lower and upper bound; NaN where the figure is undefined.
        """
        per_draw, whole = self.values(figure)
        return spread(per_draw, whole, self.by_groups)


def replicates(per_replication: np.ndarray, groups: np.ndarray | None) -> Replicates:
    """Choose the draws of a run's counts.

    Parameters
    ----------
    per_replication : numpy.ndarray
        Counts per replication, shape ``(replications, ...)``.
    groups : numpy.ndarray or None
        With one replication, its counts per random group of visitors, shape ``(groups,
        ...)`` (:meth:`simulator.model.tally.Tally.group_totals`); measures not counted per
        group (zero in every group) are held at the whole run's value.

    Returns
    -------
    Replicates
        Replications when there are several (or no groups), else leave-one-group-out draws.
    """
    x = np.asarray(per_replication, dtype=float)
    if len(x) > 1 or groups is None:
        return Replicates(x, x.mean(axis=0), False)
    whole = x[0]
    g = len(groups)
    counted = np.asarray(groups).any(axis=tuple(range(groups.ndim - 1)))
    left_out = (whole - groups) * (g / (g - 1))
    left_out = np.where(counted, left_out, whole)
    return Replicates(left_out, whole, True)


def run_draws(result: RunResult, dimension: str | None = None) -> Replicates:
    """The draws of a run's counts that every interval is made from.

    Parameters
    ----------
    result : RunResult
        The run.
    dimension : str, optional
        Counts by this dimension's categories (:meth:`~simulator.model.tally.Tally.marginal`)
        rather than totals.

    Returns
    -------
    Replicates
        The replications, or with one replication its random groups of visitors.
    """
    tallies = result.tallies
    if dimension is None:
        per_rep = np.stack([t.totals() for t in tallies])
        groups = tallies[0].group_totals() if len(tallies) == 1 else None
    else:
        per_rep = np.stack([t.marginal(dimension) for t in tallies])
        groups = tallies[0].group_marginal(dimension) if len(tallies) == 1 else None
    return replicates(per_rep, groups)


def interval_method(draws: int, by_groups: bool) -> str:
    """Name of the interval method for this many draws (replications or groups)."""
    if by_groups:
        return BY_GROUPS.format(g=draws, df=draws - 1)
    if draws > 1:
        return BY_REPLICATIONS.format(n=draws)
    return NO_INTERVAL


def spread(
    per_draw: np.ndarray, whole: np.ndarray, by_groups: bool, level: float = LEVEL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate and interval from a figure's values on independent draws.

    Parameters
    ----------
    per_draw : numpy.ndarray
        The figure per draw, shape ``(draws, ...)``.
    whole : numpy.ndarray
        The figure on the whole run (used with groups).
    by_groups : bool
        Leave-one-group-out draws (jackknife: the estimate is ``whole`` and the variance
        ``(g - 1) / g * sum((x_i - mean)^2)``) rather than replications (Student t on the mean).
    level : float
        Confidence level.

    Returns
    -------
    tuple of numpy.ndarray
        Estimate, lower and upper bound. With groups, NaN where any draw is undefined.
    """
    if not by_groups:
        if len(per_draw) < 2:
            mean = nan_mean(per_draw)
            nan = np.full(np.shape(mean), np.nan)
            return mean, nan, nan.copy()
        return t_intervals(per_draw, level)
    x = np.asarray(per_draw, dtype=float)
    g = len(x)
    with np.errstate(invalid="ignore"):
        var = (g - 1) / g * ((x - x.mean(axis=0)) ** 2).sum(axis=0)
    half = t_quantile(0.5 + level / 2, g - 1) * np.sqrt(var)
    est = np.asarray(whole, dtype=float)
    return est, est - half, est + half


def nan_mean(x: np.ndarray) -> np.ndarray:
    """Mean over the first axis ignoring NaN, NaN (silently) where every value is NaN."""
    x = np.asarray(x, dtype=float)
    ok = ~np.isnan(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, x, 0.0).sum(axis=0) / ok.sum(axis=0)


def difference_test(per_draw: np.ndarray, whole: float, by_groups: bool) -> Difference:
    """Interval and two-sided t test of a difference observed on independent draws.

    Parameters
    ----------
    per_draw : numpy.ndarray
        The difference per draw (paired: both figures computed on the same draw).
    whole : float
        The difference on the whole run (used with groups).
    by_groups : bool
        Leave-one-group-out draws rather than replications.

    Returns
    -------
    Difference
        Paired t across replications, or the group jackknife t; no p-value when the difference
        never varies.
    """
    if not by_groups:
        return paired_difference(np.zeros(len(per_draw)), per_draw)
    x = np.asarray(per_draw, dtype=float)
    if np.isnan(x).any() or math.isnan(whole):
        return Difference(math.nan, (math.nan, math.nan), None, "undefined")
    est, lo, hi = (float(v) for v in spread(x, np.asarray(whole), True))
    g = len(x)
    se = (hi - est) / t_quantile(0.5 + LEVEL / 2, g - 1)
    if se == 0:
        return Difference(est, (est, est), None, "jackknife over groups")
    p = float(2 * t_upper_tail(abs(est) / se, g - 1))
    return Difference(est, (lo, hi), p, "jackknife over groups")


__all__ = [
    "BY_GROUPS",
    "BY_REPLICATIONS",
    "LEVEL",
    "NO_INTERVAL",
    "Z95",
    "Difference",
    "Replicates",
    "difference_test",
    "interval_method",
    "nan_mean",
    "paired_difference",
    "replicates",
    "run_draws",
    "spread",
    "t_interval",
    "t_intervals",
    "wilson",
]
