"""From received copies to loss estimates per event type and segment.

The copies of one real event share a key: pairing them by key gives, per event, whether the
client and the server copy arrived. Per stratum (event type x the ``--by`` columns) the events
seen by both paths, by the client only and by the server only make the two-source table of
:mod:`simulator.stats.capture_recapture`. Intervals come from resampling visitors.

Bot filtering: rows whose user agent names a crawler are dropped while reading; visitors with a
server copy but no client copy of anything, ever, are counted apart (they are bots, or humans
whose browser sends nothing at all, such as full blockers), and the estimate is given both with
them (the main figures) and without them (the sensitivity to that filter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simulator.experiments.estimate.assumptions import assumption_checks, late_copies
from simulator.experiments.estimate.capture_covariates import logistic_totals, third_source_check
from simulator.experiments.estimate.checks import silences
from simulator.experiments.estimate.reading import Copies, scan
from simulator.experiments.estimate.resampling import visitor_groups
from simulator.experiments.estimate.site_profile import site_profile
from simulator.experiments.estimate.tabulation import LATE_AFTER, tabulate
from simulator.experiments.estimate.weighting import composition_columns, corrected_composition
from simulator.stats.capture_recapture import (
    client_loss,
    logit_interval,
    percentile_interval,
    two_source,
    visitor_bootstrap,
)

REPLICATES = 200
"""Bootstrap resamples of the visitors."""
GROUPS = 4096
"""Visitors are resampled in this many random groups when there are more of them: visitors are
independent, so groups of them are too, and a resample's sums vary as they would visitor by
visitor, at a cost that no longer grows with the number of visitors."""


def pair_events(copies: Copies, by: tuple[str, ...]) -> dict[str, np.ndarray]:
    """One entry per real event: which paths it arrived on, its visitor and its stratum codes.

    Parameters
    ----------
    copies : Copies
        What :func:`~simulator.experiments.estimate.reading.scan` read.
    by : tuple of str
        The segment columns.

    Returns
    -------
    dict
        ``client``, ``server`` (bool), ``visitor`` (int64 hash) and one code array per column
        (``event`` and ``by``).
    """
    # One array per column, the batches' pieces freed as they are joined (memory).
    copies.key, copies.server = [np.concatenate(copies.key)], [np.concatenate(copies.server)]
    copies.visitor, copies.time = [np.concatenate(copies.visitor)], [np.concatenate(copies.time)]
    for name in copies.codes:
        copies.codes[name] = [np.concatenate(copies.codes[name])]
    key, server = copies.key[0], copies.server[0]
    # An event's segment comes from its first copy in this order: client copies (the browser
    # knows its device) before server ones, then the smallest codes, whatever the file order.
    order = np.lexsort((*(copies.codes[n][0] for n in reversed(by)), server, key))
    key = key[order]
    first = np.ones(key.size, bool)
    first[1:] = key[1:] != key[:-1]
    start = np.flatnonzero(first)
    event_of_row = np.cumsum(first) - 1
    srv = server[order]
    third = np.concatenate(copies.third)[order] if copies.third else np.zeros(srv.size, bool)
    has_server = np.bincount(event_of_row, weights=srv, minlength=start.size) > 0
    has_client = np.bincount(event_of_row, weights=~srv & ~third, minlength=start.size) > 0
    out = {
        "client": has_client,
        "server": has_server,
        "visitor": np.concatenate(copies.visitor)[order][start],
    }
    if third.any():
        out["third"] = np.bincount(event_of_row, weights=third, minlength=start.size) > 0
    if copies.value:  # an event's value: the largest its copies carry (one may lack it)
        out["value"] = np.maximum.reduceat(np.concatenate(copies.value)[order], start)
    for name in ("event", *by):
        out[name] = np.concatenate(copies.codes[name])[order][start]
    return out


def estimate_groups(
    group: np.ndarray,
    stratum: np.ndarray,
    cells: np.ndarray,
    combos: np.ndarray,
    seed: int,
    replicates: int,
) -> dict[str, Any]:
    """The estimates and bootstrap per stratum from cells per visitor group and stratum.

    Parameters
    ----------
    group, stratum : numpy.ndarray
        Visitor group (round robin over the visitors sorted by id) and stratum of each entry.
    cells : numpy.ndarray
        Shape (entries, 3): ``n11``, ``n10``, ``n01`` of each entry (entries may repeat).
    combos : numpy.ndarray
        Shape (strata, columns): each stratum's codes, the event type's first; strata
        without entries are left out.
    seed, replicates : int
        The bootstrap's seed and resamples.

    Returns
    -------
    dict
        ``combos``, ``totals``, ``estimate``, ``loss_ci`` (per stratum), ``event_loss``,
        ``event_loss_ci`` and ``event_loss_sd`` (per event type).
    """
    present, stratum = np.unique(stratum, return_inverse=True)
    combos, n_strata = combos[present], present.size
    row = group.astype(np.int64) * n_strata + stratum
    rows, inv = np.unique(row, return_inverse=True)
    by_row = np.zeros((rows.size, 3))
    np.add.at(by_row, inv, cells)
    totals = np.zeros((n_strata, 3))
    np.add.at(totals, stratum, cells)
    draws = visitor_bootstrap(rows % n_strata, rows // n_strata, by_row, n_strata, replicates, seed)
    event_of = combos[:, 0]
    est = two_source(*totals.T)
    strata_draws = client_loss(draws)
    event_loss, event_draws = client_loss(totals, event_of), client_loss(draws, event_of)
    return {
        "combos": combos,
        "totals": totals,
        "estimate": est,
        "loss_ci": _interval(est.client_loss, strata_draws),
        "event_loss": event_loss,
        "event_loss_ci": _interval(event_loss, event_draws),
        "event_loss_sd": _sd(event_draws),
    }


def _interval(loss: np.ndarray, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logit-scale interval from the bootstrap's standard error (percentile at 0 or 1)."""
    return logit_interval(loss, _sd(draws), percentile_interval(draws))


