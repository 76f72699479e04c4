"""Model-based estimates from a site's copies: logistic capture rates, and a third source.

:func:`logistic_totals` fits the client's and the server's capture rates with covariates
(event type, and the device, browser, country and channel columns the log has, as main effects)
and gives each event type's Horvitz-Thompson total and client loss
(:func:`simulator.stats.capture_models.horvitz_thompson`). Where strata are small, a model with
main effects pools them, where the stratified estimate has little to go on.

:func:`third_source_check` uses a third path (a no-JavaScript pixel, a CDN log) to test whether
the paths miss independently: the Poisson log-linear models of
:func:`simulator.stats.capture_models.three_source`, fitted per event type.

Intervals come from the same bootstrap over visitors as the rest of the estimate, every model
refitted in each resample (a blocked visitor's events are not independent, so the models' own
standard errors would be too narrow). A true count's interval is of the events this log's
visitors made (see :mod:`simulator.stats.capture_models`), and never below the events the paths
saw.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulator.experiments.estimate.resampling import (
    central_spread,
    event_counts,
    groups_of,
    loss_interval,
    resampled_sums,
    served_units,
    spread,
)
from simulator.experiments.estimate.run_contract import record_number
from simulator.stats.capture_models import (
    HISTORIES,
    PAIR_NAMES,
    PAIRS,
    horvitz_thompson,
    horvitz_thompson_error,
    loglinear_fit,
    three_source,
    unseen_interval,
)
from simulator.stats.capture_recapture import Z95

LEVEL_P = 0.05
"""A pair of paths is flagged as dependent when its interaction's test has a p-value below."""


def chi2_sf_one(x: float) -> float:
    """Upper tail of the chi-square distribution with one degree of freedom at ``x``.

    A chi-square with one degree of freedom is a squared standard normal, so its tail at ``x``
    is ``erfc(sqrt(x / 2))`` (the deviance tests here need no more than that).

    Parameters
    ----------
    x : float
        The statistic (0 or more).

    Returns
    -------
    float
        The p-value.
    """
    return math.erfc(math.sqrt(max(float(x), 0.0) / 2.0))


def _design(events: dict[str, np.ndarray], covariates: tuple[str, ...]):
    """Cell of each event and the design matrix of the cells (event intercepts + main effects)."""
    names = ("event", *covariates)
    combined = np.zeros(events["event"].size, np.int64)
    for n in names:
        combined = combined * (int(events[n].max(initial=0)) + 1) + events[n]
    _, first, cell = np.unique(combined, return_index=True, return_inverse=True)
    codes = {n: events[n][first] for n in names}
    n_events = int(events["event"].max(initial=0)) + 1
    cols = [np.eye(n_events)[codes["event"]]]
    for n in covariates:
        levels = np.unique(codes[n])
        cols += [(codes[n] == lv).astype(float)[:, None] for lv in levels[1:]]
    return cell.ravel(), np.hstack(cols), codes["event"], n_events


