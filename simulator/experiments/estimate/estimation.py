"""From received copies to loss estimates per event type and segment.

The copies of one real event share a key: pairing them by key (out of core, with DuckDB: see
:mod:`~simulator.experiments.estimate.tabulation`) gives, per event, whether the client and
the server copy arrived. Per stratum (event type x the ``--by`` columns) the events
seen by both paths, by the client only and by the server only make the two-source table of
:mod:`simulator.stats.capture_recapture`. Intervals come from resampling visitors.

Bot filtering: events whose user agent names a crawler (by a well-kept list, see
:mod:`~simulator.experiments.estimate.crawlers`) are dropped while pairing; visitors with a
server copy but no client copy of anything, ever, are counted apart (they are bots, or humans
whose browser sends nothing at all, such as full blockers), and the estimate is given both with
them (the main figures) and without them (the sensitivity to that filter), beside what their
mix of events says of how many of them are people.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.experiments.estimate.assumptions import assumption_checks, late_copies
from simulator.experiments.estimate.capture_covariates import logistic_totals, third_source_check
from simulator.experiments.estimate.checks import silences
from simulator.experiments.estimate.kpi_estimates import check_kpis, kpi_estimates
from simulator.experiments.estimate.resampling import (
    loss_interval,
    resampled_sums,
    served_units,
    spread,
)
from simulator.experiments.estimate.run_contract import loss_results, record_number
from simulator.experiments.estimate.segment_counts import FEATURES, SegmentCounts
from simulator.experiments.estimate.silent_visitors import silent_visitor_mix
from simulator.experiments.estimate.site_profile import site_profile
from simulator.experiments.estimate.tabulation import LATE_AFTER, Tables, tabulate
from simulator.experiments.estimate.weighting import SEGMENT_COLUMNS, corrected_composition
from simulator.stats.capture_recapture import (
    client_loss,
    two_source,
)

if TYPE_CHECKING:  # pydantic is loaded only when a KPI is parsed
    from simulator.config.kpi_spec import KPI

REPLICATES = 200
"""Bootstrap resamples of the visitors."""
GROUPS = 4096
"""Visitors are resampled in this many random groups when there are more of them: visitors are
independent, so groups of them are too, and a resample's sums vary as they would visitor by
visitor, at a cost that no longer grows with the number of visitors."""
STAGES = (
    "reading and pairing the copies",
    "bootstrap of the losses",
    "composition, capture model and site profile",
    "checks and bots",
)
"""The stages :func:`estimate` reports as it begins each (``on_stage``), in order."""


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
    # The groups' resamples (as the visitor bootstrap draws them), summed by one product.
    feature = ((rows % n_strata)[:, None] * 3 + np.arange(3)).ravel()
    group = np.repeat(rows // n_strata, 3)
    sums = resampled_sums(group, feature, 3 * n_strata, by_row.ravel(), replicates, seed)
    draws = sums[1:].reshape(replicates, n_strata, 3)
    event_of = combos[:, 0]
    est = two_source(*totals.T)
    strata_draws = client_loss(draws)
    event_loss, event_draws = client_loss(totals, event_of), client_loss(draws, event_of)
    # The visitor groups in which the server saw some of a stratum's (an event type's) events:
    # the independent units the client's loss is measured on.
    served = rows[by_row[:, 0] + by_row[:, 2] > 0]
    group, stratum = served // n_strata, served % n_strata
    units = served_units(group, stratum, n_strata)
    event_units = served_units(group, event_of[stratum], int(event_of.max(initial=-1)) + 1)
    return {
        "combos": combos,
        "totals": totals,
        "estimate": est,
        "loss_ci": loss_interval(est.client_loss, strata_draws, units),
        "event_loss": event_loss,
        "event_loss_ci": loss_interval(event_loss, event_draws, event_units),
        "event_loss_sd": spread(event_draws),
    }


def estimate(
    path: str | Path,
    by: tuple[str, ...] = (),
    columns: dict[str, str] | None = None,
    fmt: str | None = None,
    seed: int = 0,
    replicates: int = REPLICATES,
    late_after: float = LATE_AFTER,
    respect_choice: bool = False,
    kpis: list[KPI] | None = None,
    on_stage: Callable[[str], None] | None = None,
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
    kpis : list of KPI, optional
        KPIs to give raw and corrected (:mod:`~simulator.experiments.estimate.kpi_estimates`).
    on_stage : callable, optional
        Called with the name of each of :data:`STAGES` as it begins (a progress bar's hook:
        reading and pairing a long log takes most of the time).

    Returns
    -------
    dict
        The record: ``rows`` (one per stratum), ``events`` (one per event type), ``bots`` (what
        the filters found, and ``silent_mix``: the event mix of the visitors with server copies
        only, :mod:`~simulator.experiments.estimate.silent_visitors`), ``late`` (copies left out
        as late), ``checks`` (the assumption checks, raised or not), ``message_ids`` (with a
        ``message_id`` column), ``sensitivity`` (event losses without server-only visitors),
        ``composition`` (the client's composition, raw and corrected: see
        :mod:`~simulator.experiments.estimate.weighting`), ``site`` (segments and blocked
        shares: :mod:`~simulator.experiments.estimate.site_profile`) and ``covariate_model``
        (Horvitz-Thompson totals from logistic capture rates:
        :mod:`~simulator.experiments.estimate.capture_covariates`), and with a third path
        ``third_source`` (its test of dependence between the paths, same module); in a run
        record's form, ``results`` (loss per event type:
        :mod:`~simulator.experiments.estimate.run_contract`) and ``kpis``.

    Raises
    ------
    LogError
        When the log cannot be read as copies.
    KPIError
        When a KPI names an event type the log does not have.
    """
    stage = on_stage or (lambda name: None)
    stage(STAGES[0])
    tables = tabulate(path, by, columns, fmt, late_after, GROUPS, SEGMENT_COLUMNS)
    dims = tables.dims
    check_kpis(
        kpis or [],
        list(tables.segments.labels["event"].values()),
        "value" in tables.segments.events,
    )
    names = ("event", *by)
    combos, labels = _codes(tables.labels, names)
    stage(STAGES[1])
    main = estimate_groups(tables.group, tables.stratum, tables.cells, combos, seed, replicates)
    stage(STAGES[2])
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
        **corrections(tables.segments, by, dims, seed, replicates, kpis or []),
    }
    record["results"] = loss_results(
        record["rows"], record["events"], record["composition"]["rows"]
    )
    stage(STAGES[3])
    record["late"] = late_copies(tables.labels, tables.late, late_after)
    if tables.shared_ids is not None:
        record["message_ids"] = tables.shared_ids
    record["checks"] = assumption_checks(
        record["rows"], tables.shared_ids, tables.visitors, tables.server_only_visitors,
        respect_choice, tables.server_agents, by, tables.agreement,
    )  # fmt: skip
    mix = _silent_mix(tables, combos[:, 0], labels["event"], seed, replicates)
    if mix is not None:
        record["bots"]["silent_mix"] = mix
    kept = ~tables.server_only
    if tables.server_only_visitors and kept.any():
        alt = estimate_groups(
            tables.group[kept], tables.stratum[kept], tables.cells[kept], combos, seed, replicates
        )
        record["sensitivity"] = _event_rows(alt, labels)
    return record