def estimate(
    path: str | Path,
    by: tuple[str, ...] = (),
    columns: dict[str, str] | None = None,
    fmt: str | None = None,
    seed: int = 0,
    replicates: int = REPLICATES,
    late_after: float = LATE_AFTER,
    respect_choice: bool = False,
) -> dict[str, Any]:
    """Estimate a site's loss per event type and segment from its log of received copies.

    Parameters
    ----------
    path : str or Path
        The log (CSV, Parquet or JSON Lines; a file or a folder).
    by : tuple of str
        Segment columns (e.g. ``("device", "browser")``).
    columns : dict, optional
        Our column name -> the file's column name.
    fmt : str, optional
        The file format when the suffix does not say it.
    seed : int
        Seed of the bootstrap (the same seed gives the same intervals).
    replicates : int
        Bootstrap resamples of the visitors.
    late_after : float
        Seconds after an event's first copy beyond which a copy is late: left out of the
        two-source table and counted apart.
    respect_choice : bool
        Whether the site withholds visitors who opted out (they are then not estimable).

    Returns
    -------
    dict
        The record: ``rows`` (one per stratum), ``events`` (one per event type), ``bots``
        (what the filters found), ``late`` (copies left out as late), ``checks`` (the
        assumption checks, raised or not), ``message_ids`` (with a ``message_id`` column),
        ``sensitivity`` (event losses without server-only visitors), ``composition`` (the
        client's composition, raw and corrected: see
        :mod:`~simulator.experiments.estimate.weighting`), ``site`` (segments and blocked
        shares: :mod:`~simulator.experiments.estimate.site_profile`) and
        ``covariate_model`` (Horvitz-Thompson totals from logistic capture rates:
        :mod:`~simulator.experiments.estimate.capture_covariates`), and with a third path
        ``third_source`` (its test of dependence between the paths, same module).
    """
    tables = tabulate(path, by, columns, fmt, late_after, GROUPS)
    names = ("event", *by)
    combos, labels = _codes(tables.labels, names)
    main = estimate_groups(tables.group, tables.stratum, tables.cells, combos, seed, replicates)
    record = {
        "source": str(path),
        "by": list(by),
        "copies": tables.rows,
        "true_events_method": "Chapman (Lincoln-Petersen beside it)",
        "interval_method": f"bootstrap over visitors ({replicates} resamples, seed {seed}), "
        "normal on the logit scale",
        "bots": {
            "crawler_rows": tables.crawler_rows,
            "server_only_visitors": tables.server_only_visitors,
            "server_only_events": tables.server_only_events,
        },
        "visitors": tables.visitors,
        "collector_gaps": silences(tables.minutes, tables.start, tables.arrivals),
        "rows": _rows(main, names, labels),
        "events": _event_rows(main, labels),
        **corrections(path, by, columns, fmt, seed, replicates),
    }
    record["late"] = late_copies(tables.labels, tables.late, late_after)
    if tables.shared_ids is not None:
        record["message_ids"] = tables.shared_ids
    record["checks"] = assumption_checks(
        record["rows"], tables.shared_ids, tables.visitors, tables.server_only_visitors,
        respect_choice,
    )  # fmt: skip
    kept = ~tables.server_only
    if tables.server_only_visitors and kept.any():
        alt = estimate_groups(
            tables.group[kept], tables.stratum[kept], tables.cells[kept], combos, seed, replicates
        )
        record["sensitivity"] = _event_rows(alt, labels)
    return record


