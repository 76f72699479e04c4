"""Turn a run's tallies into the result record: loss per plan and event type, with intervals.

Counts are means per replication. Loss is the share of true events that never arrived. With
several replications its 95% interval is Student's t across replications (each replication is
an independent draw of the whole site); with one replication it is a Wilson score interval for
the lost share, which treats events as independent and is therefore too narrow when visitors'
events are correlated (a blocked visitor loses all of theirs). The method is named in the output.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from simulator import __version__
from simulator.engine import RunResult
from simulator.tally import CAUSES, MEASURES

M = {name: i for i, name in enumerate(MEASURES)}
Z95 = stats.norm.ppf(0.975)


def wilson(lost: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``lost / n``.

    Parameters
    ----------
    lost, n : float
        Successes and trials (``n > 0``).
    z : float
        Normal quantile (1.96 for 95%).

    Returns
    -------
    tuple of float
        Lower and upper bound.
    """
    p = lost / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def t_interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student t interval for the mean of independent replications."""
    n = len(samples)
    mean = float(np.mean(samples))
    if n < 2:
        return mean, mean
    half = stats.t.ppf(0.5 + level / 2, n - 1) * float(np.std(samples, ddof=1)) / math.sqrt(n)
    return mean - half, mean + half


def _value_interval(cells: np.ndarray) -> tuple[float, float]:
    """Delta-method interval for the lost share of value in one replication."""
    vt, vd = cells[M["value_truth"]], cells[M["value_delivered"]]
    sq_t, sq_d = cells[M["value_sq_truth"]], cells[M["value_sq_delivered"]]
    kept = vd / vt
    var = ((1 - kept) ** 2 * sq_d + kept**2 * (sq_t - sq_d)) / vt**2
    half = Z95 * math.sqrt(max(var, 0.0))
    return max(0.0, 1 - kept - half), min(1.0, 1 - kept + half)


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
    row["loss_ci"] = [float(lo), float(hi)]
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


def summarise(result: RunResult) -> dict:
    """Build the JSON-ready result record of a run.

    Parameters
    ----------
    result : RunResult
        Output of :func:`simulator.engine.run`.

    Returns
    -------
    dict
        ``version``, ``scenario`` (name, seed, replications, full validated config), ``run``
        (what was simulated, means per replication), ``interval_method`` and ``results``
        (one row per plan and event type; counts are means per replication). Nothing in it
        depends on the machine or the clock, so the same seed gives byte-identical JSON.
    """
    sc = result.scenario
    layout = result.tallies[0].layout
    per_rep = np.stack([t.totals() for t in result.tallies])  # (reps, plans, events, measures)
    rows = []
    for p, plan in enumerate(sc.plans):
        for e, event in enumerate(sc.events):
            rows.append(_row(plan.name, event.name, plan.path_of(event), per_rep[:, p, e, :]))
    meta_keys = result.metas[0].keys()
    run_info = {k: float(np.mean([m[k] for m in result.metas])) for k in meta_keys}
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
        "layout": {"plans": list(layout.plans), "events": list(layout.events)},
        "results": rows,
    }
