"""Differences between tracking plans, and between scenarios, on common random numbers.

Every plan of a scenario observes the same simulated visitors, and two scenarios run from the
same root seed draw the same replication streams; so differences are estimated replication by
replication (paired), which removes most of the visitor-to-visitor noise. With several
replications the interval is Student t on the paired differences and the p-value that of the
paired t test. With one replication only the counts are known, so the two figures are treated
as independent binomial proportions (conservative when their losses are positively correlated).
"""

from __future__ import annotations

import math

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.tally import M
from simulator.replications.result import RunResult
from simulator.stats.intervals import Difference, independent_difference, paired_difference
from simulator.stats.kpis import kpi_series

METHOD = {
    True: "paired by replication (common random numbers); Student t on the differences (95%), "
    "paired t test",
    False: "one replication: normal interval and z test treating the two proportions as "
    "independent (conservative when their losses are positively correlated)",
}


def loss_per_replication(per_rep: np.ndarray) -> np.ndarray:
    """Share of true events not delivered, per replication.

    Parameters
    ----------
    per_rep : numpy.ndarray
        Totals: shape ``(replications, ..., measures)``.

    Returns
    -------
    numpy.ndarray
        Shape ``per_rep.shape[:-1]``; NaN where nothing was true.
    """
    truth = per_rep[..., M["truth"]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(truth > 0, 1 - per_rep[..., M["delivered"]] / truth, np.nan)


def _binomial_se(loss: float, truth: float) -> float:
    if truth <= 0 or math.isnan(loss):
        return math.nan
    return math.sqrt(max(loss * (1 - loss), 0.0) / truth)


def difference(
    a: np.ndarray, b: np.ndarray, truth_a: np.ndarray, truth_b: np.ndarray
) -> Difference:
    """``b - a`` for two losses observed on the same replications.

    Parameters
    ----------
    a, b : numpy.ndarray
        Loss per replication.
    truth_a, truth_b : numpy.ndarray
        True counts per replication (used with one replication only).

    Returns
    -------
    Difference
        Paired t with several replications, independent binomial normal with one.
    """
    if len(a) > 1:
        return paired_difference(a, b)
    la, lb = float(a[0]), float(b[0])
    if math.isnan(la) or math.isnan(lb):
        return Difference(math.nan, (math.nan, math.nan), None, "undefined")
    return independent_difference(
        la, _binomial_se(la, float(truth_a[0])), lb, _binomial_se(lb, float(truth_b[0]))
    )


def _record(d: Difference) -> dict:
    est = None if math.isnan(d.estimate) else float(d.estimate)
    ci = None if any(math.isnan(x) for x in d.ci) else [float(d.ci[0]), float(d.ci[1])]
    return {"estimate": est, "ci": ci, "p_value": d.p_value}


def compare_plans(scenario: Scenario, per_rep: np.ndarray) -> list[dict]:
    """Loss differences between every pair of plans, per event type.

    Parameters
    ----------
    scenario : Scenario
        The scenario (plans and events).
    per_rep : numpy.ndarray
        Totals per replication: shape ``(replications, plans, events, measures)``.

    Returns
    -------
    list of dict
        One per event type and pair of plans (``plan_a`` before ``plan_b`` in the scenario):
        ``event``, ``plan_a``, ``plan_b``, ``path_a``, ``path_b``, ``loss_a``, ``loss_b``,
        ``loss_diff`` (loss of ``plan_b`` minus loss of ``plan_a``), ``loss_diff_ci`` and
        ``p_value`` (``None`` when the difference is exactly the same in every replication).
    """
    loss = loss_per_replication(per_rep)  # (reps, plans, events)
    truth = per_rep[..., M["truth"]]
    rows = []
    plans = scenario.plans
    for e, event in enumerate(scenario.events):
        for i in range(len(plans)):
            for j in range(i + 1, len(plans)):
                d = _record(
                    difference(loss[:, i, e], loss[:, j, e], truth[:, i, e], truth[:, j, e])
                )
                rows.append(
                    {
                        "event": event.name,
                        "plan_a": plans[i].name,
                        "plan_b": plans[j].name,
                        "path_a": plans[i].path_of(event),
                        "path_b": plans[j].path_of(event),
                        "loss_a": _mean(loss[:, i, e]),
                        "loss_b": _mean(loss[:, j, e]),
                        "loss_diff": d["estimate"],
                        "loss_diff_ci": d["ci"],
                        "p_value": d["p_value"],
                    }
                )
    return rows


def _mean(x: np.ndarray) -> float | None:
    x = x[~np.isnan(x)]
    return float(x.mean()) if len(x) else None


def compare_runs(a: RunResult, b: RunResult) -> dict:
    """Compare two scenarios run on common random numbers.

    Plans and event types are matched by name; those in only one scenario are listed and left
    out.

    Parameters
    ----------
    a, b : RunResult
        Runs of two scenarios with the same root seed and number of replications.

    Returns
    -------
    dict
        ``scenario_a`` and ``scenario_b`` (name, seed, replications), ``method``,
        ``unmatched`` (plans and events found in one scenario only), ``events`` (per plan and
        event type: paths, true counts, ``loss_a``, ``loss_b``, ``loss_diff`` = b - a, its
        ``loss_diff_ci`` and ``p_value``) and ``kpis`` (per plan and KPI: observed values and
        relative biases in each scenario, with ``observed_diff`` and ``relative_bias_diff``,
        their intervals and p-values).

    Raises
    ------
    ValueError
        When the runs do not share their seed and number of replications (no common random
        numbers, so nothing to pair).
    """
    sa, sb = a.scenario, b.scenario
    if sa.simulation.seed != sb.simulation.seed or len(a.tallies) != len(b.tallies):
        raise ValueError(
            "scenarios must be run with the same seed and replications to be compared, got "
            f"seed {sa.simulation.seed} x {len(a.tallies)} and "
            f"seed {sb.simulation.seed} x {len(b.tallies)}"
        )
    pa = np.stack([t.totals() for t in a.tallies])
    pb = np.stack([t.totals() for t in b.tallies])
    plans_a, plans_b = [p.name for p in sa.plans], [p.name for p in sb.plans]
    events_a, events_b = [e.name for e in sa.events], [e.name for e in sb.events]
    plans = [p for p in plans_a if p in plans_b]
    events = [e for e in events_a if e in events_b]
    loss_a, loss_b = loss_per_replication(pa), loss_per_replication(pb)
    rows = []
    for plan in plans:
        i, j = plans_a.index(plan), plans_b.index(plan)
        for event in events:
            ea, eb = events_a.index(event), events_b.index(event)
            ta, tb = pa[:, i, ea, M["truth"]], pb[:, j, eb, M["truth"]]
            d = _record(difference(loss_a[:, i, ea], loss_b[:, j, eb], ta, tb))
            rows.append(
                {
                    "plan": plan,
                    "event": event,
                    "path_a": sa.plans[i].path_of(sa.events[ea]),
                    "path_b": sb.plans[j].path_of(sb.events[eb]),
                    "truth_a": float(ta.mean()),
                    "truth_b": float(tb.mean()),
                    "loss_a": _mean(loss_a[:, i, ea]),
                    "loss_b": _mean(loss_b[:, j, eb]),
                    "loss_diff": d["estimate"],
                    "loss_diff_ci": d["ci"],
                    "p_value": d["p_value"],
                }
            )
    return {
        "scenario_a": _describe(a),
        "scenario_b": _describe(b),
        "method": METHOD[len(a.tallies) > 1],
        "unmatched": {
            "plans": sorted(set(plans_a) ^ set(plans_b)),
            "events": sorted(set(events_a) ^ set(events_b)),
        },
        "events": rows,
        "kpis": _compare_kpis(sa, pa, sb, pb, plans),
    }


def _describe(r: RunResult) -> dict:
    sim = r.scenario.simulation
    return {"name": r.scenario.name, "seed": sim.seed, "replications": len(r.tallies)}


def _compare_kpis(
    sa: Scenario, pa: np.ndarray, sb: Scenario, pb: np.ndarray, plans: list[str]
) -> list[dict]:
    """KPI differences (b - a) for KPIs and plans present in both scenarios."""
    series_b = {(sb.plans[s.plan].name, s.kpi.name): s for s in kpi_series(sb, pb)}
    rows = []
    for s in kpi_series(sa, pa):
        key = (sa.plans[s.plan].name, s.kpi.name)
        if key[0] not in plans or key not in series_b:
            continue
        t = series_b[key]
        row = {"plan": key[0], "name": key[1]}
        for what in ("observed", "relative_bias"):
            x, y = getattr(s, what), getattr(t, what)
            if len(x) > 1:
                d = _record(paired_difference(x, y))
            else:
                d = {"estimate": _mean(y - x), "ci": None, "p_value": None}
            row[f"{what}_a"], row[f"{what}_b"] = _mean(x), _mean(y)
            row[f"{what}_diff"], row[f"{what}_diff_ci"] = d["estimate"], d["ci"]
            row[f"{what}_p_value"] = d["p_value"]
        rows.append(row)
    return rows


__all__ = [
    "METHOD",
    "compare_plans",
    "compare_runs",
    "difference",
    "loss_per_replication",
]
