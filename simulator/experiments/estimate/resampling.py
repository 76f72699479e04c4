"""Bootstrap resamples of the visitors: their sums, and the errors and intervals they give.

A blocked visitor loses all their client copies at once, so the unit of resampling is the
visitor, never the event. Visitors fall round robin into a fixed number of groups (their ids
sorted, so the same log gives the same groups); groups of independent visitors are independent,
and resampling groups costs the same however many visitors there are. Each resample draws as
many groups as there are, with replacement, and adds up their counts: one sparse product for all
resamples. From the resamples' figures come standard errors (:func:`spread`, and
:func:`central_spread` where a resample's fit may degenerate) and a loss rate's interval
(:func:`loss_interval`).
"""

from __future__ import annotations

import warnings

import numpy as np

from simulator.stats.capture_recapture import (
    Z95,
    logit_interval,
    none_seen_bound,
    percentile_interval,
)

GROUPS = 4096
"""Visitors are resampled in at most this many groups."""
DENSE_CELLS = 1 << 24
"""Sums per feature and group are kept in a dense table up to this many cells (128 MiB)."""


def visitor_groups(visitor: np.ndarray, groups: int = GROUPS) -> np.ndarray:
    """The resampling group of each row's visitor, in ``0 .. groups - 1``.

    Where the estimate has already computed them (an ``events["group"]`` array), the models
    use those instead of recomputing.

    Parameters
    ----------
    visitor : numpy.ndarray
        The visitor of every row (any integer ids).
    groups : int
        How many groups at most.

    Returns
    -------
    numpy.ndarray
        The group of each row (rows of one visitor share it).
    """
    _, index = np.unique(visitor, return_inverse=True)
    return index.ravel() % groups


def groups_of(events: dict[str, np.ndarray], groups: int = GROUPS) -> np.ndarray:
    """``events["group"]`` when present, else :func:`visitor_groups` of ``events["visitor"]``.

    Parameters
    ----------
    events : dict
        One entry per event, with ``visitor`` (and optionally ``group``).
    groups : int
        How many groups at most.

    Returns
    -------
    numpy.ndarray
        The resampling group of each event.
    """
    if "group" in events:
        return events["group"]
    return visitor_groups(events["visitor"], groups)


def event_counts(events: dict[str, np.ndarray]) -> np.ndarray:
    """How many events each entry stands for: ``events["count"]``, else one each.

    Parameters
    ----------
    events : dict
        Entries with ``client`` (and optionally ``count``).

    Returns
    -------
    numpy.ndarray
        The count of each entry (float).
    """
    if "count" in events:
        return np.asarray(events["count"], float)
    return np.ones(events["client"].size)


def resampled_sums(
    group: np.ndarray,
    feature: np.ndarray,
    n_features: int,
    values: np.ndarray | None = None,
    replicates: int = 200,
    seed: int = 0,
) -> np.ndarray:
    """Feature sums of the data (first row) and of ``replicates`` resamples of the groups.

    Parameters
    ----------
    group : numpy.ndarray
        The resampling group of each contribution (see :func:`visitor_groups`).
    feature : numpy.ndarray
        The feature each contribution adds to, in ``0 .. n_features - 1``.
    n_features : int
        How many features.
    values : numpy.ndarray, optional
        What each contribution adds (1 when omitted).
    replicates : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling (the same seed gives the same resamples).

    Returns
    -------
    numpy.ndarray
        Shape (replicates + 1, n_features): the data's sums, then each resample's.
    """
    n_groups = int(group.max(initial=-1)) + 1
    if n_features * n_groups <= DENSE_CELLS:  # one pass of bincount, no sparse matrix
        flat = feature.astype(np.int64) * n_groups + group
        by_group = np.bincount(flat, values, n_features * n_groups).reshape(n_features, n_groups)
    else:
        from scipy import sparse

        values = np.ones(feature.size) if values is None else np.asarray(values, float)
        by_group = sparse.csr_matrix((values, (feature, group)), shape=(n_features, n_groups))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_groups, (replicates, n_groups))
    weights = np.stack([np.bincount(d, minlength=n_groups) for d in draws]).astype(float)
    weights = np.vstack([np.ones(n_groups), weights.reshape(replicates, n_groups)])
    return np.asarray((by_group @ weights.T).T)