def _interval(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normal 95% interval from the bootstrap rows 1: around row 0, and the standard error."""
    sd = spread(x[1:])
    return x[0] - Z95 * sd, x[0] + Z95 * sd, sd


def _count_interval(
    seen: np.ndarray,
    unseen: np.ndarray,
    rates: np.ndarray,
    totals: np.ndarray,
    chance: np.ndarray,
    measured: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """95% interval of a true count ``seen + unseen`` (the data's), and its standard error.

    The error has the two parts of :func:`~simulator.stats.capture_models.horvitz_thompson_error`:
    the spread of ``rates`` (the data's seen events under each resample's rates) and
    ``chance``. Where no rate of being seen was ``measured`` (a model that counts none unseen,
    or rates fitted at 1 because one path missed nothing the other saw) the spread of the
    resamples' ``totals`` stands in, with no chance part. Spreads are of the central 95% of the
    resamples (:func:`~simulator.experiments.estimate.resampling.central_spread`): a rare
    type's resample in which the paths share no event drives its fitted rates to 0 and its
    total to the hundreds of millions.

    The ends are :func:`~simulator.stats.capture_models.unseen_interval`'s: the normal interval
    moved up by the skew of the unseen events' count, never below the events the paths saw, and
    leaving a few unseen events possible however few were estimated. In simulated sites, the
    plain normal interval covered only 90% of the counts with fewer than five unseen events, and
    an upper end taken from Wilson's rule at every count covered 97.5% to 98% of the others.
    """
    fitted = np.where(measured, central_spread(rates), central_spread(totals)) ** 2
    chance = np.where(measured, chance, 0.0)
    lo, hi = unseen_interval(seen, unseen, fitted, chance)
    return lo, hi, np.sqrt(fitted + chance)


def _total(seen: np.ndarray, unseen: np.ndarray) -> dict[str, Any]:
    """A model's true count with its interval; none where the model leaves it unbounded.

    ``seen`` and ``unseen`` hold the events the paths saw and the model's count of those no path
    saw, in the data (row 0) and each resample. The error against the events this log's visitors
    made has the two parts of :func:`~simulator.stats.capture_models.horvitz_thompson_error`,
    with one rate of being seen, ``seen / total``, for all: the data's seen events under each
    resample's rate, and ``total * unseen / seen`` for which events happened to be seen
    (:func:`_count_interval`; where the model counts none unseen there is no rate to measure an
    error by). A resample whose count is unbounded (NaN) leaves the interval unknown too: its
    spread over the other resamples would understate the uncertainty.
    """
    total = seen + unseen
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(seen[1:] > 0, seen[0] * total[1:] / seen[1:], np.nan)
        chance = total[0] * unseen[0] / seen[0]
    lo, hi, sd = _count_interval(seen[0], unseen[0], rates, total[1:], chance, unseen[0] > 0)
    if np.isnan(unseen).any():
        lo = hi = sd = np.nan
    return {
        "total": record_number(total[0]),
        "total_ci": [record_number(lo), record_number(hi)],
        "total_sd": record_number(sd),
    }


def logistic_totals(
    events: dict[str, np.ndarray],
    labels: dict[str, dict[int, str]],
    covariates: tuple[str, ...],
    groups: int,
    seed: int = 0,
    replicates: int = 200,
) -> dict[str, Any]:
    """Per event type, the Horvitz-Thompson total and client loss from logistic capture rates.

    Parameters
    ----------
    events : dict
        One entry per real event, or per group of like events with their ``count``:
        ``client``, ``server``, ``group`` (or ``visitor``) and codes of ``event`` and of each
        covariate.
    labels : dict
        Column -> code -> category name.
    covariates : tuple of str
        The covariate columns (categorical, as main effects).
    groups : int
        Visitors are resampled in this many random groups.
    seed : int
        Seed of the bootstrap.
    replicates : int
        Bootstrap resamples.

    Returns
    -------
    dict
        ``method``, ``covariates`` and ``events``: per event type ``horvitz_thompson`` with
        ``horvitz_thompson_ci`` and ``horvitz_thompson_sd``, and ``client_loss`` with
        ``client_loss_ci``, all None unless ``estimable`` (each path saw some of its events).
    """
    cell, design, event_of_cell, n_events = _design(events, covariates)
    client, server = events["client"], events["server"]
    kind = np.where(client & server, 0, np.where(client, 1, 2))
    group = groups_of(events, groups)
    n_cells = design.shape[0]
    count = event_counts(events)
    f = resampled_sums(group, cell * 3 + kind, n_cells * 3, count, replicates, seed)
    cells = f.reshape(-1, n_cells, 3)
    total, p_c, p_s = horvitz_thompson(design, cells, event_of_cell, n_events)
    onehot = np.eye(n_events)[event_of_cell]
    n1 = (cells[..., 0] + cells[..., 1]) @ onehot
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.where(total > 0, 1.0 - n1 / total, np.nan)
    n11, n10, n01 = cells[0].T @ onehot  # per event type, in the data
    # The count's error is against the events this log's visitors made: see capture_models.
    seen = cells[0].sum(axis=1)
    rates, chance = horvitz_thompson_error(seen, p_c, p_s, event_of_cell, n_events)
    # An event type where one path missed nothing the other saw (no n10, or no n01) has a rate
    # fitted at 1 and no measure of its error; the upper end still leaves room for the events
    # neither path saw.
    observed = n11 + n10 + n01
    t_lo, t_hi, t_sd = _count_interval(
        observed, total[0] - observed, rates, total[1:], chance, (n10 > 0) & (n01 > 0)
    )
    # The client's loss as the stratified table gives it: on the logit scale, and exact at 0
    # or 1 over the visitor groups in which the server saw the event type. Where the client
    # missed none of the server's events its rate is fitted at 1 up to the fit's tolerance: 0.
    loss[0] = np.where(n01 == 0, 0.0, loss[0])
    units = served_units(group[server], events["event"][server], n_events)
    l_lo, l_hi = loss_interval(loss[0], loss[1:], units)
    present = np.bincount(event_of_cell, minlength=n_events) > 0
    # A path that saw none of an event type's events leaves the other's rate for it unmeasured
    # (its events, fitted with no data, would get a rate from the ridge alone): not estimable,
    # as in the stratified table.
    estimable = (n11 + n01 > 0) & (n11 + n10 > 0)
    shown = [np.where(estimable, x, np.nan) for x in (total[0], t_lo, t_hi, t_sd, loss[0])]
    shown += [np.where(estimable, np.maximum(l_lo, 0.0), np.nan),
              np.where(estimable, np.minimum(l_hi, 1.0), np.nan)]  # fmt: skip
    n, lo, hi, sd, p, p_lo, p_hi = shown
    rows = [
        {
            "event": labels["event"][e],
            "estimable": bool(estimable[e]),
            "horvitz_thompson": record_number(n[e]),
            "horvitz_thompson_ci": [record_number(lo[e]), record_number(hi[e])],
            "horvitz_thompson_sd": record_number(sd[e]),
            "client_loss": record_number(p[e]),
            "client_loss_ci": [record_number(p_lo[e]), record_number(p_hi[e])],
        }
        for e in range(n_events)
        if present[e]
    ]
    return {
        "method": "logistic capture rates (event type"
        + "".join(f" + {c}" for c in covariates)
        + "), Horvitz-Thompson total",
        "covariates": list(covariates),
        "events": rows,
    }


def third_source_check(
    events: dict[str, np.ndarray],
    labels: dict[str, dict[int, str]],
    groups: int,
    seed: int = 0,
    replicates: int = 200,
) -> dict[str, Any]:
    """Per event type, the log-linear test of dependence between client, server and a third path.

    Parameters
    ----------
    events : dict
        One entry per real event, or per group of like events with their ``count``:
        ``client``, ``server``, ``third`` (bool), ``group`` (or ``visitor``) and ``event``
        codes.
    labels : dict
        Column -> code -> category name.
    groups : int
        Visitors are resampled in this many random groups.
    seed : int
        Seed of the bootstrap.
    replicates : int
        Bootstrap resamples.

    Returns
    -------
    dict
        ``events``: per event type ``total_independent`` (true count if the three paths are
        independent, with ``_ci`` and ``_sd``), and per pair (``client-server``,
        ``client-third``, ``server-third``) its ``log_odds_ratio`` with ``log_odds_ratio_ci``,
        the deviance test's ``p_value`` and ``total`` (true count allowing that pair to
        depend, with ``total_ci`` and ``total_sd``) against independence; ``dependent``
        lists the pairs a forward selection keeps (each added while its deviance test's
        p-value is below :data:`LEVEL_P`), and ``selected`` gives the true count under that
        model (``total``, ``total_ci``, ``total_sd``; the resamples refit the same model).
    """
    caps = np.stack([events["client"], events["server"], events["third"]], axis=1).astype(int)
    history = np.full(caps.shape[0], -1)
    for i, h in enumerate(HISTORIES):
        history[(caps == h).all(axis=1)] = i
    seen = history >= 0
    event = events["event"][seen]
    n_events = int(events["event"].max(initial=0)) + 1
    group = groups_of(events, groups)[seen]
    count = event_counts(events)[seen]
    f = resampled_sums(group, event * 7 + history[seen], n_events * 7, count, replicates, seed)
    counts = f.reshape(-1, n_events, 7)
    rows = []
    for e in range(n_events):
        if counts[0, e].sum() == 0:
            continue
        fits = three_source(counts[:, e])
        base = fits["independent"]
        seen = counts[:, e].sum(axis=1)
        independent = _total(seen, base["unseen"])
        row = {
            "event": labels["event"][e],
            "observed": int(seen[0]),
            **{k.replace("total", "total_independent"): v for k, v in independent.items()},
            "pairs": {},
        }
        for pair in ("client-server", "client-third", "server-third"):
            fit = fits[pair]
            lo, hi, _ = _interval(fit["log_odds_ratio"])
            drop = max(float(base["deviance"][0] - fit["deviance"][0]), 0.0)
            row["pairs"][pair] = {
                "log_odds_ratio": record_number(fit["log_odds_ratio"][0]),
                "log_odds_ratio_ci": [record_number(lo), record_number(hi)],
                "p_value": record_number(chi2_sf_one(drop)),
                **_total(seen, fit["unseen"]),
            }
        chosen = _forward(counts[:, e])
        row["dependent"] = [PAIR_NAMES[p] for p in chosen]
        row["selected"] = _total(seen, loglinear_fit(counts[:, e], chosen)["unseen"])
        rows.append(row)
    return {"method": "Poisson log-linear models of the seven capture histories", "events": rows}


def _forward(counts: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Pairs of paths that depend, added one at a time while the deviance test rejects.

    From the independence model, the pair whose interaction lowers the deviance most (of the
    data, row 0) is added if its chi-square test (1 degree of freedom) has a p-value below
    :data:`LEVEL_P`; then the next, given those already in.
    """
    chosen: tuple[tuple[int, int], ...] = ()
    deviance = float(loglinear_fit(counts[:1], chosen)["deviance"][0])
    while len(chosen) < len(PAIRS):
        trials = {
            p: float(loglinear_fit(counts[:1], (*chosen, p))["deviance"][0])
            for p in PAIRS
            if p not in chosen
        }
        best = min(trials, key=trials.get)
        if chi2_sf_one(max(deviance - trials[best], 0.0)) >= LEVEL_P:
            break
        chosen, deviance = (*chosen, best), trials[best]
    return chosen


__all__ = ["LEVEL_P", "chi2_sf_one", "logistic_totals", "third_source_check"]
