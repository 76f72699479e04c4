"""Differences between tracking plans, and between scenarios, on common random numbers.

Every plan of a scenario observes the same simulated visitors, and two scenarios run from the
same root seed draw the same replication streams; so differences are estimated draw by draw
(paired), which removes most of the visitor-to-visitor noise. With several replications the
interval is Student t on the paired differences and the p-value that of the paired t test.
With one replication the draws are the random groups of visitors (the same visitors fall in
the same group under every plan, and in both scenarios): the difference is recomputed with
each group left out, and the interval and test are the jackknife's Student t with
``groups - 1`` degrees of freedom (:mod:`simulator.stats.intervals`).
"""

from __future__ import annotations

import math

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.tally import M
from simulator.replications.result import RunResult
from simulator.stats.intervals import (
    Difference,
    Replicates,
    difference_test,
    replicates,
    run_draws,
    spread,
)
from simulator.stats.kpis import kpi_series

METHOD = "paired differences on common random numbers, t test; "


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


def difference(a: Replicates, b: Replicates) -> Difference:
    """``b - a`` for two losses observed on the same draws.

    Parameters
    ----------
    a, b : Replicates
        Draws of the totals (``(draws, measures)``) of the two figures, paired draw by draw.

    Returns
    -------
    Difference
        Paired t across replications, or the jackknife t over groups of visitors.
    """
    per_draw = loss_per_replication(b.samples) - loss_per_replication(a.samples)
    whole = float(loss_per_replication(b.whole[None])[0] - loss_per_replication(a.whole[None])[0])
    return difference_test(per_draw, whole, a.by_groups)


def _loss(draws: Replicates) -> float | None:
    """Loss estimate of one plan and event type."""
    est = spread(loss_per_replication(draws.samples), loss_per_replication(draws.whole[None])[0],
                 draws.by_groups)[0]  # fmt: skip
    return None if np.isnan(est) else float(est)


def _record(d: Difference) -> dict:
    est = None if math.isnan(d.estimate) else float(d.estimate)
    ci = None if any(math.isnan(x) for x in d.ci) else [float(d.ci[0]), float(d.ci[1])]
    return {"estimate": est, "ci": ci, "p_value": d.p_value}


def compare_plans(scenario: Scenario, draws: Replicates | np.ndarray) -> list[dict]:
    """Loss differences between every pair of plans, per event type.

    Parameters
    ----------
    scenario : Scenario
        The scenario (plans and events).
    draws : Replicates or numpy.ndarray
        Draws of the totals, ``(draws, plans, events, measures)`` (a plain array is taken as
        replications).

    Returns
    -------
    list of dict
        One per event type and pair of plans (``plan_a`` before ``plan_b`` in the scenario):
        ``event``, ``plan_a``, ``plan_b``, ``path_a``, ``path_b``, ``loss_a``, ``loss_b``,
        ``loss_diff`` (loss of ``plan_b`` minus loss of ``plan_a``), ``loss_diff_ci`` and
        ``p_value`` (``None`` when the difference is exactly the same in every replication).
    """
    draws = draws if isinstance(draws, Replicates) else replicates(draws, None)
    rows = []
    plans = scenario.plans
    for e, event in enumerate(scenario.events):
        for i in range(len(plans)):
            for j in range(i + 1, len(plans)):
                d = _record(difference(draws[i, e], draws[j, e]))
                rows.append(
                    {
                        "event": event.name,
                        "plan_a": plans[i].name,
                        "plan_b": plans[j].name,
                        "path_a": plans[i].path_of(event),
                        "path_b": plans[j].path_of(event),
                        "loss_a": _loss(draws[i, e]),
                        "loss_b": _loss(draws[j, e]),
                        "loss_diff": d["estimate"],
                        "loss_diff_ci": d["ci"],
                        "p_value": d["p_value"],
                    }
                )
    return rows


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
    pa, pb = run_draws(a), run_draws(b)
    plans_a, plans_b = [p.name for p in sa.plans], [p.name for p in sb.plans]
    events_a, events_b = [e.name for e in sa.events], [e.name for e in sb.events]
    plans = [p for p in plans_a if p in plans_b]
    events = [e for e in events_a if e in events_b]
    rows = []
    for plan in plans:
        i, j = plans_a.index(plan), plans_b.index(plan)
        for event in events:
            ea, eb = events_a.index(event), events_b.index(event)
            d = _record(difference(pa[i, ea], pb[j, eb]))
            rows.append(
                {
                    "plan": plan,
                    "event": event,
                    "path_a": sa.plans[i].path_of(sa.events[ea]),
                    "path_b": sb.plans[j].path_of(sb.events[eb]),
                    "truth_a": float(pa.whole[i, ea, M["truth"]]),
                    "truth_b": float(pb.whole[j, eb, M["truth"]]),
                    "loss_a": _loss(pa[i, ea]),
                    "loss_b": _loss(pb[j, eb]),
                    "loss_diff": d["estimate"],
                    "loss_diff_ci": d["ci"],
                    "p_value": d["p_value"],
                }
            )
    return {
        "scenario_a": _describe(a),
        "scenario_b": _describe(b),
        "method": METHOD + pa.method,
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
    sa: Scenario, pa: Replicates, sb: Scenario, pb: Replicates, plans: list[str]
) -> list[dict]:
    """KPI differences (b - a) for KPIs and plans present in both scenarios."""
    whole_b = {(sb.plans[s.plan].name, s.kpi.name): s for s in kpi_series(sb, pb.whole[None])}
    series_b = {(sb.plans[s.plan].name, s.kpi.name): s for s in kpi_series(sb, pb.samples)}
    rows = []
    for s, w in zip(kpi_series(sa, pa.samples), kpi_series(sa, pa.whole[None]), strict=True):
        key = (sa.plans[s.plan].name, s.kpi.name)
        if key[0] not in plans or key not in series_b:
            continue
        t, v = series_b[key], whole_b[key]
        row = {"plan": key[0], "name": key[1]}
        for what in ("observed", "relative_bias"):
            x, y = getattr(s, what), getattr(t, what)
            wx, wy = getattr(w, what)[0], getattr(v, what)[0]
            d = _record(difference_test(y - x, float(wy - wx), pa.by_groups))
            row[f"{what}_a"] = _number(spread(x, wx, pa.by_groups)[0])
            row[f"{what}_b"] = _number(spread(y, wy, pa.by_groups)[0])
            row[f"{what}_diff"], row[f"{what}_diff_ci"] = d["estimate"], d["ci"]
            row[f"{what}_p_value"] = d["p_value"]
        rows.append(row)
    return rows


def _number(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


__all__ = [
    "METHOD",
    "compare_plans",
    "compare_runs",
    "difference",
    "loss_per_replication",
]
