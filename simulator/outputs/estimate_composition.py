"""Who the client's data is missing, as text: raw client composition and KPIs against corrected.

The terminal shows all event types pooled, one block per column (device, browser, country,
channel); the Markdown report adds one table per event type. Shares are percentages, shifts
(corrected minus raw client) percentage points, each with its 95% bootstrap interval.
"""

from __future__ import annotations

from typing import Any

from simulator.outputs.formatting import count, interval, number, percent, points, points_range
from simulator.outputs.text_pieces import Piece, TextTable, Title

ALL_EVENTS = "(all events)"
HEADER = ["column", "category", "client", "corrected", "95% CI", "shift", "95% CI", "server"]


def _body(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [r["dimension"], str(r["category"]), percent(r["client"]), percent(r["corrected"]),
         interval(r["corrected_ci"]), points(r["shift"]), points_range(r["shift_ci"]),
         percent(r["server"])]
        for r in rows
    ]  # fmt: skip


def composition_lines(record: dict[str, Any], every_event: bool = False) -> list[Piece]:
    """The corrected composition as text pieces (empty when the log has no segments).

    Parameters
    ----------
    record : dict
        An estimate record with a ``composition`` entry.
    every_event : bool
        Also one table per event type (for the report), not only all events pooled.

    Returns
    -------
    list of str, Title or TextTable
        The pieces, starting with a blank line and a title.
    """
    comp = record.get("composition") or {}
    rows = comp.get("rows") or []
    if not rows:
        return []
    lines: list[Piece] = [
        "",
        Title("Composition of the client's events, raw and corrected", note=comp["method"]),
    ]
    events = [ALL_EVENTS]
    if every_event:
        events += list(dict.fromkeys(r["event"] for r in rows if r["event"] != ALL_EVENTS))
    for event in events:
        mine = [r for r in rows if r["event"] == event]
        if every_event:
            lines += ["", Title(event, level=3)]
        lines.append(TextTable(HEADER, _body(mine), left=2))
    lines.append(
        "client: shares among the events the client path received; corrected: the same events "
        "weighted by how many true events each stands for"
        + (", raked to the server's margins" if comp.get("rake") else "")
        + "; shift: corrected minus client (who the client's data is missing)."
    )
    return lines + value_lines(comp.get("value") or [])


def site_lines(record: dict[str, Any]) -> list[Piece]:
    """Per segment, its share of the visitors, blocked share and unblocked client loss.

    Parameters
    ----------
    record : dict
        An estimate record (``site`` is optional).

    Returns
    -------
    list of str, Title or TextTable
        A blank line, a title and the table (empty without a site profile).
    """
    segments = (record.get("site") or {}).get("segments") or []
    if not segments:
        return []
    body = [
        [f"{s['device'] or '-'} / {s['browser'] or '-'}", count(s["visitors"]),
         percent(s["share"]), percent(s["blocked"]), interval(s["blocked_ci"]),
         percent(s["client_loss"]), interval(s["client_loss_ci"])]
        for s in segments
    ]  # fmt: skip
    header = ["device / browser", "visitors", "share", "blocked", "95% CI",
              "unblocked loss", "95% CI"]  # fmt: skip
    return [
        "",
        Title(
            "Visitors per segment: blocked (the client sent nothing) and the client's loss for "
            "the others (its device)"
        ),
        TextTable(header, body),
    ]


def _range(ci: list, fmt) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "-"
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def value_lines(rows: list[dict[str, Any]]) -> list[Piece]:
    """The value the client's events carry, raw and corrected (empty without values).

    Parameters
    ----------
    rows : list of dict
        The ``composition.value`` rows of an estimate record.

    Returns
    -------
    list of str, Title or TextTable
        A blank line, a title and the table.
    """
    if not rows:
        return []
    body = [
        [r["event"], number(r["client_mean"]), number(r["corrected_mean"]),
         _range(r["corrected_mean_ci"], number), number(r["mean_shift"]),
         count(r["client_total"], 0), count(r["corrected_total"], 0),
         _range(r["corrected_total_ci"], lambda x: count(x, 0))]
        for r in rows
    ]  # fmt: skip
    header = ["event", "client mean", "corrected", "95% CI", "shift", "client total",
              "corrected total", "95% CI"]  # fmt: skip
    return [
        "",
        Title("Value of the events (mean per event and total), raw client and corrected"),
        TextTable(header, body),
    ]


def kpi_lines(record: dict[str, Any]) -> list[Piece]:
    """The KPIs asked for, raw client and corrected (empty when none were asked for).

    Parameters
    ----------
    record : dict
        An estimate record (``kpis`` is optional).

    Returns
    -------
    list of str, Title or TextTable
        A blank line, a title, the table and what the columns mean.
    """
    rows = record.get("kpis") or []
    if not rows:
        return []
    body = [
        [k["name"], f"{k['numerator']} / {k['denominator']}", number(k["observed"]),
         number(k["truth"]), _range(k["truth_ci"], number),
         percent(k["relative_bias"], sign=True), interval(k["relative_bias_ci"])]
        for k in rows
    ]  # fmt: skip
    header = ["KPI", "ratio", "client", "corrected", "95% CI", "client bias", "95% CI"]
    return [
        "",
        Title("KPIs, raw client and corrected"),
        TextTable(header, body, left=2),
        "client: from the events and visitors the client path received; corrected: from the "
        "estimated true events (Chapman per stratum) and the visitors either path saw; client "
        "bias: client / corrected - 1.",
    ]


__all__ = ["composition_lines", "kpi_lines", "site_lines", "value_lines"]
