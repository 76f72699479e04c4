"""Turn a run's tallies into the result record: loss and bias per plan and event type.

Counts are means per replication. Loss is the share of true events that never arrived. With
several replications its 95% interval is Student's t across replications (each replication is
an independent draw of the whole site); with one replication it is a Wilson score interval for
the lost share, which treats events as independent and is therefore too narrow when visitors'
events are correlated (a blocked visitor loses all of theirs). The method is named in the output.

Beyond loss, every row carries the composition bias of the received events per dimension
(:mod:`simulator.stats.bias`), rows with a value carry value bias, and conversion rows carry
attribution; the record adds KPIs (:mod:`simulator.stats.kpis`), paired plan comparisons
(:mod:`simulator.stats.comparison`) and the name of every method used (``methods``).
"""

from __future__ import annotations

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.tally import CAUSES, DIMENSIONS, M
from simulator.replications.result import RunResult
from simulator.stats import attribution, bias, comparison, kpis
from simulator.stats.intervals import Piece, delta_se, normal_interval, t_interval, wilson
from simulator.version import __version__

BIAS_DIMENSIONS = DIMENSIONS
"""Dimensions whose composition bias every row reports."""


def _value_interval(cells: np.ndarray) -> tuple[float, float]:
    """Delta-method interval for the lost share of value in one replication.

    Revenue that arrived and revenue that did not are independent marked Poisson pieces
    (:func:`simulator.stats.intervals.delta_se`), as for every other one-replication ratio.
    """
    vt, vd = cells[M["value_truth"]], cells[M["value_delivered"]]
    sq_t, sq_d = cells[M["value_sq_truth"]], cells[M["value_sq_delivered"]]
    nt, nd = cells[M["truth"]], cells[M["delivered"]]
    arrived = Piece(nd, vd, sq_d)
    missed = Piece(nt - nd, vt - vd, sq_t - sq_d)
    se = delta_se(lambda x: 1 - x[1] / (x[1] + x[3]), [arrived, missed])
    lo, hi = normal_interval(1 - vd / vt, se)
    return max(0.0, lo), min(1.0, hi)


def _row(plan: str, event: str, path: str, per_rep: np.ndarray) -> dict:
    """Summarise one plan x event: ``per_rep`` has shape (replications, measures)."""
    mean = per_rep.mean(axis=0)
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
    reps = per_rep.shape[0]
    rep_truth = per_rep[:, M["truth"]]
    rep_loss = 1 - per_rep[:, M["delivered"]] / np.where(rep_truth > 0, rep_truth, np.nan)
    if reps > 1:
        lo, hi = t_interval(rep_loss[~np.isnan(rep_loss)])
    else:
        lo, hi = wilson(truth - mean[M["delivered"]], truth)
    row["loss"] = float(np.nanmean(rep_loss))
    # Loss is a share: a symmetric t interval is clipped to [0, 1].
    row["loss_ci"] = [max(0.0, float(lo)), min(1.0, float(hi))]
    row["net_error"] = float(received / truth - 1)
    row["causes"] = {
        c: float(mean[M[f"lost_{c}"]] / truth) for c in CAUSES if mean[M[f"lost_{c}"]] > 0
    }
    if mean[M["pending"]] > 0:
        row["causes"]["pending"] = float(mean[M["pending"]] / truth)
    if mean[M["value_truth"]] > 0:
        vt = per_rep[:, M["value_truth"]]
        vloss = 1 - per_rep[:, M["value_delivered"]] / np.where(vt > 0, vt, np.nan)
        if reps > 1:
            vlo, vhi = t_interval(vloss[~np.isnan(vloss)])
        else:
            vlo, vhi = _value_interval(per_rep[0])
        row["value"] = {
            "truth": float(mean[M["value_truth"]]),
            "received": float(mean[M["value_delivered"]] + mean[M["value_duplicates"]]),
            "loss": float(np.nanmean(vloss)),
            "loss_ci": [float(vlo), float(vhi)],
        }
    return row


def interval_method(replications: int) -> str:
    """Name of the interval method used for a run with this many replications."""
    if replications > 1:
        return f"Student t across {replications} replications (95%)"
    return "Wilson score, one replication, events treated as independent (95%)"


def conversion_events(scenario: Scenario) -> list[int]:
    """Indices of the events that count as conversions: the last funnel step and valued events."""
    funnel = [i for i, e in enumerate(scenario.events) if e.kind == "funnel"]
    out = {i for i, e in enumerate(scenario.events) if e.has_value}
    if funnel:
        out.add(funnel[-1])
    return sorted(out)


def method_notes(replications: int) -> dict:
    """Name of every method used in a record, keyed by the part of the record it made."""
    several = replications > 1
    return {
        "loss": interval_method(replications),
        "composition": bias.COMPOSITION_METHOD[several],
        "mcar_test": bias.CHI_SQUARE_METHOD[several],
        "value": "relative bias of total and mean value received vs truth; "
        + (
            "Student t across replications (95%)"
            if several
            else "delta method on revenue as marked Poisson counts, one replication (95%)"
        ),
        "attribution": attribution.ATTRIBUTION_METHOD,
        "kpis": kpis.METHOD[several],
        "comparisons": comparison.METHOD[several],
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
        inside ``value`` and, for conversions, ``attribution``), ``kpis`` and ``comparisons``
        (paired loss differences between plans). Nothing in it depends on the machine or the
        clock, so the same seed gives byte-identical JSON.
    """
    sc = result.scenario
    layout = result.tallies[0].layout
    per_rep = np.stack([t.totals() for t in result.tallies])  # (reps, plans, events, measures)
    marginals = {
        dim: np.stack([t.marginal(dim) for t in result.tallies]) for dim in BIAS_DIMENSIONS
    }
    compositions = {dim: bias.composition(m) for dim, m in marginals.items()}
    conversions = conversion_events(sc)
    rows = []
    for p, plan in enumerate(sc.plans):
        for e, event in enumerate(sc.events):
            row = _row(plan.name, event.name, plan.path_of(event), per_rep[:, p, e, :])
            row["bias"] = {}
            if row["truth"] > 0:
                for dim, comp in compositions.items():
                    record = bias.composition_record(comp, layout.categories(dim), p, e)
                    if record is not None:
                        row["bias"][dim] = record
            if row["value"] is not None:
                row["value"].update(bias.value_bias(per_rep[:, p, e, :]) or {})
            row["attribution"] = None
            if e in conversions:
                row["attribution"] = attribution.attribution(
                    marginals["channel"][:, p, e], layout.categories("channel")
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
        "interval_method": interval_method(len(result.tallies)),
        "methods": method_notes(len(result.tallies)),
        "layout": {
            "plans": list(layout.plans),
            "events": list(layout.events),
            "dimensions": {dim: list(layout.categories(dim)) for dim in BIAS_DIMENSIONS},
        },
        "results": rows,
        "kpis": kpis.kpi_rows(sc, per_rep),
        "comparisons": comparison.compare_plans(sc, per_rep),
    }


__all__ = [
    "BIAS_DIMENSIONS",
    "conversion_events",
    "interval_method",
    "method_notes",
    "summarise",
]
