"""Who goes missing: composition, value and attribution bias of the events that arrive.

Loss alone does not say whether the data that *does* arrive still tells the truth. Here the
received events of each plan and event type are compared with the true ones:

- **Composition.** For a dimension (device, browser, country, channel, blocker kind, human or
  bot), the share of each category among received events against its share among true events.
  Received means what analytics shows: delivered events, plus the duplicates and bot events the
  collector kept, filed under the visitor's real attributes (bots under ``traffic = bot``). The
  total variation distance (TVD) sums the shift into one number between 0 and 1.
- **Missing completely at random?** A chi-square test of "loss is independent of this
  dimension" on the true events (delivered against lost, by category), pooled over
  replications. With several replications the statistic is divided by a design effect estimated
  from the spread of the overall loss between replications (a first-order Rao-Scott
  correction), because a visitor's events share a fate and plain Pearson would reject far too
  often; the corrected statistic is referred to F(k - 1, replications - 1). With one
  replication the plain Pearson test is used and named as such.
- **Value.** For events carrying revenue: total and mean value received against the truth.
Attribution of conversions to channels is in :mod:`simulator.stats.attribution`.

Intervals follow :mod:`simulator.stats.intervals`: Student t across replications, or the delta
method on the counts of a single replication.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from simulator.model.tally import M
from simulator.stats.intervals import Z95, Piece, delta_se, normal_interval, t_intervals

COMPOSITION_METHOD = {
    True: "shares per replication; Student t across replications (95%)",
    False: "delta method on Poisson counts of one replication, events independent (95%)",
}
CHI_SQUARE_METHOD = {
    True: "Pearson chi-square on delivered vs lost by category, pooled over replications, "
    "divided by the design effect of the overall loss between replications "
    "(first-order Rao-Scott), referred to F(k-1, replications-1)",
    False: "Pearson chi-square on delivered vs lost by category, one replication, "
    "events treated as independent (too liberal when a visitor's events share a fate)",
}


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


def composition(marginals: np.ndarray) -> Composition:
    """Shares, their shift, TVD and the MCAR test for one dimension.

    Parameters
    ----------
    marginals : numpy.ndarray
        Counts by category: shape ``(replications, plans, events, categories, measures)``
        (a stack of :meth:`simulator.model.tally.Tally.marginal`).

    Returns
    -------
    Composition
        Point estimates are means over replications.
    """
    truth = marginals[..., M["truth"]]
    rec = received(marginals)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_share = truth / truth.sum(axis=-1, keepdims=True)
        r_share = rec / rec.sum(axis=-1, keepdims=True)
    diff = r_share - t_share
    tvd = 0.5 * np.abs(diff).sum(axis=-1)
    tvd = np.where(np.isnan(diff).any(axis=-1), np.nan, tvd)
    reps = marginals.shape[0]
    if reps > 1:
        d_mean, d_lo, d_hi = t_intervals(diff)
        v_mean, v_lo, v_hi = t_intervals(tvd)
    else:
        d_mean, v_mean = diff[0], tvd[0]
        d_se, v_se = _delta_composition(marginals[0], t_share[0], r_share[0], diff[0])
        d_lo, d_hi = d_mean - Z95 * d_se, d_mean + Z95 * d_se
        v_lo, v_hi = v_mean - Z95 * v_se, v_mean + Z95 * v_se
    chi2, df, deff, p = mcar_test(marginals)
    return Composition(
        truth_share=nanmean(t_share),
        received_share=nanmean(r_share),
        diff=d_mean,
        diff_ci=(d_lo, d_hi),
        tvd=v_mean,
        tvd_ci=(np.maximum(v_lo, 0.0), v_hi),
        chi2=chi2,
        df=df,
        design_effect=deff,
        p_value=p,
    )


def nanmean(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN, NaN (silently) where every value is NaN."""
    ok = ~np.isnan(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, x, 0.0).sum(axis=axis) / ok.sum(axis=axis)


