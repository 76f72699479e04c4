"""The client-or-server decision for one event type: the article's rules first, measurements second.

The seed article's flow chart settles some events by what they are: client-only events (session
replay, ad pixels) can only be tracked in the browser, offsite events (a nightly job) only on the
server, and revenue or mission-critical events belong on the server, reaching for the browser's
context through the hybrid path when they need it. Every other event goes to the path with the
least bias on the metrics declared for it, among the paths whose loss fits the user's budget:

* loss, the share of true events that never arrive (in the privacy-respecting mode, the share of
  the events of visitors who did not opt out);
* context loss, when the event declares ``needs_context``: the share of delivered events that
  arrived without the browser's context (UTM, referrer, user agent...).

Two paths tie on a metric when their difference is not significant at 5% (paired across
replications, or two binomial proportions with one replication) or smaller than the configured
margin; ties go to the cheapest path to build (client < server < hybrid < dual by default).

The ``[recommend]`` scenario table it reads is
:class:`simulator.config.recommend_spec.RecommendConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scipy import stats

from simulator.config.recommend_spec import PATH_ORDER, RecommendConfig

if TYPE_CHECKING:
    from simulator.config.scenario import EventType

SIGNIFICANCE = 0.05
"""Level below which a difference between two paths is treated as real."""

MEASURED_WITHIN = ("least_context_loss", "cheapest_within_budget")
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
    """

    value: float
    ci: tuple[float, float] | None
    reps: tuple[float, ...]
    n: float

    @property
    def defined(self) -> bool:
        """Whether the share could be computed."""
        return math.isfinite(self.value)


@dataclass(frozen=True)
class PathMeasure:
    """What one path does to one event type: counts are means per replication."""

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
    context_loss: Metric


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
    "least_context_loss": "measured: least context loss within budget",
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
        :data:`SIGNIFICANCE`: a paired t test across replications when there are several, a
        two-proportion z test with one (conservative: common random numbers correlate the two).
    """
    if not (a.defined and b.defined):
        return a.defined != b.defined
    if abs(b.value - a.value) <= margin:
        return False
    if len(a.reps) > 1:
        d = [y - x for x, y in zip(a.reps, b.reps, strict=True)]
        mean = sum(d) / len(d)
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1))
        if sd == 0:
            return mean != 0
        t = mean / (sd / math.sqrt(len(d)))
        return 2 * stats.t.sf(abs(t), len(d) - 1) < SIGNIFICANCE
    var = sum(m.value * (1 - m.value) / m.n for m in (a, b) if m.n > 0)
    if var <= 0:
        return a.value != b.value
    z = (b.value - a.value) / math.sqrt(var)
    return 2 * stats.norm.sf(abs(z)) < SIGNIFICANCE


def _tied_lowest(paths: list[str], metric: dict[str, Metric], margin: float) -> list[str]:
    """Paths whose ``metric`` does not differ from the lowest one (the lowest included)."""
    defined = [p for p in paths if metric[p].defined] or paths
    lowest = min(defined, key=lambda p: (metric[p].value, PATH_ORDER.index(p)))
    return [p for p in defined if not differs(metric[lowest], metric[p], margin)]


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
    within = [p for p in paths if losses[p].defined and losses[p].value <= budget]
    if not within:
        tied = _tied_lowest(paths, losses, config.tie_margin)
        if event.needs_context:
            context = {p: measures[p].context_loss for p in tied}
            tied = _tied_lowest(tied, context, config.tie_margin)
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
        context = {p: measures[p].context_loss for p in within}
        path, tied = _cheapest(_tied_lowest(within, context, config.tie_margin), config)
        needs = ", ".join(event.needs_context)
        return Decision(
            event.name,
            path,
            "least_context_loss",
            f"its loss fits the {budget:.1%} budget and it keeps {needs} on the most "
            "delivered events",
            tied,
        )
    path, others = _cheapest(within, config)
    return Decision(
        event.name,
        path,
        "cheapest_within_budget",
        f"its loss fits the {budget:.1%} budget and it is the cheapest such path to build",
        others,
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
]
