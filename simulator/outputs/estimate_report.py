"""The text of ``trackloss estimate``: on the terminal, and the same as a Markdown or HTML report.

Per event type and segment: the two-source table (both, client only, server only), the capture
rates, Chapman's estimate of the true count with Lincoln-Petersen beside it, and the client's
loss with its bootstrap interval; then what the bot filters found and the assumptions to check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.outputs.estimate_checks import assumption_lines
from simulator.outputs.estimate_composition import composition_lines, kpi_lines, site_lines
from simulator.outputs.estimate_models import ONE_PATH, model_lines
from simulator.outputs.formatting import count, interval, percent, plural
from simulator.outputs.markup import Block, to_html, to_markdown, write_document
from simulator.outputs.text_pieces import Piece, TextTable, Title, as_blocks, as_lines

TITLE = "Estimated loss from your own logs"

ASSUMPTIONS = (
    "Within a stratum the client and server paths miss events independently; shared outages "
    "or a server copy that depends on the browser make misses move together, and the true "
    "count is then underestimated.",
    "Every event was meant to be sent on both paths; events sent on one path only cannot be "
    "estimated (their rows are marked).",
    "Visitors who withheld consent send nothing on either path: they are not estimable here.",
    "The copies of one event share a key that the vendor does not deduplicate away.",
    "Both paths name a visitor by the same id: the visitor counts, the Bots line and the "
    "intervals (which resample visitors) rest on it.",
)


def _segment(row: dict[str, Any], by: list[str]) -> str:
    return " / ".join(str(row[b]) for b in by) if by else "all"


def summary_lines(record: dict[str, Any], every_event: bool = False) -> list[Piece]:
    """The estimate in pieces (header, per-stratum table, events, bots, flags).

    With ``every_event`` the corrected composition has a table per event type too.
    """
    by = record["by"]
    lines: list[Piece] = [
        f"trackloss estimate: {record['source']}",
        f"{count(record['copies'])} copies, {plural(record['visitors'], 'visitor')}; "
        f"true events by {record['true_events_method']}; intervals: {record['interval_method']}",
        *_raised_line(record),
        "",
    ]
    header = ["event", "segment", "both", "client", "server", "p_c", "p_s", "N Chapman",
              "N L-P", "client loss", "95% CI"]  # fmt: skip
    body = [
        [r["event"], _segment(r, by), count(r["n11"]), count(r["n10"]), count(r["n01"]),
         percent(r["p_client"]), percent(r["p_server"]), count(r["chapman"], 0),
         count(r["lincoln_petersen"], 0), percent(r["client_loss"]),
         interval(r["client_loss_ci"]) + ("" if r["estimable"] else ONE_PATH)]
        for r in record["rows"]
    ]  # fmt: skip
    lines.append(TextTable(header, body))
    lines += ["", Title("Client loss per event type (all segments, stratified)")]
    lines.append(TextTable(
        ["event", "client loss", "95% CI"],
        [[e["event"], percent(e["client_loss"]), interval(e["client_loss_ci"])]
         for e in record["events"]],
    ))  # fmt: skip
    lines += model_lines(record)
    lines += composition_lines(record, every_event)
    lines += kpi_lines(record)
    lines += site_lines(record)
    bots = record["bots"]
    lines += [
        "",
        f"Bots: {count(bots['crawler_rows'])} copies of crawlers' events (by user agent) "
        "dropped; "
        f"{plural(bots['server_only_visitors'], 'visitor')} with server copies but no client "
        f"copy ever ({plural(bots['server_only_events'], 'event')}) kept in the figures above.",
    ]
    if "sensitivity" in record:
        worst = max(
            record["sensitivity"],
            key=lambda e: abs((e["client_loss"] or 0) - _loss_of(record, e["event"])),
        )
        lines.append(
            f"Without those visitors the client loss of {worst['event']} would be "
            f"{percent(worst['client_loss'])} {interval(worst['client_loss_ci'])} "
            f"instead of {percent(_loss_of(record, worst['event']))}: they are bots, or "
            "humans whose browser sends nothing (full blockers), and the logs cannot tell them "
            "apart one by one."
        )
    lines += _silent_mix_lines(bots.get("silent_mix"), record)
    gaps = record["collector_gaps"]
    if gaps["stretches"]:
        lines += [
            "",
            f"WARNING: {gaps['stretches']:,} silences ({plural(gaps['minutes'], 'minute')} in "
            "all) with no copy on either path, too long for the visitors arriving around them: "
            "shared collector outages make both paths miss the same events, so the true counts "
            "and the losses above are too low.",
        ]
    lines += assumption_lines(record)
    lines += ["", Title("Assumptions"), *(f"- {a}" for a in ASSUMPTIONS)]
    return lines


def _raised_line(record: dict[str, Any]) -> list[str]:
    """A line under the header naming the raised checks, whose warnings come after the tables."""
    raised = [c["check"] for c in record.get("checks", []) if c["raised"]]
    if not raised:
        return []
    return [
        f"WARNING: {plural(len(raised), 'assumption check')} raised ({', '.join(raised)}): "
        "see the warnings at the end before reading the figures."
    ]


def _silent_mix_lines(mix: dict[str, Any] | None, record: dict[str, Any]) -> list[str]:
    """What the event mix of the visitors with a silent browser says of who they are."""
    if not mix or "people_at_most" not in mix:
        return []
    ratio = {e["event"]: e for e in mix["events"]}
    low, most = ratio[mix["from_event"]], ratio[mix["most_event"]]
    if not mix["mix_differs"]:
        return [
            f"Per visitor they sent the server from {low['ratio']:.2f} times the {low['event']} "
            f"to {most['ratio']:.2f} times the {most['event']} that visitors whose browser "
            "talks did: their mix of events does not set them apart from people who block."
        ]
    return [
        f"Per visitor they sent the server {most['ratio']:.2f} times the {most['event']} of "
        f"visitors whose browser talks, but {low['ratio']:.2f} times the {low['event']} "
        f"[{low['ratio_ci'][0]:.2f}, {low['ratio_ci'][1]:.2f}]: people who block act much like "
        "people who do not, so "
        f"at most {percent(mix['people_at_most'])} {interval(mix['people_at_most_ci'])} of them "
        "are people acting like the others; the rest are bots, or people whose visits ended "
        "before their browser sent anything, who send fewer events too."
    ] + _at_most_lines(mix, record)


def _at_most_lines(mix: dict[str, Any], record: dict[str, Any]) -> list[str]:
    """The loss with no more people among the silent visitors than the bound allows."""
    at_most = {e["event"]: e for e in mix.get("loss_at_most", [])}
    shown = [e for e in record["events"] if e["event"] in at_most and e["client_loss"] is not None]
    if not shown:
        return []
    # The event type whose loss the bots moved most.
    worst = max(shown, key=lambda e: e["client_loss"] - (at_most[e["event"]]["client_loss"] or 0))
    mine = at_most[worst["event"]]
    if mine["client_loss_ci"][1] is None:
        return []
    return [
        f"Counting no more people among them than that, the client loss of {worst['event']} is "
        f"at most {percent(mine['client_loss_ci'][1])} ({percent(mine['client_loss'])} "
        f"{interval(mine['client_loss_ci'])}), against {percent(worst['client_loss'])} with all "
        "of them counted as people."
    ]


def _loss_of(record: dict[str, Any], event: str) -> float:
    return next(e["client_loss"] or 0.0 for e in record["events"] if e["event"] == event)


def format_estimate(record: dict[str, Any]) -> str:
    """The terminal text of an estimate."""
    return "\n".join(as_lines(summary_lines(record)))


def estimate_blocks(record: dict[str, Any]) -> list[Block]:
    """The estimate as report blocks: its title, then each section with its heading.

    Parameters
    ----------
    record : dict
        An estimate record.

    Returns
    -------
    list of Block
        The blocks, with the corrected composition per event type too.
    """
    pieces = summary_lines(record, every_event=True)
    first = next(i for i, p in enumerate(pieces) if isinstance(p, TextTable))
    pieces.insert(first, Title("Loss per event type and segment"))
    return [Block("h1", TITLE), *as_blocks(pieces)]


def write_estimate_report(record: dict[str, Any], path: str | Path) -> Path:
    """Write the estimate as Markdown (``.md``) or one self-contained HTML page (``.html``).

    Parameters
    ----------
    record : dict
        An estimate record.
    path : str or Path
        The report file; its suffix chooses the format.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    ValueError
        When the suffix is neither Markdown nor HTML.
    """
    blocks = estimate_blocks(record)
    return write_document(path, lambda: to_html(blocks), lambda _: to_markdown(blocks), dict)


__all__ = [
    "ASSUMPTIONS", "TITLE", "estimate_blocks", "format_estimate", "summary_lines",
    "write_estimate_report",
]  # fmt: skip