def _delta_composition(
    counts: np.ndarray, t: np.ndarray, r: np.ndarray, diff: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Delta-method standard errors of share differences and TVD in one replication.

    Pieces per category: delivered ``D``, lost ``L`` (truth = D + L) and extra copies ``X``
    (duplicates and bots; received = D + X), all independent Poisson.
    """
    d = counts[..., M["delivered"]]
    lost = counts[..., M["truth"]] - d
    x = counts[..., M["duplicates"]] + counts[..., M["bots"]]
    k = d.shape[-1]
    eye = np.eye(k)
    tot_r = (d + x).sum(axis=-1)[..., None, None]
    tot_t = (d + lost).sum(axis=-1)[..., None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        jr = (eye - r[..., :, None]) / tot_r  # [c, j]: d r_c / d(received_j)
        jt = (eye - t[..., :, None]) / tot_t  # [c, j]: d t_c / d(truth_j)
        j_d, j_l, j_x = jr - jt, -jt, jr
        var = j_d**2 * d[..., None, :] + j_l**2 * lost[..., None, :] + j_x**2 * x[..., None, :]
        d_se = np.sqrt(var.sum(axis=-1))
        sign = np.sign(diff)
        g = [0.5 * np.einsum("...c,...cj->...j", sign, j) for j in (j_d, j_l, j_x)]
        v_var = g[0] ** 2 * d + g[1] ** 2 * lost + g[2] ** 2 * x
        v_se = np.sqrt(v_var.sum(axis=-1))
    return d_se, v_se


def mcar_test(marginals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Test "loss is independent of this dimension" for every plan and event type.

    Parameters
    ----------
    marginals : numpy.ndarray
        Shape ``(replications, plans, events, categories, measures)``.

    Returns
    -------
    tuple of numpy.ndarray
        Pearson statistic, degrees of freedom (categories with true events, minus one), the
        design effect (NaN with one replication) and the p-value; each of shape
        ``(plans, events)``. The p-value is NaN where the test is undefined: fewer than two
        categories with true events, or nothing lost, or nothing delivered.
    """
    reps, n_plans, n_events = marginals.shape[:3]
    truth = marginals[..., M["truth"]]
    delivered = marginals[..., M["delivered"]]
    out = np.full((4, n_plans, n_events), np.nan)
    for p in range(n_plans):
        for e in range(n_events):
            t_rep, d_rep = truth[:, p, e], delivered[:, p, e]
            t, d = t_rep.sum(axis=0), d_rep.sum(axis=0)
            keep = t > 0
            lost = t - d
            if keep.sum() < 2 or lost.sum() <= 0 or d.sum() <= 0:
                continue
            table = np.stack([d[keep], lost[keep]])
            expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
            chi2 = float(((table - expected) ** 2 / expected).sum())
            df = int(keep.sum()) - 1
            out[0, p, e], out[1, p, e] = chi2, df
            if reps == 1:
                out[3, p, e] = stats.chi2.sf(chi2, df)
                continue
            deff = design_effect(t_rep.sum(axis=1), d_rep.sum(axis=1))
            out[2, p, e] = deff
            if deff > 0:
                out[3, p, e] = stats.f.sf(chi2 / df / deff, df, reps - 1)
    return out[0], out[1], out[2], out[3]


def design_effect(truth: np.ndarray, delivered: np.ndarray) -> float:
    """Between-replication variance of the loss rate over its binomial variance.

    Parameters
    ----------
    truth, delivered : numpy.ndarray
        Totals per replication.

    Returns
    -------
    float
        About 1 when events are lost independently, about the mean cluster size when whole
        visitors are lost; NaN when the loss never varies or is 0 or 1.
    """
    ok = truth > 0
    loss = 1 - delivered[ok] / truth[ok]
    if len(loss) < 2:
        return math.nan
    pooled = 1 - delivered[ok].sum() / truth[ok].sum()
    binomial = pooled * (1 - pooled) * float(np.mean(1 / truth[ok]))
    if binomial <= 0:
        return math.nan
    return float(np.var(loss, ddof=1)) / binomial


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
        if (np.nan_to_num(t[c]) > 0) or (np.nan_to_num(r[c]) > 0):
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


def value_bias(per_rep: np.ndarray) -> dict | None:
    """Total and mean value received against the truth, for one plan and event type.

    Parameters
    ----------
    per_rep : numpy.ndarray
        Totals per replication: shape ``(replications, measures)``.

    Returns
    -------
    dict or None
        ``mean_truth``, ``mean_received``, ``mean_relative_bias`` and ``total_relative_bias``
        with their ``_ci``; ``None`` when no value was true.
    """
    vt = per_rep[:, M["value_truth"]]
    if vt.sum() <= 0:
        return None
    n_t = per_rep[:, M["truth"]]
    v_r = per_rep[:, M["value_delivered"]] + per_rep[:, M["value_duplicates"]]
    n_r = received(per_rep)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_t, mean_r = vt / n_t, v_r / n_r
        rel_mean = mean_r / mean_t - 1
        rel_total = v_r / vt - 1
    if len(per_rep) > 1:
        m, lo, hi = t_intervals(np.stack([rel_mean, rel_total], axis=1))
        mean_ci, total_ci = (lo[0], hi[0]), (lo[1], hi[1])
        rel = m
    else:
        rel = np.array([rel_mean[0], rel_total[0]])
        pieces = _value_pieces(per_rep[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_ci = normal_interval(rel[0], delta_se(_mean_bias, pieces))
            total_ci = normal_interval(rel[1], delta_se(_total_bias, pieces))
    return {
        "mean_truth": as_number(nanmean(mean_t)),
        "mean_received": as_number(nanmean(np.where(np.isfinite(mean_r), mean_r, np.nan))),
        "mean_relative_bias": as_number(rel[0]),
        "mean_relative_bias_ci": as_interval(*mean_ci),
        "total_relative_bias": as_number(rel[1]),
        "total_relative_bias_ci": as_interval(*total_ci),
    }


def _value_pieces(c: np.ndarray) -> list[Piece]:
    """Delivered, lost, duplicated and bot events as marked Poisson pieces."""
    d, vd, qd = c[M["delivered"]], c[M["value_delivered"]], c[M["value_sq_delivered"]]
    dup, vdup = c[M["duplicates"]], c[M["value_duplicates"]]
    mean_sq = qd / d if d > 0 else 0.0
    return [
        Piece(d, vd, qd),
        Piece(c[M["truth"]] - d, c[M["value_truth"]] - vd, c[M["value_sq_truth"]] - qd),
        Piece(dup, vdup, dup * mean_sq),  # duplicates assumed to carry typical values
        Piece(c[M["bots"]]),
    ]


def _mean_bias(x: np.ndarray) -> float:
    n_d, v_d, n_l, v_l, n_dup, v_dup, n_bot, _ = x
    return ((v_d + v_dup) / (n_d + n_dup + n_bot)) / ((v_d + v_l) / (n_d + n_l)) - 1


def _total_bias(x: np.ndarray) -> float:
    _, v_d, _, v_l, _, v_dup, _, _ = x
    return (v_d + v_dup) / (v_d + v_l) - 1


__all__ = [
    "CHI_SQUARE_METHOD",
    "COMPOSITION_METHOD",
    "Composition",
    "as_interval",
    "as_number",
    "composition",
    "composition_record",
    "design_effect",
    "mcar_test",
    "nanmean",
    "received",
    "value_bias",
]
