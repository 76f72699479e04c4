"""Headlines: what a run means for one tracking plan, in plain sentences.

A headline names, for the events that matter (sessions, page views, conversions, mission-critical
events and the worst-hit event), how much is lost on which path with its interval and main cause,
and what analytics counts on top (bots, duplicates); then the KPIs whose recorded value is clearly
off, and the largest clear shift in who is seen. Everything is read from the result record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulator.config.operating_systems import UNSTATED
from simulator.outputs.formatting import CAUSE_WORDS, finite, percent, percent_range

NARRATED_DIMENSIONS = ("device", "browser", "os", "country", "channel")
"""Dimensions a headline may name a shift in (blocker kind is the cause, not news)."""
UNNAMED_CATEGORIES = {("os", UNSTATED)}
"""Categories that are not a group of visitors one could name in a sentence."""


def _excludes_zero(ci: Any) -> bool:
    return (
        isinstance(ci, Sequence)
        and len(ci) == 2
        and all(finite(v) for v in ci)
        and (ci[0] > 0 or ci[1] < 0)
    )


def _key_events(summary: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> list[str]:
    """Events worth a sentence: sessions, page views, conversions, mission-critical, worst."""
    config = summary.get("scenario", {}).get("config", {}) or {}
    declared = {e.get("name"): e for e in config.get("events", [])}
    funnel = [n for n, e in declared.items() if e.get("kind") == "funnel"]
    wanted = []
    for name, e in declared.items():
        if (
            e.get("kind") in ("session_start", "page_view")
            or e.get("has_value")
            or e.get("mission_critical")
            or (funnel and name == funnel[-1])
        ):
            wanted.append(name)
    lossy = [r for r in rows if finite(r.get("loss"))]
    if lossy:
        worst = max(lossy, key=lambda r: r["loss"])
        if worst["loss"] > 0 and worst["event"] not in wanted:
            wanted.append(worst["event"])
    present = [r["event"] for r in rows]
    return [n for n in present if n in wanted] or present[:3]


def event_sentence(row: Mapping[str, Any]) -> str:
    """One plain sentence on an event under a plan: loss with its interval, cause, over-count."""
    name, path = row.get("event", "?"), row.get("path", "?")
    loss = row.get("loss")
    if not finite(loss):
        return f"{name}: never happened in the simulation."
    causes = row.get("causes") or {}
    ci = percent_range(row.get("loss_ci"))
    if loss <= 0:
        text = f"{name}: nothing lost on the {path} path"
    elif loss < 0.0005:
        text = f"{name}: almost nothing lost on the {path} path (under 0.1%, 95% CI {ci})"
    else:
        text = f"{name}: {percent(loss)} lost on the {path} path (95% CI {ci})"
    if loss > 0 and causes:
        top = max(causes, key=lambda c: causes[c])
        text += f", mostly to {CAUSE_WORDS.get(top, top)}"
    truth = row.get("truth") or 0
    extra = (row.get("bots") or 0) + (row.get("duplicates") or 0)
    if truth > 0 and extra / truth >= 0.005:
        parts = []
        if row.get("bots"):
            parts.append(f"bots {percent(row['bots'] / truth)}")
        if row.get("duplicates"):
            parts.append(f"duplicates {percent(row['duplicates'] / truth)}")
        text += f"; analytics also counts {percent(extra / truth)} extra ({', '.join(parts)})"
    return text + "."


def kpi_sentence(row: Mapping[str, Any]) -> str | None:
    """Say how wrong a recorded KPI is, when its interval excludes zero."""
    bias, ci = row.get("relative_bias"), row.get("relative_bias_ci")
    if not finite(bias) or not _excludes_zero(ci):
        return None
    name = str(row.get("name", "?")).replace("_", " ")
    way = "too high" if bias > 0 else "too low"
    ci_text = percent_range(ci, sign=True)
    return f"The recorded {name} is {percent(abs(bias))} {way} (95% CI {ci_text})."


def shift_sentence(row: Mapping[str, Any]) -> str | None:
    """Name the largest clear composition shift of an event among the narrated dimensions."""
    best = None
    for dim in NARRATED_DIMENSIONS:
        record = (row.get("bias") or {}).get(dim)
        if not record:
            continue
        for cat, s in record.get("shares", {}).items():
            if (dim, cat) in UNNAMED_CATEGORIES:
                continue
            if finite(s.get("diff")) and _excludes_zero(s.get("diff_ci")):
                if best is None or abs(s["diff"]) > abs(best[2]["diff"]):
                    best = (dim, cat, s)
    if best is None or abs(best[2]["diff"]) < 0.001:
        return None
    dim, cat, s = best
    way = "over" if s["diff"] > 0 else "under"
    return (
        f"Among {row['event']} events received, {cat} ({dim}) is {way}-represented: "
        f"{percent(s['received'])} of received against {percent(s['truth'])} of true events."
    )


def headline_items(summary: Mapping[str, Any], plan: str) -> list[str]:
    """The plain-words sentences for one plan, one short bullet each.

    Parameters
    ----------
    summary : mapping
        The result record.
    plan : str
        The plan's name.

    Returns
    -------
    list of str
        A sentence per key event, then per clearly biased KPI, then the largest clear shift.
    """
    rows = [r for r in summary.get("results", []) if r.get("plan") == plan]
    by_event = {r["event"]: r for r in rows}
    parts = [event_sentence(by_event[e]) for e in _key_events(summary, rows)]
    for k in summary.get("kpis", []):
        if k.get("plan") == plan and (s := kpi_sentence(k)):
            parts.append(s)
    firsts = [r for r in rows if r["event"] in _key_events(summary, rows)]
    for r in firsts[:1]:
        if s := shift_sentence(r):
            parts.append(s)
    return parts


def headline(summary: Mapping[str, Any], plan: str) -> str:
    """The plain-words paragraph for one plan: :func:`headline_items` joined."""
    return " ".join(headline_items(summary, plan))


__all__ = [
    "CAUSE_WORDS",
    "event_sentence",
    "finite",
    "headline",
    "headline_items",
    "kpi_sentence",
    "shift_sentence",
]
