"""Turn a run's tallies into the result record: loss and bias per plan and event type.

Counts are means per replication. Loss is the share of true events that never arrived. Every
interval comes from :meth:`simulator.stats.intervals.Replicates.interval`: Student t across
replications when there are several, else the delete-a-group jackknife over the random groups
of visitors of the one replication (cluster-robust: a blocked visitor loses all their events
at once). The method is named in the output.

Beyond loss, every row carries the composition bias of the received events per dimension
(:mod:`simulator.stats.bias`), rows with a value carry value bias, and conversion rows carry
attribution; the record adds KPIs (:mod:`simulator.stats.kpis`), paired plan comparisons
(:mod:`simulator.stats.comparison`) and the name of every method used (``methods``).
"""

from __future__ import annotations

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.tally import CAUSES, DIMENSIONS, GROUPS, M
from simulator.replications.result import RunResult
from simulator.stats import attribution, bias, comparison, intervals, kpis
from simulator.stats.intervals import Replicates, run_draws
from simulator.version import __version__

BIAS_DIMENSIONS = DIMENSIONS
"""Dimensions whose composition bias every row reports."""


def lost_share(counts: np.ndarray) -> np.ndarray:
    """Share of true events not delivered (last axis: measures); NaN when nothing was true."""
    truth = counts[..., M["truth"]]
    return 1 - counts[..., M["delivered"]] / np.where(truth > 0, truth, np.nan)


def lost_value_share(counts: np.ndarray) -> np.ndarray:
    """Share of true value not delivered (last axis: measures)."""
    vt = counts[..., M["value_truth"]]
    return 1 - counts[..., M["value_delivered"]] / np.where(vt > 0, vt, np.nan)


def _clipped(lo: float, hi: float) -> list[float] | None:
    """A share's interval clipped to [0, 1] for JSON (``None`` when undefined)."""
    if np.isnan(lo) or np.isnan(hi):
        return None
    return [max(0.0, float(lo)), min(1.0, float(hi))]


def _row(plan: str, event: str, path: str, draws: Replicates) -> dict:
    """Summarise one plan x event: ``draws`` holds counts of shape (draws, measures)."""
    mean = draws.whole
    truth = mean[M["truth"]]
    received = mean[M["delivered"]] + mean[M["duplicates"]] + mean[M["bots"]]
    row = {
        "plan": plan,
        "event": event,
        "path": path,
        "truth": float(truth),
        "received": float(received),
        "delivered": float(mean[M["delivered"]]),
        "delivered_with_context": float(mean[M["delivered_context"]]),
        "duplicates": float(mean[M["duplicates"]]),
        "bots": float(mean[M["bots"]]),
        "pending": float(mean[M["pending"]]),
        "anonymous": float(mean[M["anonymous"]]),
        "loss": None,
        "loss_ci": None,
        "net_error": None,
        "causes": {},
        "value": None,
    }
    if truth <= 0:
        return row
    loss, lo, hi = draws.interval(lost_share)
    row["loss"] = float(loss)
    row["loss_ci"] = _clipped(lo, hi)
    row["net_error"] = float(received / truth - 1)
    row["causes"] = {
        c: float(mean[M[f"lost_{c}"]] / truth) for c in CAUSES if mean[M[f"lost_{c}"]] > 0
    }
    if mean[M["pending"]] > 0:
        row["causes"]["pending"] = float(mean[M["pending"]] / truth)
    if mean[M["value_truth"]] > 0:
        vloss, vlo, vhi = draws.interval(lost_value_share)
        row["value"] = {
            "truth": float(mean[M["value_truth"]]),
            "received": float(mean[M["value_delivered"]] + mean[M["value_duplicates"]]),
            "loss": float(vloss),
            "loss_ci": _clipped(vlo, vhi),
        }
    return row


def per_replication(result: RunResult) -> list[dict]:
    """What each replication alone gave, per plan and event type, to see the spread behind a CI.

    Parameters
    ----------
    result : RunResult
        The run.

    Returns
    -------
    list of dict
        One row per replication (``replication``: 1 to n, in the order of their seeds), plan
        and event type: ``truth``, ``delivered``, ``received`` (delivered + duplicates + bots),
        ``duplicates``, ``bots``, ``pending``, ``loss`` (null when nothing was true) and
        ``value_loss`` (null for events without a value). The record's means and Student t
        intervals are made from these rows when there are several replications.
    """
    sc = result.scenario
    rows = []
    for r, tally in enumerate(result.tallies, start=1):
        counts = tally.totals()
        with np.errstate(invalid="ignore", divide="ignore"):
            loss, value_loss = lost_share(counts), lost_value_share(counts)
        for p, plan in enumerate(sc.plans):
            for e, event in enumerate(sc.events):
                c = counts[p, e]
                rows.append(
                    {
                        "replication": r,
                        "plan": plan.name,
                        "event": event.name,
                        "truth": float(c[M["truth"]]),
                        "delivered": float(c[M["delivered"]]),
                        "received": float(c[M["delivered"]] + c[M["duplicates"]] + c[M["bots"]]),
                        "duplicates": float(c[M["duplicates"]]),
                        "bots": float(c[M["bots"]]),
                        "pending": float(c[M["pending"]]),
                        "loss": _finite(loss[p, e]),
                        "value_loss": _finite(value_loss[p, e]),
                    }
                )
    return rows


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def conversion_events(scenario: Scenario) -> list[int]:
    """Indices of the events that count as conversions: the last funnel step and valued events."""
    funnel = [i for i, e in enumerate(scenario.events) if e.kind == "funnel"]
    out = {i for i, e in enumerate(scenario.events) if e.has_value}
    if funnel:
        out.add(funnel[-1])
    return sorted(out)


