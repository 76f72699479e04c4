"""Attribution bias: which acquisition channel gets the credit for conversions.

Analytics credits a conversion to a channel only when the delivered event carried browser
context (UTM parameters, referrer). Client-path deliveries carry it; server-path deliveries do
not, unless the plan forwards it (hybrid). So the share of conversions credited to each channel
from received data can differ from the truth in two ways: visitors lost unevenly across
channels, and conversions left unattributed for lack of context (bots included).

Intervals follow :mod:`simulator.stats.intervals`: Student t across replications, or the delta
method on Poisson counts of one replication.
"""

from __future__ import annotations

import numpy as np

from simulator.stats.bias import M, as_interval, as_number, nanmean
from simulator.stats.intervals import Z95, Piece, delta_se, t_intervals

ATTRIBUTION_METHOD = (
    "conversions credited to the channel of deliveries that carried browser context "
    "(duplicates credited like their deliveries); the rest, bots included, is unattributed"
)


def attribution(channels: np.ndarray, names: tuple[str, ...]) -> dict | None:
    """Share of conversions credited to each channel, received against truth.

    Parameters
    ----------
    channels : numpy.ndarray
        Counts by channel for one plan and event type: shape
        ``(replications, channels, measures)``.
    names : tuple of str
        Channel names.

    Returns
    -------
    dict or None
        ``channels`` (name -> ``truth``, ``received``, ``diff``, ``diff_ci``), ``unattributed``
        and ``unattributed_ci`` (share of received conversions credited to no channel);
        ``None`` when no conversion happened.
    """
    if channels[..., M["truth"]].sum() <= 0:
        return None
    shares = np.stack([_attribution_shares(rep) for rep in channels])  # (reps, 2, k + 1)
    diff = shares[:, 1] - shares[:, 0]  # last column: unattributed (its truth share is 0)
    k = len(names)
    mean_t, mean_r = nanmean(shares[:, 0]), nanmean(shares[:, 1])
    if len(channels) > 1:
        d, lo, hi = t_intervals(diff)
    else:
        d = diff[0]
        pieces = _attribution_pieces(channels[0])
        se = np.array(
            [delta_se(lambda x, c=c: _diff_from_flat(x, k, c), pieces) for c in range(k + 1)]
        )
        lo, hi = d - Z95 * se, d + Z95 * se
    out = {}
    for c, name in enumerate(names):
        if mean_t[c] > 0 or np.nan_to_num(mean_r[c]) > 0:
            out[name] = {
                "truth": as_number(mean_t[c]),
                "received": as_number(mean_r[c]),
                "diff": as_number(d[c]),
                "diff_ci": as_interval(lo[c], hi[c]),
            }
    return {
        "channels": out,
        "unattributed": as_number(d[k]),
        "unattributed_ci": as_interval(lo[k], hi[k]),
    }


def _attribution_counts(c: np.ndarray) -> np.ndarray:
    """Per channel: context-carrying deliveries, other deliveries, duplicates, bots, lost."""
    d = c[:, M["delivered"]]
    ctx = c[:, M["delivered_context"]]
    return np.stack(
        [ctx, d - ctx, c[:, M["duplicates"]], c[:, M["bots"]], c[:, M["truth"]] - d], axis=1
    )


def _attribution_pieces(c: np.ndarray) -> list[Piece]:
    return [Piece(float(n)) for n in _attribution_counts(c).ravel()]


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


def _shares_from_flat(x: np.ndarray, k: int) -> np.ndarray:
    # delta_se passes [n0, value0, n1, value1, ...]; values are zero here.
    return _shares_from_counts(x[::2].reshape(k, 5))


def _diff_from_flat(x: np.ndarray, k: int, c: int) -> float:
    s = _shares_from_flat(x, k)
    return float(s[1, c] - s[0, c])


__all__ = ["ATTRIBUTION_METHOD", "attribution"]
