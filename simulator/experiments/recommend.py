"""``trackloss recommend``: measure every path an event can take on the same visitors, then decide.

The scenario's own plans are replaced by one plan per path (``all_client``, ``all_server``,
``all_hybrid``, ``all_dual``), so a single run puts every candidate in front of the same
simulated visitors (common random numbers) and the candidates are paired. Client-only events
stay on the client and offsite events on the server in every plan (:meth:`Plan.path_of`).

Per event type and candidate path the record gives the loss and, side by side, the context
coverage (the share of true events that arrive with the browser's context: an event lost on the
way counts as one without it) and, with ``respect_choice``, both among the events of visitors who
did not opt out; then :func:`simulator.experiments.recommend_rules.decide` applies the seed
article's rules and the measurements. The record is JSON-ready;
:mod:`simulator.outputs.recommend_report` lays it out for the terminal and Markdown.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.config.scenario import EventType, Scenario
from simulator.experiments.recommend_rules import (
    PATH_ORDER,
    RULES,
    Decision,
    Metric,
    PathMeasure,
    RecommendConfig,
    candidate_paths,
    decide,
)
from simulator.model.tally import FAULT_CAUSES, M
from simulator.replications.result import RunResult
from simulator.replications.runner import run
from simulator.stats import bias
from simulator.stats.intervals import run_draws, spread, t_interval, wilson
from simulator.stats.summary import interval_method
from simulator.version import __version__

PLAN_NAMES = {path: f"all_{path}" for path in PATH_ORDER}
"""Name of the candidate plan that sends every event it can on each path."""
RECORD_VERSION = 2
"""Layout of the record: 2 measures context as coverage of true events (1: context loss of
delivered events, which a path could lower by losing events)."""
SHIFT_DIMENSIONS = ("device", "browser", "os", "country", "channel")
"""Dimensions whose composition shift (TVD, :mod:`simulator.stats.bias`) each path reports."""


def candidate_scenario(scenario: Scenario, respect_choice: bool = False) -> Scenario:
    """The scenario with its plans replaced by one plan per path.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    respect_choice : bool
        Whether every candidate plan respects visitors' blocker choice (opted-out visitors'
        events withheld on every path, counted anonymously).

    Returns
    -------
    Scenario
        Validated again, with plans named as in :data:`PLAN_NAMES`.
    """
    data = scenario.model_dump(by_alias=True)
    data["plans"] = [
        {
            "name": PLAN_NAMES[path],
            "default_path": path,
            "respect_blocker_choice": respect_choice,
            "opted_out_count": "anonymous_count",
        }
        for path in PATH_ORDER
    ]
    return Scenario.model_validate(data)


def share(numerator: np.ndarray, denominator: np.ndarray, by_groups: bool = False) -> Metric:
    """A share on each independent draw of a run, with its 95% interval.

    Parameters
    ----------
    numerator, denominator : numpy.ndarray
        Counts per draw: per replication, or with one replication per leave-one-group-out
        draw, followed by the whole run's counts when ``by_groups``.
    by_groups : bool
        Whether the draws are random groups of visitors (delete-a-group jackknife around the
        whole run) rather than replications (Student t across them).

    Returns
    -------
    Metric
        The share (the mean over replications, or the whole run's with groups) and its
        interval, from :func:`simulator.stats.intervals.spread`; Wilson on the counts for a
        lone replication without groups. NaN when the denominator is never positive.
    """
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    draws, whole = (shares[:-1], shares[-1]) if by_groups else (shares, np.nan)
    n = float(den[-1] if by_groups else den.mean()) if den.size else 0.0
    reps = tuple(float(x) for x in draws)
    if by_groups:
        if not np.isfinite(whole) or np.isnan(draws).any():
            return Metric(math.nan, None, reps, n, by_groups=True)
        est, lo, hi = spread(draws, whole, by_groups=True)
        ci = (max(0.0, float(lo)), min(1.0, float(hi)))
        return Metric(float(est), ci, reps, n, by_groups=True)
    kept = draws[~np.isnan(draws)]
    if kept.size == 0:
        return Metric(math.nan, None, reps, n)
    if len(draws) > 1:
        lo, hi = t_interval(kept)
        lo, hi = max(0.0, lo), min(1.0, hi)
    else:
        lo, hi = wilson(float(num[0]), float(den[0]))
    return Metric(float(kept.mean()), (float(lo), float(hi)), reps, n)


def measure(result: RunResult, respect_choice: bool = False) -> list[dict[str, PathMeasure]]:
    """What every candidate path does to every event type.

    Parameters
    ----------
    result : RunResult
        A run of :func:`candidate_scenario`.
    respect_choice : bool
        Whether the candidates respected visitors' choice. The events of opted-out visitors are
        then measured once per event type (the server plan withholds exactly those, and every
        plan sees the same visitors) and left out of the loss the budget applies to.

    Returns
    -------
    list of dict
        Per event type (scenario order), path -> :class:`PathMeasure` for its candidate paths.
    """
    sc = result.scenario
    plans = result.tallies[0].layout.plans
    draws = run_draws(result)  # replications, or with one replication its groups of visitors
    by_groups = draws.by_groups
    # (draws [+ the whole run, with groups], plans, events, measures)
    per_rep = np.concatenate([draws.samples, draws.whole[None]]) if by_groups else draws.samples
    server = per_rep[:, plans.index(PLAN_NAMES["server"])]
    out = []
    for e, event in enumerate(sc.events):
        opted = np.zeros(per_rep.shape[0])
        if respect_choice and event.kind not in ("client_only", "offsite"):
            opted = server[:, e, M["lost_withheld"]]
        paths = {}
        for path in candidate_paths(event):
            c = per_rep[:, plans.index(PLAN_NAMES[path]), e]
            truth, delivered = c[:, M["truth"]], c[:, M["delivered"]]
            context = c[:, M["delivered_context"]]
            faults = sum(c[:, M[f"lost_{cause}"]] for cause in FAULT_CAUSES)
            consenting = truth - opted
            count = (lambda x: float(x[-1])) if by_groups else (lambda x: float(x.mean()))
            paths[path] = PathMeasure(
                path=path,
                truth=count(truth),
                delivered=count(delivered),
                delivered_context=count(context),
                faults=count(faults),
                withheld=count(c[:, M["lost_withheld"]]),
                pending=count(c[:, M["pending"]]),
                anonymous=count(c[:, M["anonymous"]]),
                loss=share(truth - delivered, truth, by_groups),
                budget_loss=share(np.maximum(consenting - delivered, 0.0), consenting, by_groups),
                context_coverage=share(np.minimum(context, consenting), consenting, by_groups),
            )
        out.append(paths)
    return out


def _causes(result: RunResult, e: int, path: str) -> dict[str, float]:
    """Loss causes of one event on one candidate path, as shares of the true count."""
    p = result.tallies[0].layout.plans.index(PLAN_NAMES[path])
    totals = np.mean([t.totals()[p, e] for t in result.tallies], axis=0)
    truth = totals[M["truth"]]
    if truth <= 0:
        return {}
    causes = {n[5:]: float(totals[i] / truth) for n, i in M.items() if n.startswith("lost_")}
    causes["pending"] = float(totals[M["pending"]] / truth)
    return {k: v for k, v in causes.items() if v > 0}


def compositions(result: RunResult) -> dict[str, bias.Composition]:
    """Composition shift of the received events, per dimension in :data:`SHIFT_DIMENSIONS`."""
    return {dim: bias.composition(run_draws(result, dim)) for dim in SHIFT_DIMENSIONS}


def _shift(comps: dict[str, bias.Composition], p: int, e: int) -> dict | None:
    """The largest composition shift of one plan and event: dimension, TVD and its interval."""
    tvd = {dim: float(c.tvd[p, e]) for dim, c in comps.items() if np.isfinite(c.tvd[p, e])}
    if not tvd:
        return None
    dim = max(tvd, key=lambda d: (tvd[d], -SHIFT_DIMENSIONS.index(d)))
    lo, hi = comps[dim].tvd_ci[0][p, e], comps[dim].tvd_ci[1][p, e]
    return {
        "dimension": dim,
        "tvd": tvd[dim],
        "tvd_ci": bias.as_interval(lo, hi),
        "by_dimension": tvd,
    }


def _metric(m: Metric) -> tuple[float | None, list[float] | None]:
    value = m.value if m.defined else None
    return value, (list(m.ci) if m.ci is not None else None)


def _path_record(m: PathMeasure, cost: float, causes: dict[str, float], shift: dict | None) -> dict:
    loss, loss_ci = _metric(m.loss)
    budget, budget_ci = _metric(m.budget_loss)
    coverage, coverage_ci = _metric(m.context_coverage)
    bare = (m.delivered - m.delivered_context) / m.truth if m.truth > 0 else None
    return {
        "truth": m.truth,
        "delivered": m.delivered,
        "delivered_with_context": m.delivered_context,
        "loss": loss,
        "loss_ci": loss_ci,
        "budget_loss": budget,
        "budget_loss_ci": budget_ci,
        "context_coverage": coverage,
        "context_coverage_ci": coverage_ci,
        "without_context": bare,
        "faults": m.faults / m.truth if m.truth > 0 else None,
        "withheld": m.withheld / m.truth if m.truth > 0 else None,
        "pending": m.pending,
        "anonymous": m.anonymous,
        "causes": causes,
        "shift": shift,
        "cost": cost,
    }


def _event_record(
    event: EventType, decision: Decision, paths: dict[str, dict], budget: float, respect: bool
) -> dict:
    record = {
        "event": event.name,
        "kind": event.kind,
        "sensitive": event.sensitive,
        "mission_critical": event.mission_critical,
        "needs_context": list(event.needs_context),
        "recommendation": decision.path,
        "rule": decision.rule,
        "decided_by": RULES[decision.rule],
        "reason": decision.reason,
        "tied_with": decision.tied_with,
        "warnings": decision.warnings,
        "paths": paths,
    }
    return record


def recommend_from(result: RunResult, config: RecommendConfig, respect_choice: bool) -> dict:
    """Decide per event type from a run of :func:`candidate_scenario`.

    Parameters
    ----------
    result : RunResult
        The candidates' run.
    config : RecommendConfig
        Budget, tie margin and costs.
    respect_choice : bool
        Whether the candidates respected visitors' choice.

    Returns
    -------
    dict
        The recommendation record (see :func:`recommend`).
    """
    sc = result.scenario
    plans = result.tallies[0].layout.plans
    comps = compositions(result)
    events = []
    for e, (event, measures) in enumerate(
        zip(sc.events, measure(result, respect_choice), strict=True)
    ):
        decision = decide(event, measures, config)
        paths = {
            path: _path_record(
                m,
                config.cost(path),
                _causes(result, e, path),
                _shift(comps, plans.index(PLAN_NAMES[path]), e),
            )
            for path, m in measures.items()
        }
        events.append(_event_record(event, decision, paths, config.loss_budget, respect_choice))
    reps = len(result.tallies)
    return {
        "version": __version__,
        "record_version": RECORD_VERSION,
        "scenario": {
            "name": sc.name,
            "description": sc.description,
            "seed": sc.simulation.seed,
            "replications": reps,
            "users": sc.population.users,
        },
        "mode": {"respect_choice": respect_choice},
        "loss_budget": config.loss_budget,
        "tie_margin": config.tie_margin,
        "costs": config.all_costs(),
        "plans": dict(PLAN_NAMES),
        "interval_method": interval_method(reps),
        "events": events,
    }


def recommend(
    scenario: Scenario,
    loss_budget: float | None = None,
    respect_choice: bool = False,
    replications: int | None = None,
    seed: int | None = None,
    progress: bool | str = False,
    **parallel,
) -> dict:
    """Recommend a tracking path for every event type of a scenario.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario; its plans are ignored (see :func:`candidate_scenario`).
    loss_budget : float, optional
        Largest acceptable loss; defaults to the scenario's ``recommend.loss_budget``.
    respect_choice : bool
        Evaluate the candidates with ``respect_blocker_choice = true``.
    replications, seed : int, optional
        Override the scenario's ``simulation`` settings.
    progress : bool or str
        Show a progress bar over replications (``"auto"``: on a terminal or in a notebook).
    **parallel
        ``workers``, ``executor``, ``dask_address``, ``shards`` for
        :func:`simulator.replications.runner.run` (results are the same for any choice).

    Returns
    -------
    dict
        JSON-ready: ``record_version``, ``scenario``, ``mode``, ``loss_budget``,
        ``tie_margin``, ``costs``, ``plans``, ``interval_method`` and ``events`` (one record
        per event type with the ``recommendation``, the ``rule`` and ``reason`` that decided,
        the paths it ``tied_with``, ``warnings`` and ``paths``: per candidate path the loss,
        budget loss, ``context_coverage`` (share of true events arriving with the browser's
        context), ``without_context`` (share of true events delivered without it) and the
        largest composition ``shift`` (TVD over device, browser, country, channel), with 95%
        intervals).
        :func:`simulator.outputs.recommend_report.narrated` adds the plain words: the mode's
        ``statement``, and each event's ``context_lost`` and ``paragraph``.
    """
    config = scenario.recommend
    if loss_budget is not None:
        config = RecommendConfig.model_validate({**config.model_dump(), "loss_budget": loss_budget})
    candidates = candidate_scenario(scenario, respect_choice)
    result = run(candidates, replications=replications, seed=seed, progress=progress, **parallel)
    return recommend_from(result, config, respect_choice)


__all__ = [
    "PLAN_NAMES",
    "RECORD_VERSION",
    "SHIFT_DIMENSIONS",
    "candidate_scenario",
    "compositions",
    "measure",
    "recommend",
    "recommend_from",
    "share",
]