def _silent_mix(
    tables: Tables, event_of: np.ndarray, names: dict[int, str], seed: int, replicates: int
) -> dict[str, Any] | None:
    """The event mix of visitors whose browser sent nothing (see ``silent_visitors``).

    ``event_of`` is each stratum's event type code and ``names`` the codes' labels (``_codes``).
    """
    if not tables.server_only_visitors or tables.segments is None:
        return None
    event = event_of[tables.stratum]
    profile = tables.segments.profile
    features = profile["features"]
    visitors = (profile["group"], features[:, FEATURES.index("server_visitors")],
                features[:, FEATURES.index("silent")])  # fmt: skip
    return silent_visitor_mix(
        event, tables.group, tables.server_only, tables.cells, visitors,
        [names[i] for i in range(len(names))], seed, replicates,
    )  # fmt: skip


def corrections(
    counts: SegmentCounts,
    by: tuple[str, ...],
    dims: tuple[str, ...],
    seed: int,
    replicates: int,
    kpis: list[KPI] = (),
) -> dict[str, Any]:
    """The figures that weight single events: composition, site profile, capture models, KPIs.

    They need each event's segment columns and paths, which DuckDB reduces to counts per
    visitor group and cell (:mod:`~simulator.experiments.estimate.segment_counts`): no row
    per event is held here.

    Parameters
    ----------
    counts : SegmentCounts
        The counts, from :func:`~simulator.experiments.estimate.tabulation.tabulate`.
    by : tuple of str
        The strata columns.
    dims : tuple of str
        The segment columns (``by`` first).
    seed, replicates : int
        As for :func:`estimate`.
    kpis : list of KPI
        KPIs to give raw and corrected.

    Returns
    -------
    dict
        ``composition``, ``site``, ``covariate_model`` and ``kpis``, and ``third_source`` when
        the log has a third path.
    """
    events, labels = counts.events, counts.labels
    out: dict[str, Any] = {}
    if events["third"].any():
        out["third_source"] = third_source_check(events, labels, GROUPS, seed, replicates)
    two = events["client"] | events["server"]  # the rest count what client or server saw
    events = {k: v[two] for k, v in events.items() if k != "third"}
    out["composition"] = corrected_composition(events, labels, by, dims, GROUPS, seed, replicates)
    out["site"] = site_profile(counts.profile, seed, replicates)
    out["covariate_model"] = logistic_totals(events, labels, dims, GROUPS, seed, replicates)
    out["kpis"] = kpi_estimates(list(kpis), events, labels, by, counts.profile, seed, replicates)
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
                "p_client": record_number(ts.p_client[i]),
                "p_server": record_number(ts.p_server[i]),
                "chapman": record_number(ts.chapman[i]),
                "chapman_sd": record_number(np.sqrt(ts.chapman_var[i])),
                "lincoln_petersen": record_number(ts.lincoln_petersen[i]),
                "client_loss": record_number(ts.client_loss[i]),
                "client_loss_ci": [record_number(lo[i]), record_number(hi[i])],
                "server_loss": record_number(ts.server_loss[i]),
                "estimable": bool(ts.n01[i] + ts.n11[i] > 0 and ts.n10[i] + ts.n11[i] > 0),
            }
        )
    return out


def _event_rows(est: dict[str, Any], labels: dict) -> list[dict[str, Any]]:
    lo, hi = est["event_loss_ci"]
    return [
        {
            "event": labels["event"][e],
            "client_loss": record_number(est["event_loss"][e]),
            "client_loss_ci": [record_number(lo[e]), record_number(hi[e])],
            "client_loss_sd": record_number(est["event_loss_sd"][e]),
        }
        for e in range(len(est["event_loss"]))
        if (est["combos"][:, 0] == e).any()
    ]


__all__ = ["REPLICATES", "STAGES", "corrections", "estimate", "estimate_groups"]
