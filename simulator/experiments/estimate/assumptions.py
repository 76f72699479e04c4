"""Checks of the estimate's assumptions that the counts can show, each raised or not.

Capture-recapture needs every event to be sent on both paths, each path to miss it on its own,
and the two copies to be countable as two (and as one event), among the visitors who are
people; per segment, each event must be placed in its segment whichever path saw it, and per
visitor, both paths must name a visitor alike. Nine cases break that and leave a trace in the
log:

- **Late copies**: a path whose first copy of an event arrives long after the event's first
  copy (a retry after an outage, a browser's retry store on the next visit) missed the figures
  the event belonged to. Such copies are left out of the table and counted here; a duplicate
  on a path that was in time changes nothing.
- **Shared message ids**: when the copies of one event carry the same message id and the vendor
  deduplicates by it, an event both paths saw reaches the log as one copy, so ``n11`` cannot be
  counted and the loss of both paths is overstated. A ``message_id`` column equal across an
  event's paths shows it; so does a log in which no event arrived on both paths at all.
- **One path only** (hybrid): an event type whose copies all come from the server although
  the same visitors' browsers send other events is sent by the server, alone or from the
  browser's request to it (hybrid); its server copy depends on the browser, not on a second
  independent path, and its loss cannot be estimated.
- **Withheld by choice**: visitors whose blocker targets analytics and whose choice the site
  respects send nothing on either path; no log counts them. A blocker leaves visitors whose
  server copies arrive while their browser stays silent; when hardly any are seen, either few
  visitors block analytics or those who do are withheld by choice, and the loss shown is among
  the visitors who did not opt out.
- **The server's own user agent**: crawlers are told apart by the user agent of their copies,
  but some collectors record as a server copy's agent the server's HTTP client (python-requests,
  okhttp), which crawler lists name too. When most server copies of events the client saw from
  a browser name one, server copies are not filtered by their agent: crawlers that reach the
  server only stay among the visitors with server copies only, counted apart.
- **Segments the server does not know**: an event takes its segment (device, browser, ...)
  from its client copy, else from its other copies. A server that is not told the visitor's
  device leaves it empty on its copies, so the events only the server saw (every event of a
  blocked visitor) fall in a segment of their own, ``(none)``, where the client saw nothing to
  pair them with: the loss per device comes out too low, and so, to a lesser degree, does the
  loss per event type stratified by device. Without that column in ``by`` it is right.
- **Visitors named apart**: when the client's copies carry the browser's anonymous id and the
  server's the signed-in user's, the copies of one event name two visitors. The losses stand
  (copies pair by their key), but one person counts as several visitors: the visitor counts,
  the visitors with server copies only, the site profile and the KPIs per visitor are wrong,
  and the intervals, which resample visitors, lose the tie between a person's events.
- **Keys shared by events**: a key that lives longer than one event (a page view's, a
  session's, a cookie's) gathers the copies of several events, whose copies on one path then
  name several event types; each key counts as one event.
- **Segments named apart**: the server fills a segment column with other values than the
  client (``DESKTOP`` for ``desktop``, or a device of its own reading of the user agent). An
  event both paths saw takes the client's value and one only the server saw keeps the
  server's, so the events only the server saw fall in segments of their own: the loss per
  segment comes out 0 in the client's segments and 1 in the server's, the loss per event type
  stratified by that column too low, and the corrected composition and site profile wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SILENT_BROWSERS = 0.01
"""Below this share of visitors with server copies but no client copy, the log looks like a
site that withholds opted-out visitors: analytics blocking was measured on 5.2% of page views
worldwide (``docs/sources.md`` §1a, Blockmetry 2016) and on under 10% to over 25% of visitors
by audience (§1b, Saric)."""
MIN_VISITORS = 500
"""Fewer visitors cannot tell a site without blockers from one that withholds them."""
MISSING = "(none)"
"""The segment label of a copy whose segment column is empty."""
SPLIT_SHARE = 0.01
"""Above this share of the events both paths saw whose copies name different visitors, the two
paths name visitors apart: a visitor id that changes within a visit (a cookie reset at
sign-in) touches a few events, a column that holds different ids on the two paths nearly
all. Likewise, above this share of events whose copies on one path name several event types,
several events share a key."""
UNPLACED_SHARE = 0.05
"""From this share of the events only the server saw in no segment of a column (and ten times
the share among the events the client saw), the per-segment figures of that column miss
them."""


def late_copies(labels: list[tuple[str, ...]], late: np.ndarray, window: float) -> dict[str, Any]:
    """Copies left out as late, per event type and path.

    Parameters
    ----------
    labels : list of tuple of str
        Each stratum's labels, the event type first.
    late : numpy.ndarray
        Shape (strata, 2): late client and server copies per stratum.
    window : float
        The window in seconds.

    Returns
    -------
    dict
        ``after_seconds``, ``client``, ``server`` (totals) and ``events`` (per event type).
    """
    per: dict[str, list[int]] = {}
    for label, (client, server) in zip(labels, late.tolist(), strict=True):
        counts = per.setdefault(label[0], [0, 0])
        counts[0] += client
        counts[1] += server
    return {
        "after_seconds": window if np.isfinite(window) else None,
        "client": int(late[:, 0].sum()) if late.size else 0,
        "server": int(late[:, 1].sum()) if late.size else 0,
        "events": [
            {"event": e, "client": c, "server": s} for e, (c, s) in sorted(per.items()) if c + s
        ],
    }


def assumption_checks(
    rows: list[dict[str, Any]],
    shared_ids: dict[str, int] | None,
    visitors: int,
    server_only_visitors: int,
    respect_choice: bool = False,
    server_agents: dict[str, Any] | None = None,
    by: tuple[str, ...] | list[str] = (),
    agreement: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """The checks the counts allow, each with whether it is raised and why.

    Parameters
    ----------
    rows : list of dict
        The record's rows (one per stratum, with ``event``, ``n11``, ``n10``, ``n01``).
    shared_ids : dict or None
        ``both_paths`` and ``same_id`` counts when the log has a ``message_id`` column.
    visitors, server_only_visitors : int
        Visitors, and those with server copies but no client copy ever.
    respect_choice : bool
        Whether the site says it withholds visitors who opted out.
    server_agents : dict, optional
        With a user-agent column, what the server copies' agents are
        (:attr:`~simulator.experiments.estimate.tabulation.Tables.server_agents`).
    by : sequence of str
        The segment columns of the rows.
    agreement : dict, optional
        From a sample of the events (``sampled``: one in how many), those with a client or
        server copy (``events``), those both paths saw (``both_paths``), those of them whose
        copies name different visitors (``different_visitor``) and those whose copies on one
        path name more than one event type (``mixed_types``), and per segment column those both
        paths saw with different values (``different_segment``).

    Returns
    -------
    list of dict
        Per check, its name (``check``), whether it is ``raised`` and the figures behind it:
        ``shared_message_ids`` (``same_id``: events whose two copies carry one message id;
        ``no_event_on_both_paths``), ``one_path_events`` (``events`` that arrived from the
        server only, and ``never_alone_on_server``: those the server saw but never alone, the
        browser's names for them if the server renames them), ``withheld_by_choice``
        (``declared``, ``silent_browser_share``) and, with a user-agent column,
        ``server_user_agents`` (``servers_own``, ``paired_events``, ``named_crawler``); with
        segment columns, ``segments_missing_on_server`` (``columns``: per column the events
        only the server saw in no segment, and their share); with ``agreement``,
        ``visitors_named_apart`` and ``keys_shared_by_events`` (its figures, each raised above
        :data:`SPLIT_SHARE` of the sample's events both paths saw, or of all its events) and,
        with segment columns, ``segments_named_apart`` (``columns``: per column over that share,
        its ``events``, ``share`` and an ``example``: a client value and a server value).
    """
    n11 = sum(r["n11"] for r in rows)
    client = {r["event"]: 0 for r in rows}
    server, alone = dict(client), dict(client)
    for r in rows:
        client[r["event"]] += r["n11"] + r["n10"]
        server[r["event"]] += r["n11"] + r["n01"]
        alone[r["event"]] += r["n01"]
    checks = [
        _shared_ids(shared_ids, n11, sum(client.values()), sum(server.values())),
        _one_path(client, server, alone),
        _withheld(visitors, server_only_visitors, respect_choice),
    ]
    if by:
        checks.append(_unplaced(rows, by))
    if agreement is not None:
        checks += _agreement(agreement)
    if server_agents is not None:
        checks.append({"check": "server_user_agents", "raised": server_agents["servers_own"],
                       **server_agents})  # fmt: skip
    return checks


def _shared_ids(ids: dict[str, int] | None, n11: int, client: int, server: int) -> dict:
    same = ids["same_id"] if ids else 0
    unpaired = n11 == 0 and client > 0 and server > 0
    return {
        "check": "shared_message_ids",
        "raised": bool(same) or unpaired,
        "same_id": same,
        "no_event_on_both_paths": unpaired,
    }


def _one_path(client: dict[str, int], server: dict[str, int], alone: dict[str, int]) -> dict:
    server_only = sorted(e for e in client if client[e] == 0 and server[e] > 0)
    raised = bool(server_only) and any(client.values())
    # An event both paths saw takes the browser's name. If the server names an event type
    # otherwise, its copies that arrived alone keep the server's name, so the browser's name
    # never arrives from the server alone, as blocked visitors' events otherwise do.
    never_alone = sorted(e for e in client if raised and server[e] > 0 and alone[e] == 0)
    return {"check": "one_path_events", "raised": raised, "events": server_only,
            "never_alone_on_server": never_alone}  # fmt: skip


def _unplaced(rows: list[dict[str, Any]], by: tuple[str, ...] | list[str]) -> dict:
    server_only = sum(r["n01"] for r in rows) or 1
    client_seen = sum(r["n11"] + r["n10"] for r in rows) or 1
    columns = {}
    for column in by:
        missing = [r for r in rows if r[column] == MISSING]
        unplaced = sum(r["n01"] for r in missing)
        share, client_share = (
            unplaced / server_only,
            sum(r["n11"] + r["n10"] for r in missing) / client_seen,
        )
        if share >= UNPLACED_SHARE and share >= 10 * client_share:
            columns[column] = {"events": unplaced, "share": share}
    return {"check": "segments_missing_on_server", "raised": bool(columns), "columns": columns}


def _agreement(sample: dict[str, Any]) -> list[dict]:
    both = sample["both_paths"]
    apart = sample["different_visitor"] > SPLIT_SHARE * both
    shared = sample["mixed_types"] > SPLIT_SHARE * sample["events"]
    figures = {"sampled": sample["sampled"], "both_paths": both}
    checks = [
        {"check": "visitors_named_apart", "raised": bool(apart), **figures,
         "different_visitor": sample["different_visitor"]},
        {"check": "keys_shared_by_events", "raised": bool(shared), "sampled": sample["sampled"],
         "events": sample["events"], "mixed_types": sample["mixed_types"]},
    ]  # fmt: skip
    segments = sample.get("different_segment") or {}
    if segments:
        columns = {
            c: {"events": v["events"], "share": v["events"] / both, "example": v["example"]}
            for c, v in segments.items()
            if v["events"] > SPLIT_SHARE * both
        }
        checks.append({"check": "segments_named_apart", "raised": bool(columns), **figures,
                       "columns": columns})  # fmt: skip
    return checks


def _withheld(visitors: int, silent: int, declared: bool) -> dict:
    share = silent / visitors if visitors else 0.0
    hinted = visitors >= MIN_VISITORS and share < SILENT_BROWSERS
    return {
        "check": "withheld_by_choice",
        "raised": bool(declared or hinted),
        "declared": declared,
        "silent_browser_share": share,
    }


__all__ = ["MIN_VISITORS", "SILENT_BROWSERS", "SPLIT_SHARE", "assumption_checks", "late_copies"]
