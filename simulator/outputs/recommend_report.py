"""Lay out a recommendation record: a terminal table and a paragraph per event.

Every function reads the JSON-ready record of :func:`simulator.experiments.recommend.recommend` (or
one of its ``events``), so a saved ``--json`` file can be laid out again without simulating. The
Markdown and HTML report is :mod:`simulator.outputs.recommend_document`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from simulator.experiments.recommend_rules import MEASURED_WITHIN, PATH_ORDER
from simulator.outputs.formatting import CAUSE_WORDS, finite, interval, percent
from simulator.outputs.opt_out import mode_statement

NOTABLE_SHIFT = 0.01
"""A composition shift (TVD) at least this large is mentioned in the paragraph."""


def cell(value: Any, ci: Any) -> str:
    """A share and its interval for the table: ``4.9 [4.6, 5.2]`` (percent)."""
    if not finite(value):
        return "-"
    text = percent(value, unit=False)
    if interval(ci) != "-":
        text += f" {interval(ci)}"
    return text


def context_lost(record: Mapping[str, Any]) -> dict:
    """What browser context the recommended path fails to bring for one event.

    Parameters
    ----------
    record : mapping
        An event record with ``recommendation``, ``kind``, ``needs_context`` and ``paths``.

    Returns
    -------
    dict
        ``fields`` (the declared context missing, possibly on part of the events), ``share``
        (of true events that do not arrive with it: lost on the way, or delivered without it;
        ``None`` when no context is needed), ``text`` in plain words and ``short`` for the table.
    """
    path, needs = record["recommendation"], list(record.get("needs_context") or [])
    m = record.get("paths", {}).get(path) or {}
    if record.get("kind") == "offsite":
        return _lost([], None, "none (no browser is involved)", "none")
    if not needs:
        if path == "server":
            return _lost([], None, "all, but none is needed", "all (none needed)")
        return _lost([], None, "none needed", "none needed")
    named, coverage = ", ".join(needs), m.get("context_coverage")
    gap = 1.0 - coverage if finite(coverage) else None
    if path == "server":
        return _lost(needs, gap, f"{named} on every event", f"all: {named}")
    if gap is None or gap <= 0:
        return _lost([], gap, "none", "none")
    lost, bare = m.get("budget_loss"), m.get("without_context")
    parts = [f"{percent(lost)} never arrive"] if finite(lost) and lost > 0 else []
    if finite(bare) and bare > 0:
        why = "the forwarding failed" if path == "hybrid" else "only the server copy arrived"
        parts.append(f"{percent(bare)} arrive without it because {why}")
    detail = f" ({'; '.join(parts)})" if parts else ""
    text = f"{named} missing on {percent(gap)} of true events{detail}"
    return _lost(needs, gap, text, f"{named} on {percent(gap)}")


def _lost(fields: list[str], share: Any, text: str, short: str) -> dict:
    return {"fields": fields, "share": share, "text": text, "short": short}


def _causes_text(causes: Mapping[str, float]) -> str:
    ranked = sorted(causes.items(), key=lambda kv: -kv[1])[:2]
    if not ranked:
        return ""
    return ", mostly to " + " and ".join(CAUSE_WORDS.get(k, k) for k, _ in ranked)


def paragraph(record: Mapping[str, Any], budget: float, respect: bool = False) -> str:
    """A short paragraph in plain words explaining one event's recommendation.

    Parameters
    ----------
    record : mapping
        An event record (see :func:`simulator.experiments.recommend.recommend`); ``context_lost``
        may be missing, it is then computed.
    budget : float
        The loss budget used.
    respect : bool
        Whether the candidates respected visitors' choice (losses are then among the events
        of visitors who did not opt out).

    Returns
    -------
    str
        A few sentences: the choice and why, its loss with interval and main causes, the context
        it loses, how the other paths compare, and any warning.
    """
    path, paths = record["recommendation"], record["paths"]
    chosen = paths.get(path) or {}
    out = [f"{record['event']}: track it on the {path} path, because {record['reason']}."]
    withheld = chosen.get("withheld")
    if respect and finite(chosen.get("budget_loss")):
        ci = chosen.get("budget_loss_ci") or [math.nan, math.nan]
        out.append(
            f"There it loses {percent(chosen['budget_loss'])} of the events of visitors who did "
            f"not opt out (95% CI {percent(ci[0])} to {percent(ci[1])})"
            + (
                f"; {percent(withheld)} of all events are withheld by their choice."
                if finite(withheld) and withheld > 0
                else "."
            )
        )
    elif finite(chosen.get("loss")):
        ci = chosen.get("loss_ci") or [math.nan, math.nan]
        causes = {k: v for k, v in (chosen.get("causes") or {}).items() if k != "withheld"}
        out.append(
            f"There it loses {percent(chosen['loss'])} of them (95% CI {percent(ci[0])} to "
            f"{percent(ci[1])}){_causes_text(causes)}."
        )
    coverage = chosen.get("context_coverage")
    if record.get("needs_context") and finite(coverage):
        ci = chosen.get("context_coverage_ci") or [math.nan, math.nan]
        out.append(
            f"{percent(coverage)} of the true events arrive with "
            f"{', '.join(record['needs_context'])} (95% CI {percent(ci[0])} to {percent(ci[1])})."
        )
    measured = chosen.get("budget_loss")
    if finite(measured) and record.get("rule") not in MEASURED_WITHIN:
        verdict = "within" if measured <= budget else "over"
        out.append(f"That is {verdict} your {percent(budget)} loss budget.")
    lost = record.get("context_lost") or context_lost(record)
    out.append(f"Context lost: {lost['text']}.")
    shift = chosen.get("shift") or {}
    if finite(shift.get("tvd")) and shift["tvd"] >= NOTABLE_SHIFT:
        ci = shift.get("tvd_ci") or [math.nan, math.nan]
        out.append(
            f"What arrives is skewed most by {shift['dimension']}: total variation distance "
            f"{percent(shift['tvd'])} from the truth (95% CI {percent(ci[0])} to {percent(ci[1])})."
        )
    others = []
    for other in PATH_ORDER:
        m = paths.get(other)
        if other == path or m is None:
            continue
        text = f"{other} loses {percent(m.get('budget_loss'))}"
        if record.get("needs_context") and finite(m.get("context_coverage")):
            text += f" and brings the context on {percent(m['context_coverage'])}"
        others.append(text)
    if others:
        out.append(f"On the other paths: {'; '.join(others)}.")
    if record.get("tied_with") and record.get("rule") not in MEASURED_WITHIN:
        out.append(
            f"{', '.join(record['tied_with'])} did as well on that measure but cost more to build."
        )
    for warning in record.get("warnings") or []:
        out.append(f"Note: {warning}.")
    return " ".join(out)


def narrated(record: Mapping[str, Any]) -> dict:
    """Return a copy of a recommendation record with its plain-words parts added.

    Parameters
    ----------
    record : mapping
        A record of :func:`simulator.experiments.recommend.recommend`.

    Returns
    -------
    dict
        The record with ``mode.statement``, and each event's ``context_lost`` (what browser
        context the recommended path loses) and ``paragraph`` (the recommendation in words).
    """
    out = copy.deepcopy(dict(record))
    respect = bool(out["mode"]["respect_choice"])
    out["mode"]["statement"] = mode_statement(respect, anonymous=True)
    for event in out["events"]:
        event["context_lost"] = context_lost(event)
        event["paragraph"] = paragraph(event, out["loss_budget"], respect)
    return out


def costs_text(costs: Mapping[str, float]) -> str:
    """The engineering costs in the paths' usual order: ``client 1, server 2, hybrid 3, dual 4``."""
    order = [p for p in PATH_ORDER if p in costs] + sorted(set(costs) - set(PATH_ORDER))
    return ", ".join(f"{p} {costs[p]:g}" for p in order)