def interval_method(replications: int) -> str:
    """Name of the interval method a run with this many replications gets."""
    if replications > 1:
        return intervals.interval_method(replications, False)
    return intervals.interval_method(GROUPS, True)


def method_notes(draws: Replicates) -> dict:
    """Name of every method used in a record, keyed by the part of the record it made."""
    return {
        "loss": draws.method,
        "composition": bias.COMPOSITION_METHOD + draws.method,
        "mcar_test": bias.chi_square_method(draws),
        "value": "relative bias of total and mean value received vs truth; " + draws.method,
        "attribution": attribution.ATTRIBUTION_METHOD,
        "kpis": kpis.METHOD + draws.method,
        "comparisons": comparison.METHOD + draws.method,
    }


def summarise(result: RunResult) -> dict:
    """Build the JSON-ready result record of a run.

    Parameters
    ----------
    result : RunResult
        Output of :func:`simulator.model.engine.run`.

    Returns
    -------
    dict
        ``version``, ``scenario`` (name, seed, replications, full validated config), ``run``
        (what was simulated, means per replication), ``interval_method``, ``methods`` (how
        every kind of figure was computed), ``results`` (one row per plan and event type;
        counts are means per replication; each row adds ``bias`` per dimension, value bias
        inside ``value`` and, for conversions, ``attribution``), ``kpis``, ``comparisons``
        (paired loss differences between plans) and ``per_replication`` (each replication's
        counts and loss, see :func:`per_replication`). Nothing in it depends on the machine or the
        clock, so the same seed gives byte-identical JSON.
    """
    sc = result.scenario
    layout = result.tallies[0].layout
    draws = run_draws(result)
    marginals = {dim: run_draws(result, dim) for dim in BIAS_DIMENSIONS}
    compositions = {dim: bias.composition(m) for dim, m in marginals.items()}
    conversions = conversion_events(sc)
    rows = []
    for p, plan in enumerate(sc.plans):
        for e, event in enumerate(sc.events):
            row = _row(plan.name, event.name, plan.path_of(event), draws[p, e])
            row["bias"] = {}
            if row["truth"] > 0:
                for dim, comp in compositions.items():
                    record = bias.composition_record(comp, layout.categories(dim), p, e)
                    if record is not None:
                        row["bias"][dim] = record
            if row["value"] is not None:
                row["value"].update(bias.value_bias(draws[p, e]) or {})
            row["attribution"] = None
            if e in conversions:
                row["attribution"] = attribution.attribution(
                    marginals["channel"][p, e], layout.categories("channel")
                )
            rows.append(row)
    meta_keys = result.metas[0].keys()
    run_info = {k: float(np.mean([m[k] for m in result.metas])) for k in meta_keys}
    # Sharded runs draw outages per shard: say so, since it changes the variance.
    run_info["shards"] = int(result.extra.get("shards", 1))
    return {
        "version": __version__,
        "scenario": {
            "name": sc.name,
            "description": sc.description,
            "seed": sc.simulation.seed,
            "replications": sc.simulation.replications,
            "config": sc.model_dump(mode="json", by_alias=True),
        },
        "run": run_info,
        "interval_method": draws.method,
        "methods": method_notes(draws),
        "layout": {
            "plans": list(layout.plans),
            "events": list(layout.events),
            "dimensions": {dim: list(layout.categories(dim)) for dim in BIAS_DIMENSIONS},
        },
        "results": rows,
        "kpis": kpis.kpi_rows(sc, draws),
        "comparisons": comparison.compare_plans(sc, draws),
        "per_replication": per_replication(result),
    }


__all__ = [
    "BIAS_DIMENSIONS",
    "conversion_events",
    "interval_method",
    "lost_share",
    "lost_value_share",
    "method_notes",
    "per_replication",
    "summarise",
]
