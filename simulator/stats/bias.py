"""Who goes missing: composition, value and attribution bias of the events that arrive.

Loss alone does not say whether the data that *does* arrive still tells the truth. Here the
received events of each plan and event type are compared with the true ones:

- **Composition.** For a dimension (device, browser, country, channel, blocker kind, human or
  bot), the share of each category among received events against its share among true events.
  Received means what analytics shows: delivered events, plus the duplicates and bot events the
  collector kept, filed under the visitor's real attributes (bots under ``traffic = bot``). The
  total variation distance (TVD) sums the shift into one number between 0 and 1.
- **Bias-corrected TVD.** Even with no shift at all, sampling noise makes every share
  difference non-zero, and their absolute values add up: the plain TVD is biased upwards by
  about ``0.5 * sqrt(2 / pi) * sum(se_c)``. That expectation under "no shift", from the same
  variance model as the intervals, is subtracted (floored at 0). The interval runs from the
  corrected TVD less the half-width of the linearised TVD's interval (floored at 0, so that it
  contains 0 when nothing shifts) to the uncorrected TVD plus it (the correction is too large
  when the shift is large).
- **Missing completely at random?** A chi-square test of "loss is independent of this
  dimension" on the true events (delivered against lost, by category), pooled over
  replications, with a second-order Rao-Scott correction (§8 of docs/sources.md): the Pearson
  statistic is divided by the mean generalised design effect and its degrees of freedom shrunk by
  the spread of the design effects (Satterthwaite), both estimated from the covariance of the
  category loss rates between draws (replications, or random groups of visitors). A visitor's events
  share a fate, and how many events a visitor has differs by category (desktop visitors browse more
  deeply), so one design effect for every category is not enough. The statistic is referred to F(d,
  d * (draws - 1)).
- **Value.** For events carrying revenue: total and mean value received against the truth.
Attribution of conversions to channels is in :mod:`simulator.stats.attribution`.

Intervals follow :meth:`simulator.stats.intervals.Replicates.interval`: Student t across
replications, or the jackknife over random groups of visitors of a single replication.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.model.tally import M
from simulator.stats.intervals import LEVEL, Replicates, nan_mean, replicates, spread
from simulator.stats.tails import f_upper_tail, t_quantile

COMPOSITION_METHOD = (
    "share differences received - true; TVD corrected for its small-sample bias "
    "(its expectation with no shift subtracted) with an interval floored at 0; "
)
HALF_NORMAL = math.sqrt(2 / math.pi)
"""E|Z| for a standard normal Z: the mean absolute value of a share difference that is only
noise, per unit of its standard error."""


def chi_square_method(draws: Replicates) -> str:
    """Name of the independence test for these draws."""
    what = "random groups of visitors" if draws.by_groups else "replications"
    return (
        "Pearson chi-square on delivered vs lost by category, pooled over replications, with a "
        "second-order Rao-Scott correction (design effects per category from the covariance "
        f"of category loss rates between {what}), referred to F(d, d x {len(draws.samples) - 1})"
    )


def received(counts: np.ndarray) -> np.ndarray:
    """What analytics shows: delivered + duplicates + bots (last axis = measures)."""
    return counts[..., M["delivered"]] + counts[..., M["duplicates"]] + counts[..., M["bots"]]


def as_number(x: float) -> float | None:
    """A float for JSON: ``None`` for NaN (JSON has no NaN)."""
    x = float(x)
    return None if math.isnan(x) else x


def as_interval(lo: float, hi: float) -> list[float] | None:
    """``[lo, hi]`` for JSON, or ``None`` when either bound is NaN."""
    lo, hi = float(lo), float(hi)
    return None if math.isnan(lo) or math.isnan(hi) else [lo, hi]


@dataclass(frozen=True)
class Composition:
    """Composition shift of one dimension for every plan and event type.

    Arrays have shape ``(plans, events, categories)`` or ``(plans, events)``.
    """

    truth_share: np.ndarray
    received_share: np.ndarray
    diff: np.ndarray
    diff_ci: tuple[np.ndarray, np.ndarray]
    tvd: np.ndarray
    tvd_ci: tuple[np.ndarray, np.ndarray]
    chi2: np.ndarray
    df: np.ndarray
    design_effect: np.ndarray
    p_value: np.ndarray


def shares(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and received shares by category (last two axes: categories, measures)."""
    truth, rec = counts[..., M["truth"]], received(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return truth / truth.sum(axis=-1, keepdims=True), rec / rec.sum(axis=-1, keepdims=True)


def shift(counts: np.ndarray) -> np.ndarray:
    """Received minus true share of each category."""
    t_share, r_share = shares(counts)
    return r_share - t_share


def composition(marginals: Replicates | np.ndarray) -> Composition:
    """Shares, their shift, TVD and the MCAR test for one dimension.

    Parameters
    ----------
    marginals : Replicates or numpy.ndarray
        Counts by category, ``(draws, plans, events, categories, measures)``: the draws of
        :func:`simulator.stats.intervals.replicates`, or a plain stack of
        :meth:`simulator.model.tally.Tally.marginal` per replication.

    Returns
    -------
    Composition
        Point estimates of the mean replication (or the whole run).
    """
    draws = marginals if isinstance(marginals, Replicates) else replicates(marginals, None)
    t_share, r_share = shares(draws.whole)
    d_per, d_whole = draws.values(shift)
    d_mean, d_lo, d_hi = spread(d_per, d_whole, draws.by_groups)
    tvd, tvd_lo, tvd_hi = _tvd(d_per, d_mean, d_lo, d_hi, draws.by_groups)
    chi2, df, deff, p = mcar_test(draws)
    return Composition(
        truth_share=t_share,
        received_share=r_share,
        diff=d_mean,
        diff_ci=(d_lo, d_hi),
        tvd=tvd,
        tvd_ci=(tvd_lo, tvd_hi),
        chi2=chi2,
        df=df,
        design_effect=deff,
        p_value=p,
    )


def _tvd(
    d_per: np.ndarray, d: np.ndarray, d_lo: np.ndarray, d_hi: np.ndarray, by_groups: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bias-corrected TVD and its interval from the share differences and their draws.

    ``0.5 * sum|d_c|`` overstates the shift by ``0.5 * sqrt(2/pi) * sum(se_c)`` when there is
    none; that is subtracted. The interval's half-width is that of the linearised TVD
    ``0.5 * sum(sign(d_c) * d_c)`` over the same draws; it runs from the corrected TVD less
    that (floored at 0) to the uncorrected TVD plus that.
    """
    k = len(d_per)
    q = t_quantile(0.5 + LEVEL / 2, max(k - 1, 1))
    se = (d_hi - d) / q
    raw = 0.5 * np.abs(d).sum(axis=-1)
    # Without draws to measure the noise (se NaN), the TVD is left uncorrected.
    undefined = np.isnan(d).any(axis=-1)
    noise = 0.5 * HALF_NORMAL * np.nan_to_num(se).sum(axis=-1)
    tvd = np.maximum(raw - noise, 0.0)
    linear = 0.5 * (np.sign(d)[None] * d_per).sum(axis=-1)
    _, lo, hi = spread(linear, 0.5 * np.abs(d).sum(axis=-1), by_groups)
    half = (hi - lo) / 2
    # Subtracting the noise's expectation is exact with no shift and too much when the shift
    # is large (then |d_c| is nearly unbiased): the upper bound keeps the uncorrected TVD.
    tvd_lo, tvd_hi = np.maximum(tvd - half, 0.0), raw + half
    nan = np.where(undefined, np.nan, 0.0)
    return tvd + nan, tvd_lo + nan, tvd_hi + nan


def nanmean(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN, NaN (silently) where every value is NaN."""
    return nan_mean(np.moveaxis(np.asarray(x, dtype=float), axis, 0))


def mcar_test(
    marginals: Replicates | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Test "loss is independent of this dimension" for every plan and event type.

    Parameters
    ----------
    marginals : Replicates or numpy.ndarray
        Draws of counts by category, ``(draws, plans, events, categories, measures)`` (a
        plain array is taken as replications).

    Returns
    -------
    tuple of numpy.ndarray
        Pearson statistic of the pooled counts, its degrees of freedom (categories with true
        events, minus one), the mean generalised design effect and the p-value of the
        second-order Rao-Scott F test; each of shape ``(plans, events)``. The p-value is NaN
        where the test is undefined: fewer than two categories with true events, nothing
        lost or nothing delivered, or no draws to estimate the design effects from.
    """
    draws = marginals if isinstance(marginals, Replicates) else replicates(marginals, None)
    n_plans, n_events = draws.whole.shape[:2]
    out = np.full((4, n_plans, n_events), np.nan)
    for p in range(n_plans):
        for e in range(n_events):
            out[:, p, e] = rao_scott(draws[p, e])
    return out[0], out[1], out[2], out[3]


def rao_scott(draws: Replicates) -> tuple[float, float, float, float]:
    """Second-order Rao-Scott test of equal loss rates across categories.

    Parameters
    ----------
    draws : Replicates
        Counts of one plan and event type: ``(draws, categories, measures)``.

    Returns
    -------
    tuple of float
        Pearson statistic, its degrees of freedom, mean design effect and p-value (NaN where
        undefined).
    """
    nan = (math.nan, math.nan, math.nan, math.nan)
    n_draws = len(draws.samples)
    pooled_counts = draws.whole * (1 if draws.by_groups else n_draws)  # replications add up
    t, d = pooled_counts[:, M["truth"]], pooled_counts[:, M["delivered"]]
    keep = t > 0
    lost = t - d
    if keep.sum() < 2 or lost[keep].sum() <= 0 or d[keep].sum() <= 0:
        return nan
    table = np.stack([d[keep], lost[keep]])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    chi2 = float(((table - expected) ** 2 / expected).sum())
    k = int(keep.sum())
    df = k - 1
    if n_draws < 2:
        return chi2, df, math.nan, math.nan
    # Category loss rates per draw, and their covariance as an estimator's (of the mean of
    # replications, or jackknife over groups).
    st = draws.samples[:, keep, M["truth"]]
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = 1 - draws.samples[:, keep, M["delivered"]] / st
    if np.isnan(rates).any():
        return chi2, df, math.nan, math.nan
    dev = rates - rates.mean(axis=0)
    if draws.by_groups:
        cov = dev.T @ dev * (n_draws - 1) / n_draws
    else:
        cov = dev.T @ dev / (n_draws - 1) / n_draws
    pooled = lost[keep].sum() / t[keep].sum()
    naive = np.diag(pooled * (1 - pooled) / t[keep])  # covariance if events were independent
    contrast = np.hstack([np.eye(k - 1), -np.ones((k - 1, 1))])
    design = np.linalg.solve(contrast @ naive @ contrast.T, contrast @ cov @ contrast.T)
    mean_deff = float(np.trace(design)) / df
    if mean_deff <= 0:
        return chi2, df, math.nan, math.nan
    spread_sq = float(np.trace(design @ design)) / (df * mean_deff**2) - 1  # a^2
    d1 = df / (1 + spread_sq)
    f = chi2 / (mean_deff * (1 + spread_sq)) / d1
    p = float(f_upper_tail(f, d1, d1 * (n_draws - 1)))
    return chi2, df, mean_deff, p


def composition_record(
    comp: Composition, categories: tuple[str, ...], plan: int, event: int
) -> dict | None:
    """JSON record of one dimension for one plan and event type.

    Returns
    -------
    dict or None
        ``tvd``, ``tvd_ci``, ``p_value``, ``chi2``, ``df``, ``design_effect`` and ``shares``
        (category -> ``truth``, ``received``, ``diff``, ``diff_ci``) for categories present in
        the truth or the received data; ``None`` when the event never happened.
    """
    t = comp.truth_share[plan, event]
    if np.isnan(t).all():
        return None
    r = comp.received_share[plan, event]
    shares = {}
    for c, name in enumerate(categories):
        if t[c] > 0 or r[c] > 0:  # NaN (no events) compares false
            shares[name] = {
                "truth": as_number(t[c]),
                "received": as_number(r[c]),
                "diff": as_number(comp.diff[plan, event, c]),
                "diff_ci": as_interval(
                    comp.diff_ci[0][plan, event, c], comp.diff_ci[1][plan, event, c]
                ),
            }
    p = comp.p_value[plan, event]
    return {
        "tvd": as_number(comp.tvd[plan, event]),
        "tvd_ci": as_interval(comp.tvd_ci[0][plan, event], comp.tvd_ci[1][plan, event]),
        "p_value": as_number(p),
        "chi2": as_number(comp.chi2[plan, event]),
        "df": None if np.isnan(comp.df[plan, event]) else int(comp.df[plan, event]),
        "design_effect": as_number(comp.design_effect[plan, event]),
        "shares": shares,
    }


def _relative_value_bias(counts: np.ndarray) -> np.ndarray:
    """Relative bias of the mean and of the total value received: ``(..., 2)``."""
    vt = counts[..., M["value_truth"]]
    v_r = counts[..., M["value_delivered"]] + counts[..., M["value_duplicates"]]
    with np.errstate(invalid="ignore", divide="ignore"):
        rel_mean = (v_r / received(counts)) / (vt / counts[..., M["truth"]]) - 1
        rel_total = v_r / vt - 1
    return np.stack([rel_mean, rel_total], axis=-1)


def value_bias(draws: Replicates | np.ndarray) -> dict | None:
    """Total and mean value received against the truth, for one plan and event type.

    Parameters
    ----------
    draws : Replicates or numpy.ndarray
        Draws of the totals, ``(draws, measures)`` (a plain array is taken as replications).

    Returns
    -------
    dict or None
        ``mean_truth``, ``mean_received``, ``mean_relative_bias`` and ``total_relative_bias``
        with their ``_ci``; ``None`` when no value was true.
    """
    draws = draws if isinstance(draws, Replicates) else replicates(draws, None)
    c = draws.whole
    vt = c[M["value_truth"]]
    if vt <= 0:
        return None
    rel, lo, hi = draws.interval(_relative_value_bias)
    n_r = received(c)
    v_r = c[M["value_delivered"]] + c[M["value_duplicates"]]
    return {
        "mean_truth": as_number(vt / c[M["truth"]]),
        "mean_received": as_number(v_r / n_r if n_r > 0 else math.nan),
        "mean_relative_bias": as_number(rel[0]),
        "mean_relative_bias_ci": as_interval(lo[0], hi[0]),
        "total_relative_bias": as_number(rel[1]),
        "total_relative_bias_ci": as_interval(lo[1], hi[1]),
    }


__all__ = [
    "COMPOSITION_METHOD",
    "Composition",
    "as_interval",
    "as_number",
    "chi_square_method",
    "composition",
    "composition_record",
    "mcar_test",
    "nanmean",
    "rao_scott",
    "received",
    "shares",
    "shift",
    "value_bias",
]