def _path_cell(m: Mapping[str, Any] | None, key: str) -> str:
    """One path's figure for the table: ``key`` is a share with ``key_ci``, or shift/withheld."""
    if m is None:
        return "-"
    if key == "withheld":
        return cell(m.get("withheld"), None)
    if key == "shift":
        shift = m.get("shift") or {}
        return cell(shift.get("tvd"), shift.get("tvd_ci"))
    return cell(m.get(key), m.get(f"{key}_ci"))


def _rows(event: Mapping[str, Any], respect: bool) -> list[list[str]]:
    metrics = [("loss %", "loss")]
    if respect:
        metrics = [("consenting loss %", "budget_loss"), ("withheld %", "withheld")]
    if event.get("needs_context"):
        metrics.append(("with context %", "context_coverage"))
    if event.get("kind") != "offsite":
        metrics.append(("shift (TVD) %", "shift"))
    rows = []
    for i, (label, key) in enumerate(metrics):
        first = i == 0
        rows.append(
            [
                event["event"] if first else "",
                event["recommendation"] if first else "",
                label,
                *(_path_cell(event["paths"].get(path), key) for path in PATH_ORDER),
                event["decided_by"] if first else "",
                event["context_lost"]["short"] if first else "",
            ]
        )
    return rows


def format_recommendation(record: Mapping[str, Any], paragraphs: bool = True) -> str:
    """Format a recommendation record for the terminal.

    Parameters
    ----------
    record : mapping
        The record of :func:`simulator.experiments.recommend.recommend`.
    paragraphs : bool
        Whether to add the plain-words paragraph of every event after the table.

    Returns
    -------
    str
        A header (scenario, size, budget, costs, mode, interval method), the table (one block
        of rows per event: loss and, where context is needed, the share of true events arriving
        with it under each path, with 95% intervals, the rule or measurement that decided, the
        context the choice misses), and the paragraphs. No trailing newline.
    """
    record = narrated(record)
    sc = record["scenario"]
    respect = record["mode"]["respect_choice"]
    costs = costs_text(record["costs"])
    lines = [
        f"Scenario {sc['name']!r}: {sc['users']:,} users; {sc['replications']} replication"
        f"{'' if sc['replications'] == 1 else 's'}; seed {sc['seed']}",
        f"Loss budget {percent(record['loss_budget'])}; engineering costs {costs}; ties within "
        f"{percent(record['tie_margin'])} or not significant go to the cheaper path",
        record["mode"]["statement"],
        f"Intervals: {record['interval_method']}",
        "",
    ]
    header = ["event", "choice", "metric", *PATH_ORDER, "decided by", "context lost"]
    table = [header]
    for event in record["events"]:
        table += _rows(event, respect)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    right = set(range(3, 3 + len(PATH_ORDER)))
    for r in table:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    if paragraphs:
        for event in record["events"]:
            lines += ["", event["paragraph"]]
    return "\n".join(lines)


__all__ = [
    "CAUSE_WORDS",
    "cell",
    "context_lost",
    "costs_text",
    "format_recommendation",
    "paragraph",
]
