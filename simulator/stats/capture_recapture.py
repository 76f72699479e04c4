"""Two-source capture-recapture: how many true events two lossy paths saw between them.

Each event a site tracks on two paths (client and server) falls in one of four cells: seen by
both (``n11``), by the client only (``n10``), by the server only (``n01``), or by neither (not
observed). If within a stratum the two paths miss events independently, the client's capture
rate is estimated from the server's events and the other way round,

    p_c = n11 / (n11 + n01),   p_s = n11 / (n11 + n10),

and the number of true events by Lincoln-Petersen, ``N = n1 n2 / m``, or by Chapman's nearly
unbiased form ``N = (n1 + 1)(n2 + 1) / (m + 1) - 1`` with Seber's variance
``(n1 + 1)(n2 + 1)(n1 - m)(n2 - m) / ((m + 1)^2 (m + 2))``, where ``n1 = n11 + n10`` (client),
``n2 = n11 + n01`` (server) and ``m = n11`` (Chapman 1951 and Seber 1982, listed in §8 of
``docs/sources.md``).

A blocked visitor loses all their client copies at once, so events are not independent draws:
:func:`visitor_bootstrap` resamples visitors, not events, for the intervals.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054


@dataclass(frozen=True)
class TwoSource:
    """Two-source estimates per stratum (arrays of equal shape).

    Attributes
    ----------
    n11, n10, n01 : numpy.ndarray
        Events seen by both paths, the client only, the server only.
    p_client, p_server : numpy.ndarray
        Estimated capture rates (NaN where undefined).
    chapman, chapman_var : numpy.ndarray
        Chapman's estimate of the true count and Seber's variance of it.
    lincoln_petersen : numpy.ndarray
        The Lincoln-Petersen estimate (infinite when no event was seen by both).
    """

    n11: np.ndarray
    n10: np.ndarray
    n01: np.ndarray
    p_client: np.ndarray
    p_server: np.ndarray
    chapman: np.ndarray
    chapman_var: np.ndarray
    lincoln_petersen: np.ndarray

    @property
    def client_loss(self) -> np.ndarray:
        """Share of true events the client path missed: ``1 - n1 / N`` (Chapman's N)."""
        n = np.where((self.chapman > 0) & (self.n11 + self.n01 > 0), self.chapman, np.nan)
        return 1.0 - (self.n11 + self.n10) / n

    @property
    def server_loss(self) -> np.ndarray:
        """Share of true events the server path missed: ``1 - n2 / N``."""
        n = np.where((self.chapman > 0) & (self.n11 + self.n10 > 0), self.chapman, np.nan)
        return 1.0 - (self.n11 + self.n01) / n

    @property
    def chapman_ci(self) -> tuple[np.ndarray, np.ndarray]:
        """Normal 95% interval of the true count from Seber's variance (events independent)."""
        half = Z95 * np.sqrt(self.chapman_var)
        return self.chapman - half, self.chapman + half


def two_source(n11: np.ndarray, n10: np.ndarray, n01: np.ndarray) -> TwoSource:
    """Estimate capture rates and true counts from the three observed cells.

    Parameters
    ----------
    n11, n10, n01 : array_like
        Counts per stratum of events seen by both paths, the client only, the server only.

    Returns
    -------
    TwoSource
        The estimates, stratum by stratum.
    """
    n11, n10, n01 = (np.asarray(x, dtype=float) for x in (n11, n10, n01))
    n1, n2 = n11 + n10, n11 + n01
    with np.errstate(divide="ignore", invalid="ignore"):
        p_c = np.where(n2 > 0, n11 / n2, np.nan)
        p_s = np.where(n1 > 0, n11 / n1, np.nan)
        lp = np.where(n11 > 0, n1 * n2 / n11, np.inf)
    chapman = (n1 + 1.0) * (n2 + 1.0) / (n11 + 1.0) - 1.0
    var = (n1 + 1.0) * (n2 + 1.0) * n10 * n01 / ((n11 + 1.0) ** 2 * (n11 + 2.0))
    return TwoSource(n11, n10, n01, p_c, p_s, chapman, var, lp)


def visitor_bootstrap(
    stratum: np.ndarray,
    visitor: np.ndarray,
    cells: np.ndarray,
    n_strata: int,
    replicates: int = 200,
    seed: int = 0,
) -> np.ndarray:
    """The three cells per stratum in bootstrap resamples of the visitors.

    Parameters
    ----------
    stratum : numpy.ndarray
        Stratum index of each row (one row per visitor and stratum).
    visitor : numpy.ndarray
        Visitor index of each row, in ``0 .. V - 1``.
    cells : numpy.ndarray
        Shape (rows, 3): the row's ``n11``, ``n10`` and ``n01``.
    n_strata : int
        Number of strata.
    replicates : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling (results are reproducible).

    Returns
    -------
    numpy.ndarray
        Shape (replicates, n_strata, 3): ``n11``, ``n10``, ``n01`` of each resample.
    """
    rng = np.random.default_rng(seed)
    n_visitors = int(visitor.max()) + 1 if visitor.size else 0
    # Rows sorted by stratum: each resample's sums are sums over runs of rows (exact, as the
    # weights and counts are whole numbers), with no sparse-matrix library to load.
    order = np.argsort(stratum, kind="stable")
    stratum, visitor = stratum[order], visitor[order]
    cells = np.asarray(cells, float)[order]
    present, starts = np.unique(stratum, return_index=True)
    out = np.zeros((replicates, n_strata, 3))
    step = max(1, min(replicates, 2**24 // max(1, n_visitors)))  # bounds the weights' memory
    per_rows = max(1, 2**22 // max(1, visitor.size))  # and the weighted rows' memory
    for b in range(0, replicates, step):
        k = min(step, replicates - b)
        draws = rng.integers(0, n_visitors, (k, n_visitors)) + (np.arange(k) * n_visitors)[:, None]
        weights = np.bincount(draws.ravel(), minlength=k * n_visitors).reshape(k, n_visitors)
        for c in range(0, k, per_rows):
            w = weights[c : c + per_rows, visitor].astype(float)
            for j in range(3):
                if starts.size:
                    sums = np.add.reduceat(w * cells[:, j], starts, axis=1)
                    out[b + c : b + c + w.shape[0], present, j] = sums
    return out


def client_loss(cells: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Client loss ``1 - n1 / N`` from cells (..., strata, 3), summed within ``groups``.

    With ``groups`` (a group index per stratum), the true count of a group is the sum of its
    strata's Chapman estimates (a stratified estimate), and so is the client's count.
    """
    est = two_source(cells[..., 0], cells[..., 1], cells[..., 2])
    # Strata the server never saw cannot be estimated: left out of their group's sums.
    seen = cells[..., 0] + cells[..., 2] > 0
    n1, n = np.where(seen, cells[..., 0] + cells[..., 1], 0.0), np.where(seen, est.chapman, 0.0)
    if groups is not None:
        k = int(groups.max()) + 1
        onehot = np.eye(k)[groups]
        n1, n = n1 @ onehot, n @ onehot
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, 1.0 - n1 / n, np.nan)


def logit_interval(
    estimate: np.ndarray, sd: np.ndarray, fallback: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """95% interval of a share from its bootstrap standard error, on the logit scale.

    ``logit(p) +- 1.96 sd / (p (1 - p))`` mapped back: unlike the percentile interval it keeps
    its coverage when the counts are small and the share is near 0 (where the resamples are
    skewed). Where the estimate is 0 or 1 (no logit) the ``fallback`` interval is kept.
    """
    p = np.asarray(estimate, float)
    with np.errstate(all="ignore"):
        inside = (p > 0) & (p < 1) & np.isfinite(sd)
        centre = np.log(p / (1 - p))
        half = Z95 * sd / (p * (1 - p))
        lo = np.where(inside, 1 / (1 + np.exp(-(centre - half))), fallback[0])
        hi = np.where(inside, 1 / (1 + np.exp(-(centre + half))), fallback[1])
    return lo, hi


def none_seen_bound(units: np.ndarray, level: float = 0.95) -> np.ndarray:
    """The largest share that ``units`` independent units all escaping is consistent with.

    A share estimated at exactly 0 (a client that missed none of the server's events in a
    stratum) has bootstrap resamples at 0 too, and an interval of [0, 0] that claims a
    certainty the data do not give. If each of ``units`` independent units (visitor groups)
    shows the event with probability at least ``p``, all of them escape it with probability at
    most ``(1 - p) ** units``; the exact binomial (Clopper-Pearson 1934) upper bound is the
    ``p`` at which that equals ``(1 - level) / 2``.

    Parameters
    ----------
    units : numpy.ndarray
        Independent units observed (positive; NaN where none).
    level : float
        Two-sided confidence level.

    Returns
    -------
    numpy.ndarray
        ``1 - ((1 - level) / 2) ** (1 / units)``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - ((1.0 - level) / 2.0) ** (1.0 / np.asarray(units, float))


def percentile_interval(draws: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap draws along axis 0 (NaN draws ignored)."""
    a = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN strata give NaN, as wanted
        lo = np.nanquantile(draws, a, axis=0)
        hi = np.nanquantile(draws, 1.0 - a, axis=0)
    return lo, hi


__all__ = [
    "Z95",
    "TwoSource",
    "client_loss",
    "logit_interval",
    "none_seen_bound",
    "percentile_interval",
    "two_source",
    "visitor_bootstrap",
]