def corrections(
    path: str | Path,
    by: tuple[str, ...],
    columns: dict[str, str] | None,
    fmt: str | None,
    seed: int,
    replicates: int,
) -> dict[str, Any]:
    """The figures that weight single events: composition, site profile, capture models.

    They need each event's segment columns and paths, so the log's copies are paired in
    memory here (one row per event; the two-source table above never holds rows).

    Parameters
    ----------
    path, by, columns, fmt, seed, replicates
        As for :func:`estimate`.

    Returns
    -------
    dict
        ``composition``, ``site`` and ``covariate_model``, and ``third_source`` when the log
        has a third path.
    """
    dims = (*by, *(c for c in composition_columns(path, columns, fmt) if c not in by))
    copies = scan(path, dims, columns, fmt)
    events = pair_events(copies, dims)
    labels = {}
    for name in ("event", *dims):  # codes in the labels' sorted order, as in the table above
        value_of = {code: value for value, code in copies.labels[name].items()}
        order = sorted(value_of, key=lambda code: str(value_of[code]))
        recode = np.zeros(max(order, default=-1) + 1, np.int64)
        recode[order] = np.arange(len(order))
        events[name] = recode[events[name]]
        labels[name] = {i: value_of[code] for i, code in enumerate(order)}
    events["group"] = visitor_groups(events["visitor"], GROUPS)  # shared by the models
    out: dict[str, Any] = {}
    if "third" in events:
        out["third_source"] = third_source_check(events, labels, GROUPS, seed, replicates)
        two = events["client"] | events["server"]  # the rest count what client or server saw
        events = {k: v[two] for k, v in events.items() if k != "third"}
    out["composition"] = corrected_composition(events, labels, by, dims, GROUPS, seed, replicates)
    out["site"] = site_profile(events, labels, GROUPS, seed, replicates)
    out["covariate_model"] = logistic_totals(events, labels, dims, GROUPS, seed, replicates)
    return out


def _codes(
    strata: list[tuple[str, ...]], names: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, dict[int, str]]]:
    """Integer codes of each stratum's labels (in sorted order), and the labels of each code."""
    columns = list(zip(*strata, strict=True)) if strata else [() for _ in names]
    labels, codes = {}, []
    for name, values in zip(names, columns, strict=True):
        distinct = sorted(set(values))
        labels[name] = dict(enumerate(distinct))
        position = {v: i for i, v in enumerate(distinct)}
        codes.append([position[v] for v in values])
    return np.array(codes, np.int64).T.reshape(len(strata), len(names)), labels


def _rows(est: dict[str, Any], names: tuple[str, ...], labels: dict) -> list[dict[str, Any]]:
    ts = est["estimate"]
    lo, hi = est["loss_ci"]
    out = []
    for i, combo in enumerate(est["combos"]):
        seg = {n: labels[n][int(c)] for n, c in zip(names, combo, strict=True)}
        out.append(
            {
                **seg,
                "n11": int(ts.n11[i]),
                "n10": int(ts.n10[i]),
                "n01": int(ts.n01[i]),
                "p_client": _num(ts.p_client[i]),
                "p_server": _num(ts.p_server[i]),
                "chapman": _num(ts.chapman[i]),
                "chapman_sd": _num(np.sqrt(ts.chapman_var[i])),
                "lincoln_petersen": _num(ts.lincoln_petersen[i]),
                "client_loss": _num(ts.client_loss[i]),
                "client_loss_ci": [_num(lo[i]), _num(hi[i])],
                "server_loss": _num(ts.server_loss[i]),
                "estimable": bool(ts.n01[i] + ts.n11[i] > 0 and ts.n10[i] + ts.n11[i] > 0),
            }
        )
    return out


def _event_rows(est: dict[str, Any], labels: dict) -> list[dict[str, Any]]:
    lo, hi = est["event_loss_ci"]
    return [
        {
            "event": labels["event"][e],
            "client_loss": _num(est["event_loss"][e]),
            "client_loss_ci": [_num(lo[e]), _num(hi[e])],
            "client_loss_sd": _num(est["event_loss_sd"][e]),
        }
        for e in range(len(est["event_loss"]))
        if (est["combos"][:, 0] == e).any()
    ]


def _sd(draws: np.ndarray) -> np.ndarray:
    """Standard deviation of bootstrap draws along axis 0 (NaN draws ignored)."""
    finite = np.isfinite(draws)
    n = finite.sum(axis=0)
    mean = np.where(finite, draws, 0.0).sum(axis=0) / np.maximum(n, 1)
    sq = np.where(finite, (draws - mean) ** 2, 0.0).sum(axis=0)
    return np.where(n > 1, np.sqrt(sq / np.maximum(n - 1, 1)), np.nan)


def _num(x: float) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


__all__ = ["REPLICATES", "corrections", "estimate", "estimate_groups", "pair_events"]
