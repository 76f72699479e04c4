"""Reporting the privacy-respecting mode: lost to faults versus withheld by the visitor's choice.

A plan with ``respect_blocker_choice = true`` treats visitors whose blocker targets analytics as
having opted out: the engine sends none of their events on any path (tally cause
``withheld``) and, with ``opted_out_count = "anonymous_count"``, keeps an anonymous count. Such a
loss is not a failure of the tracking and must not be read as one, so reports split a plan's
losses in two:

* **lost to faults**: :data:`FAULT_CAUSES` (blockers, unloads, network, full queues, exhausted
  retries, process restarts, visitors who never came back, no JavaScript);
* **withheld by choice**: ``withheld``.

Events still in a queue when the run ended (``pending``) are neither, and are shown apart, so
that for every plan and event ``truth = delivered + faults + withheld + pending``, where
``delivered`` counts the distinct true events that arrived.

The functions read the result record of :func:`simulator.stats.summary.summarise` (its ``results``
rows and ``scenario.config.plans``) and return plain lines, so the terminal report, the Markdown
report and ``trackloss recommend`` share one wording.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulator.model.tally import CHOICE_CAUSES, FAULT_CAUSES
from simulator.outputs.formatting import count, percent
from simulator.outputs.markup import Block, to_markdown


def mode_statement(respect: bool, anonymous: bool = False) -> str:
    """Say in one sentence which mode a plan (or a recommendation) used.

    Parameters
    ----------
    respect : bool
        Whether blocker choice was respected.
    anonymous : bool
        Whether opted-out events were kept as an anonymous count.

    Returns
    -------
    str
        A sentence without a trailing newline.
    """
    if not respect:
        return (
            "Blocker choice not respected (the default): every path sends what it can of every "
            "visitor, including those whose blocker targets analytics."
        )
    kept = " and only an anonymous count is kept" if anonymous else " and dropped"
    return (
        "Blocker choice respected: visitors whose blocker targets analytics count as opted out; "
        f"none of their events is sent on any path{kept}."
    )


def plan_modes(summary: Mapping[str, Any]) -> dict[str, tuple[bool, bool]]:
    """Plan name -> (respects choice, keeps an anonymous count), from the record's config.

    Returns an empty dict when the record does not carry the scenario's config.
    """
    config = (summary.get("scenario") or {}).get("config") or {}
    out = {}
    for plan in config.get("plans") or []:
        respect = bool(plan.get("respect_blocker_choice", False))
        anonymous = plan.get("opted_out_count", "drop") == "anonymous_count"
        out[str(plan.get("name", "?"))] = (respect, respect and anonymous)
    return out


def split_loss(row: Mapping[str, Any]) -> dict[str, float] | None:
    """Split one result row's true events into delivered, faults, withheld and pending.

    Parameters
    ----------
    row : mapping
        A ``results`` row: ``truth``, ``delivered``, ``pending``, ``anonymous`` and ``causes``
        (cause -> share of truth).

    Returns
    -------
    dict or None
        Counts ``truth``, ``delivered``, ``faults``, ``withheld``, ``pending``, ``anonymous``
        (means per replication) and shares of truth ``faults_share`` and ``withheld_share``;
        ``None`` when nothing was true.
    """
    truth = row.get("truth")
    if not isinstance(truth, int | float) or not truth > 0:
        return None
    causes = row.get("causes") or {}
    faults = sum(float(causes.get(c, 0.0)) for c in FAULT_CAUSES)
    withheld = sum(float(causes.get(c, 0.0)) for c in CHOICE_CAUSES)
    return {
        "truth": float(truth),
        "delivered": float(row.get("delivered", 0.0)),
        "faults": faults * truth,
        "withheld": withheld * truth,
        "pending": float(row.get("pending", 0.0)),
        "anonymous": float(row.get("anonymous", 0.0)),
        "faults_share": faults,
        "withheld_share": withheld,
    }


def mode_lines(summary: Mapping[str, Any]) -> list[str]:
    """Header lines naming the mode of every plan (none when the config is not in the record)."""
    modes = plan_modes(summary)
    if not modes:
        return []
    respecting = [p for p, (respect, _) in modes.items() if respect]
    if not respecting:
        return [mode_statement(False)]
    lines = []
    for plan in respecting:
        lines.append(f"Plan {plan}: {mode_statement(True, modes[plan][1])}")
    others = [p for p in modes if p not in respecting]
    if others:
        lines.append(f"Plans {', '.join(others)}: blocker choice not respected (the default).")
    return lines


def plan_lines(
    summary: Mapping[str, Any], plan: str, rows: Sequence[Mapping[str, Any]]
) -> list[str]:
    """For a plan that respects choice, a table splitting faults from what was withheld.

    Parameters
    ----------
    summary : mapping
        The result record (gives the plan's mode).
    plan : str
        Plan name.
    rows : sequence of mapping
        The plan's ``results`` rows.

    Returns
    -------
    list of str
        Indented lines to print under the plan's loss table; empty for other plans.
    """
    respect, anonymous = plan_modes(summary).get(plan, (False, False))
    if not respect:
        return []
    header = ["event", "delivered", "faults %", "withheld %", "pending"]
    if anonymous:
        header.append("anonymous")
    table = [header]
    for row in rows:
        split = split_loss(row)
        if split is None:
            continue
        cells = [
            str(row.get("event", "?")),
            count(split["delivered"]),
            percent(split["faults_share"], unit=False),
            percent(split["withheld_share"], unit=False),
            count(split["pending"]),
        ]
        if anonymous:
            cells.append(count(split["anonymous"]))
        table.append(cells)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [
        "",
        "  Lost to faults vs withheld by choice (delivered + faults + withheld + pending = truth):",
    ]
    for r in table:
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("    " + "  ".join(cells).rstrip())
    return lines


def choice_blocks(summary: Mapping[str, Any]) -> list[Block]:
    """The mode of every plan, then per respecting plan a table of faults vs withheld.

    Parameters
    ----------
    summary : mapping
        The result record of :func:`simulator.stats.summary.summarise`.

    Returns
    -------
    list of Block
        A section for the Markdown/HTML report (:mod:`simulator.outputs.markup`), headed "Respecting
        visitors' choice"; empty when the record does not say which mode the plans used.
    """
    lines = mode_lines(summary)
    if not lines:
        return []
    out = [Block("h2", "Respecting visitors' choice"), Block("list", items=lines)]
    header = ["event", "truth", "delivered", "lost to faults", "withheld by choice", "pending"]
    for plan, (respect, anonymous) in plan_modes(summary).items():
        if not respect:
            continue
        rows = []
        for row in summary.get("results", []):
            split = split_loss(row) if row.get("plan") == plan else None
            if split is not None:
                cells = [
                    str(row.get("event", "?")),
                    count(split["truth"]),
                    count(split["delivered"]),
                    f"{percent(split['faults_share'], unit=False)}%",
                    f"{percent(split['withheld_share'], unit=False)}%",
                    count(split["pending"]),
                ]
                rows.append(cells + ([count(split["anonymous"])] if anonymous else []))
        out.append(Block("h3", f"Plan {plan}"))
        out.append(Block("table", header=header + (["anonymous"] if anonymous else []), rows=rows))
    return out


def choice_markdown(summary: Mapping[str, Any]) -> str:
    """:func:`choice_blocks` rendered as Markdown (``""`` when there is nothing to say)."""
    found = choice_blocks(summary)
    return to_markdown(found) if found else ""


__all__ = [
    "choice_blocks",
    "choice_markdown",
    "mode_lines",
    "mode_statement",
    "plan_lines",
    "plan_modes",
    "split_loss",
]