def spread(draws: np.ndarray) -> np.ndarray:
    """Standard deviation of bootstrap draws along axis 0, NaN draws ignored (no warnings).

    Parameters
    ----------
    draws : numpy.ndarray
        One row per resample.

    Returns
    -------
    numpy.ndarray
        The standard deviation (ddof 1); NaN where fewer than two draws are finite.
    """
    finite = np.isfinite(draws)
    n = finite.sum(axis=0)
    mean = np.where(finite, draws, 0.0).sum(axis=0) / np.maximum(n, 1)
    sq = np.where(finite, (draws - mean) ** 2, 0.0).sum(axis=0)
    return np.where(n > 1, np.sqrt(sq / np.maximum(n - 1, 1)), np.nan)


def central_spread(draws: np.ndarray) -> np.ndarray:
    """Standard error from the central 95% of bootstrap draws along axis 0 (NaN draws ignored).

    The width of the range from the 2.5th to the 97.5th percentile over ``2 * 1.96``: the
    standard deviation where the draws are normal, but not thrown by the few resamples whose
    fit degenerates (a rare event type's resample in which the paths share no event has its
    capture rates driven to 0 and its total to hundreds of millions). :func:`spread` would
    take that one resample for the error of all.

    Parameters
    ----------
    draws : numpy.ndarray
        One row per resample.

    Returns
    -------
    numpy.ndarray
        The standard error; NaN where no draw is finite.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, as wanted
        # Quantiles at the plotting positions that make them unbiased for normal draws (the
        # default, linear rule makes this range 2% short of the deviation for 200 draws).
        lo, hi = np.nanquantile(draws, [0.025, 0.975], axis=0, method="normal_unbiased")
    return (hi - lo) / (2.0 * Z95)


def served_units(group: np.ndarray, key: np.ndarray, n_keys: int) -> np.ndarray:
    """How many distinct visitor groups each key (stratum, event type) has entries in.

    Called with the entries in which the server saw events, these are the independent units a
    client loss is measured on (:func:`loss_interval`).

    Parameters
    ----------
    group, key : numpy.ndarray
        The visitor group and the key of each entry.
    n_keys : int
        Keys run over ``0 .. n_keys - 1``.

    Returns
    -------
    numpy.ndarray
        Shape (n_keys,): the distinct groups per key.
    """
    pairs = np.unique(np.asarray(group, np.int64) * n_keys + key)
    return np.bincount(pairs % n_keys, minlength=n_keys)


def loss_interval(
    loss: np.ndarray, draws: np.ndarray, units: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """95% interval of a loss rate from its resamples: logit scale, exact at a loss of 0 or 1.

    The interval is :func:`~simulator.stats.capture_recapture.logit_interval` of the
    resamples' standard error. A loss of exactly 0 (or 1) has every resample there too: its far
    end is the exact binomial bound
    (:func:`~simulator.stats.capture_recapture.none_seen_bound`) over the ``units``, the visitor
    groups in which the server saw events, the independent units the loss is measured on.

    Parameters
    ----------
    loss : numpy.ndarray
        The loss rates of the data.
    draws : numpy.ndarray
        The same in each resample (one row per resample).
    units : numpy.ndarray, optional
        Visitor groups in which the server saw events, per loss rate (:func:`served_units`);
        without them a loss of 0 or 1 keeps the resamples' percentile interval.

    Returns
    -------
    tuple of numpy.ndarray
        The interval's ends.
    """
    lo, hi = percentile_interval(draws)
    if units is not None:
        far = np.where(units > 0, none_seen_bound(np.maximum(units, 1)), np.nan)
        hi = np.where(loss == 0, np.fmax(hi, far), hi)
        lo = np.where(loss == 1, np.fmin(lo, 1 - far), lo)
    return logit_interval(loss, spread(draws), (lo, hi))


__all__ = [
    "DENSE_CELLS",
    "GROUPS",
    "central_spread",
    "event_counts",
    "groups_of",
    "loss_interval",
    "resampled_sums",
    "served_units",
    "spread",
    "visitor_groups",
]
