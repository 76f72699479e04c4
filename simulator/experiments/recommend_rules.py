"""The client-or-server decision for one event type: the article's rules first, measurements second.

The seed article's flow chart settles some events by what they are: client-only events (session
replay, ad pixels) can only be tracked in the browser, offsite events (a nightly job) only on the
server, and revenue or mission-critical events belong on the server, reaching for the browser's
context through the hybrid path when they need it. Every other event is measured on what the
user cares about, among the paths whose loss fits the user's budget:

* loss, the share of true events that never arrive (in the privacy-respecting mode, the share of
  the events of visitors who did not opt out);
* context coverage, when the event declares ``needs_context``: the share of the same true events
  that arrive *with* the browser's context (UTM, referrer, user agent...). A path cannot gain
  coverage by losing events: a lost event is an event without its context.

An event that needs context goes to the path with the most coverage; any other to the cheapest
path within the budget. Two paths tie on a metric when their difference is not significant at 5%
(paired across replications, or two binomial proportions with one replication) or smaller than
the configured margin, and a loss ties with the budget the same way (not significantly over it,
or over it by less than the margin): ties go to the cheapest path to build (client < server <
hybrid < dual by default), and the reason says so.

The ``[recommend]`` scenario table it reads is
:class:`simulator.config.recommend_spec.RecommendConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simulator.config.recommend_spec import PATH_ORDER, RecommendConfig
from simulator.stats.tails import normal_upper_tail, t_upper_tail

if TYPE_CHECKING:
    from simulator.config.scenario import EventType

SIGNIFICANCE = 0.05
"""Level below which a difference between two paths is treated as real."""

MEASURED_WITHIN = ("most_context_coverage", "cheapest_within_budget")
"""Rules that chose among paths whose loss fits the budget."""


@dataclass(frozen=True)
class Metric:
    """A share estimated from a run.

    Attributes
    ----------
    value : float
        Mean over replications (NaN when undefined, e.g. nothing delivered).
    ci : tuple of float or None
        95% interval.
    reps : tuple of float
        The share in each replication (paired comparisons use them).
    n : float
        Mean denominator per replication (the binomial comparison of one replication uses it).
    by_groups : bool
        Whether ``reps`` are leave-one-group-out draws of one replication (random groups of
        visitors, read with the jackknife) rather than replications.
    """

    value: float
    ci: tuple[float, float] | None
    reps: tuple[float, ...]
    n: float
    by_groups: bool = False

    @property
    def defined(self) -> bool:
        """Whether the share could be computed."""
        return math.isfinite(self.value)


@dataclass(frozen=True)
class PathMeasure:
    """What one path does to one event type: counts are means per replication.

    ``context_coverage`` is the share of true events (of visitors who did not opt out, in the
    privacy-respecting mode) that arrive with the browser's context.
    """

    path: str
    truth: float
    delivered: float
    delivered_context: float
    faults: float
    withheld: float
    pending: float
    anonymous: float
    loss: Metric
    budget_loss: Metric
    context_coverage: Metric


@dataclass
class Decision:
    """The recommended path for one event type and why."""

    event: str
    path: str
    rule: str
    reason: str
    tied_with: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


RULES = {
    "client_only": "rule: client-only by nature",
    "offsite": "rule: offsite, no browser",
    "sensitive": "rule: sensitive figure",
    "mission_critical": "rule: mission-critical",
    "most_context_coverage": "measured: most events with context, within budget",
    "cheapest_within_budget": "measured: within budget, cheapest",
    "least_loss": "measured: over budget everywhere, least loss",
}
"""Short label of every way a decision can be taken (the table's "decided by" column)."""


def candidate_paths(event: EventType) -> tuple[str, ...]:
    """Paths an event can take: client-only events the client, offsite events the server."""
    if event.kind == "client_only":
        return ("client",)
    if event.kind == "offsite":
        return ("server",)
    return PATH_ORDER


def differs(a: Metric, b: Metric, margin: float) -> bool:
    """Whether two paths' shares differ materially and significantly.

    Parameters
    ----------
    a, b : Metric
        The same share under two paths, on the same replications.
    margin : float
        Differences at or below this size are ties whatever their significance.

    Returns
    -------
    bool
        True when ``|b - a| > margin`` and the difference is significant at
        :data:`SIGNIFICANCE`: a paired t test across replications when there are several, or
        across the random groups of visitors of one replication (jackknife), else a
        two-proportion z test (conservative: common random numbers correlate the two).
    """
    if not (a.defined and b.defined):
        return a.defined != b.defined
    if abs(b.value - a.value) <= margin:
        return False
    if len(a.reps) > 1:
        d = [y - x for x, y in zip(a.reps, b.reps, strict=True)]
        g, mean = len(d), sum(d) / len(d)
        spread2 = sum((x - mean) ** 2 for x in d)
        if a.by_groups:  # jackknife over groups of visitors, around the whole run's difference
            se, mean = math.sqrt((g - 1) / g * spread2), b.value - a.value
        else:  # paired across replications
            se = math.sqrt(spread2 / (g - 1)) / math.sqrt(g)
        if se == 0:
            return mean != 0
        return 2 * t_upper_tail(abs(mean / se), g - 1) < SIGNIFICANCE
    var = sum(m.value * (1 - m.value) / m.n for m in (a, b) if m.n > 0)
    if var <= 0:
        return a.value != b.value
    z = (b.value - a.value) / math.sqrt(var)
    return 2 * normal_upper_tail(abs(z)) < SIGNIFICANCE


def fits_budget(loss: Metric, budget: float, margin: float) -> bool:
    """Whether a loss fits the budget, or ties with it.

    Parameters
    ----------
    loss : Metric
        The loss the budget applies to.
    budget : float
        Largest acceptable loss.
    margin : float
        The tie margin: a loss over the budget by no more than this ties with it.

    Returns
    -------
    bool
        True when the loss is at most ``budget + margin``, or when its 95% interval reaches
        the budget (not significantly over it). Undefined losses never fit.
    """
    if not loss.defined:
        return False
    if loss.value <= budget + margin:
        return True
    return loss.ci is not None and loss.ci[0] <= budget


def _tied_best(
    paths: list[str], metric: dict[str, Metric], margin: float, highest: bool = False
) -> list[str]:
    """Paths whose ``metric`` does not differ from the best one (the best included)."""
    defined = [p for p in paths if metric[p].defined] or paths
    sign = -1.0 if highest else 1.0
    best = min(defined, key=lambda p: (sign * metric[p].value, PATH_ORDER.index(p)))
    return [p for p in defined if not differs(metric[best], metric[p], margin)]


def _cheapest(paths: list[str], config: RecommendConfig) -> tuple[str, list[str]]:
    """The cheapest of ``paths`` (ties in cost by :data:`PATH_ORDER`), and the others."""
    chosen = min(paths, key=lambda p: (config.cost(p), PATH_ORDER.index(p)))
    return chosen, [p for p in paths if p != chosen]


def decide(event: EventType, measures: dict[str, PathMeasure], config: RecommendConfig) -> Decision:
    """Recommend a path for one event type.

    Parameters
    ----------
    event : EventType
        The event and what it declares (kind, sensitive, mission_critical, needs_context).
    measures : dict of str to PathMeasure
        What each candidate path (:func:`candidate_paths`) does to it, on the same visitors.
    config : RecommendConfig
        Loss budget, tie margin and costs.

    Returns
    -------
    Decision
        The path, the rule or measurement that decided, and warnings (a rule's path over the
        budget, a loss whose interval straddles the budget).
    """
    name, budget = event.name, config.loss_budget
    if event.kind == "client_only":
        decision = Decision(name, "client", "client_only", "it needs the browser itself")
    elif event.kind == "offsite":
        decision = Decision(name, "server", "offsite", "no browser is involved")
    elif event.sensitive or event.mission_critical:
        rule = "sensitive" if event.sensitive else "mission_critical"
        why = (
            "it is a sensitive figure, where discrepancies from blockers or unloads are costly"
            if event.sensitive
            else "it triggers emails or money, so no visitor may be missed"
        )
        if event.needs_context:
            path = "hybrid"
            why += f"; it needs {', '.join(event.needs_context)}, which the browser forwards"
        else:
            path = "server"
        decision = Decision(name, path, rule, why)
    else:
        decision = _measured(event, measures, config)
    chosen = measures.get(decision.path)
    if chosen is not None and chosen.budget_loss.defined:
        lost, ci = chosen.budget_loss.value, chosen.budget_loss.ci
        if decision.rule in ("sensitive", "mission_critical") and lost > budget:
            decision.warnings.append(
                f"the {decision.path} path still loses {lost:.1%}, over the {budget:.1%} budget"
            )
        elif decision.rule == "client_only" and lost > budget:
            decision.warnings.append(
                f"it loses {lost:.1%}, over the {budget:.1%} budget, but no other path can carry it"
            )
        elif decision.rule in MEASURED_WITHIN and ci is not None and ci[0] <= budget < ci[1]:
            decision.warnings.append(
                f"borderline: the loss's 95% interval [{ci[0]:.1%}, {ci[1]:.1%}] contains the "
                f"{budget:.1%} budget"
            )
    return decision


def _measured(
    event: EventType, measures: dict[str, PathMeasure], config: RecommendConfig
) -> Decision:
    budget = config.loss_budget
    paths = [p for p in candidate_paths(event) if p in measures]
    losses = {p: measures[p].budget_loss for p in paths}
    within = [p for p in paths if fits_budget(losses[p], budget, config.tie_margin)]
    if not within:
        tied = _tied_best(paths, losses, config.tie_margin)
        if event.needs_context:
            coverage = {p: measures[p].context_coverage for p in tied}
            tied = _tied_best(tied, coverage, config.tie_margin, highest=True)
        path, tied = _cheapest(tied, config)
        return Decision(
            event.name,
            path,
            "least_loss",
            f"no path keeps the loss within the {budget:.1%} budget and this one loses least",
            tied,
            [f"no path meets the {budget:.1%} loss budget"],
        )
    if event.needs_context:
        coverage = {p: measures[p].context_coverage for p in within}
        best = _tied_best(within, coverage, config.tie_margin, highest=True)
        path, tied = _cheapest(best, config)
        needs = ", ".join(event.needs_context)
        reason = (
            f"{_fit(losses[path], budget)} and it brings {needs} on the most true events "
            f"({coverage[path].value:.1%} of them)"
        )
        if tied:
            reason += (
                f"; {', '.join(tied)} did not bring it on significantly more, "
                "and it is the cheaper to build"
            )
        return Decision(event.name, path, "most_context_coverage", reason, tied)
    path, others = _cheapest(within, config)
    return Decision(
        event.name,
        path,
        "cheapest_within_budget",
        f"{_fit(losses[path], budget)} and it is the cheapest such path to build",
        others,
    )


def _fit(loss: Metric, budget: float) -> str:
    """Why a path's loss counts as within the budget, in words."""
    if loss.value <= budget:
        return f"its loss fits the {budget:.1%} budget"
    return (
        f"its loss ({loss.value:.1%}) is within the tie margin of the {budget:.1%} budget or "
        "not significantly over it, which counts as fitting"
    )


__all__ = [
    "PATH_ORDER",
    "RULES",
    "SIGNIFICANCE",
    "Decision",
    "Metric",
    "PathMeasure",
    "RecommendConfig",
    "candidate_paths",
    "decide",
    "differs",
    "fits_budget",
]
