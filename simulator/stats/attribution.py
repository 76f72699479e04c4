"""Attribution bias: which acquisition channel gets the credit for conversions.

Analytics credits a conversion to a channel only when the delivered event carried browser
context (UTM parameters, referrer). Client-path deliveries carry it; server-path deliveries do
not, unless the plan forwards it (hybrid). So the share of conversions credited to each channel
from received data can differ from the truth in two ways: visitors lost unevenly across
channels, and conversions left unattributed for lack of context (bots included).

Intervals follow :meth:`simulator.stats.intervals.Replicates.interval`: Student t across
replications, or the jackknife over random groups of visitors of one replication.
"""

from __future__ import annotations

import numpy as np

from simulator.stats.bias import M, as_interval, as_number
from simulator.stats.intervals import Replicates, replicates

ATTRIBUTION_METHOD = (
    "conversions credited to the channel of deliveries that carried browser context "
    "(duplicates credited like their deliveries); the rest, bots included, is unattributed"
)


def attribution(channels: Replicates | np.ndarray, names: tuple[str, ...]) -> dict | None:
    """Share of conversions credited to each channel, received against truth.

    Parameters
    ----------
    channels : Replicates or numpy.ndarray
        Draws of the counts by channel for one plan and event type: ``(draws, channels,
        measures)`` (a plain array is taken as replications).
    names : tuple of str
        Channel names.

    Returns
    -------
    dict or None
        ``channels`` (name -> ``truth``, ``received``, ``diff``, ``diff_ci``), ``unattributed``
        and ``unattributed_ci`` (share of received conversions credited to no channel);
        ``None`` when no conversion happened.
    """
    draws = channels if isinstance(channels, Replicates) else replicates(channels, None)
    if draws.whole[..., M["truth"]].sum() <= 0:
        return None
    k = len(names)
    t_share, r_share = _attribution_shares(draws.whole)
    # Last column: unattributed (its truth share is 0).
    d, lo, hi = draws.interval(
        lambda c: np.stack([np.subtract(*_attribution_shares(x)[::-1]) for x in c])
    )
    out = {}
    for c, name in enumerate(names):
        if t_share[c] > 0 or r_share[c] > 0:  # NaN (no events) compares false
            out[name] = {
                "truth": as_number(t_share[c]),
                "received": as_number(r_share[c]),
                "diff": as_number(d[c]),
                "diff_ci": as_interval(lo[c], hi[c]),
            }
    return {
        "channels": out,
        "unattributed": as_number(d[k]),
        "unattributed_ci": as_interval(lo[k], hi[k]),
    }


def _credit_shift(counts: np.ndarray) -> np.ndarray:
    """Received minus true share credited to each channel, per draw.

    The last column is the unattributed share (its truth share is 0).
    """
    return np.stack([r - t for t, r in map(_attribution_shares, counts)])


def _attribution_counts(c: np.ndarray) -> np.ndarray:
    """Per channel: context-carrying deliveries, other deliveries, duplicates, bots, lost."""
    d = c[:, M["delivered"]]
    ctx = c[:, M["delivered_context"]]
    return np.stack(
        [ctx, d - ctx, c[:, M["duplicates"]], c[:, M["bots"]], c[:, M["truth"]] - d], axis=1
    )


def _shares_from_counts(parts: np.ndarray) -> np.ndarray:
    """Rows: truth shares, received shares; last column: unattributed (truth 0)."""
    ctx, plain, dup, bots, lost = parts.T
    with np.errstate(invalid="ignore", divide="ignore"):
        credited = ctx + np.where(ctx + plain > 0, dup * ctx / (ctx + plain), 0.0)
        total_r = (ctx + plain + dup + bots).sum()
        truth = ctx + plain + lost
        t_share = np.append(truth / truth.sum(), 0.0)
        r_share = np.append(credited / total_r, 1 - credited.sum() / total_r)
    return np.stack([t_share, r_share])


def _attribution_shares(c: np.ndarray) -> np.ndarray:
    return _shares_from_counts(_attribution_counts(c))


__all__ = ["ATTRIBUTION_METHOD", "attribution"]
