"""The estimate's assumption checks and late copies, in words for the terminal and the report.

Each check the record carries (see
:func:`simulator.experiments.estimate.assumptions.assumption_checks`) becomes a ``WARNING``
paragraph when it is raised; late copies get a line of their own. The text says what the
figures above then mean and what to do about it.
"""

from __future__ import annotations

from typing import Any

from simulator.outputs.formatting import count, percent


def late_lines(record: dict[str, Any]) -> list[str]:
    """One line on the copies left out as late (none when the record has no late copies)."""
    late = record.get("late")
    if not late or not late["client"] + late["server"]:
        return []
    per = "; ".join(
        f"{e['event']}: {count(e['client'])} client, {count(e['server'])} server"
        for e in late["events"]
    )
    return [
        "",
        f"Late copies: {count(late['client'])} client and {count(late['server'])} server copies "
        f"arrived more than {count(late['after_seconds'])} s after their event's first copy "
        f"({per}). They are left out of the table above: their path missed those events in "
        "time (--late-after sets the window).",
    ]


def _sample(check: dict[str, Any]) -> str:
    """How the events a check counts were chosen, when not all were read."""
    if check["sampled"] > 1:
        return f" (in a sample of one event in {count(check['sampled'])}, chosen by key)"
    return ""


def _message(check: dict[str, Any]) -> str:
    name = check["check"]
    if name == "shared_message_ids" and check["same_id"]:
        return (
            f"the client and server copies of {count(check['same_id'])} events carry the same "
            "message id: a vendor that deduplicates by message id keeps one copy of each event "
            "both paths saw, so n11 cannot be counted and both paths' losses come out too "
            "high. Export the copies before deduplication, or give each path its own id."
        )
    if name == "shared_message_ids":
        return (
            "no event arrived on both paths: if the copies share a message id that the vendor "
            "deduplicates, n11 cannot be counted; if they share no key, they cannot be paired. "
            "The losses above are not estimates."
        )
    if name == "one_path_events":
        renamed = check.get("never_alone_on_server") or []
        maybe = (
            f" Or the server names events otherwise than the browser: {', '.join(renamed)} "
            "never arrived from the server alone, as blocked visitors' events do, which is what "
            "happens when the events both paths saw take the browser's name and the others "
            "keep the server's. Then give both paths the same event names."
            if renamed
            else ""
        )
        return (
            f"{', '.join(check['events'])} arrived from the server only, while the same site's "
            "browsers send other events: sent by the server alone, or from the browser's "
            "request to it (hybrid), its server copy depends on the browser and is no second "
            "independent capture, so its loss cannot be estimated." + maybe
        )
    if name == "segments_missing_on_server":
        which = "; ".join(
            f"{c}: {count(v['events'])} events, {percent(v['share'])}"
            for c, v in check["columns"].items()
        )
        columns = ",".join(check["columns"])
        return (
            "the server's copies leave segment columns empty that the client's fill, so the "
            f"events only the server saw are in segment (none) ({which} of them): those of "
            "blocked visitors cannot be placed, so the losses above come out too low, per "
            "segment and per event type, and the corrected composition misses them. Leave "
            f"{columns} out of --by for the loss per event type, and send the visitor's "
            "segment with the server's copies (or derive it there from the user agent) to "
            "estimate per segment."
        )
    if name == "keys_shared_by_events":
        return (
            f"the copies on one path of {count(check['mixed_types'])} of the "
            f"{count(check['events'])} events{_sample(check)} name more than one event type "
            f"({percent(check['mixed_types'] / check['events'])}): several events share a key "
            "(a page view's, a session's or a cookie's id), so each key counts as one event "
            "and the tables above count keys, not events. Map event_key to an id of its own "
            "for each event, which its client and server copies share."
        )
    if name == "segments_named_apart":
        which = "; ".join(
            f"{c} on {percent(v['share'])} of them ({v['example'][0]} on the client, "
            f"{v['example'][1]} on the server, for one)"
            for c, v in check["columns"].items()
        )
        columns = ",".join(check["columns"])
        return (
            f"the paths fill segment columns with different values for the events both saw"
            f"{_sample(check)}: {which}. An event both paths saw takes the client's value and "
            "one only the server saw keeps the server's, so the events only the server saw, "
            "every event of a blocked visitor among them, fall in segments of their own: the "
            "losses per segment come out wrong (too low in the client's segments, all lost in "
            "the server's), the loss per event type stratified by them too low, and the "
            f"corrected composition and the site profile wrong. Without --by {columns} the loss "
            "per event type stands. Give both paths the same values."
        )
    if name == "visitors_named_apart":
        share = check["different_visitor"] / check["both_paths"]
        return (
            f"the client and server copies of {count(check['different_visitor'])} of the "
            f"{count(check['both_paths'])} events both paths saw{_sample(check)} name different "
            f"visitors ({percent(share)}): the two paths name visitors apart, as when the "
            "browser sends its anonymous id and the server the signed-in user's. The losses "
            "and true counts stand, since copies pair by their key, but one person counts as "
            "several visitors: the visitor counts, the Bots line, the site profile and the "
            "KPIs per visitor are wrong, and the intervals, which resample visitors, may be "
            "too narrow. Map visitor to an id both paths carry (pass the browser's anonymous "
            "id to the server)."
        )
    if name == "server_user_agents":
        return (
            f"the server copies of {count(check['named_crawler'])} of the "
            f"{count(check['paired_events'])} events the client saw from a browser name a "
            "crawler or HTTP library as their user agent: that is the server's own agent, not "
            "the visitor's, so server copies were not filtered by it. Crawlers that reach the "
            "server only stay among the visitors with server copies but no client copy, counted "
            "apart in the Bots line. "
            "Map user_agent to the visitor's agent if the server forwards it."
        )
    why = (
        "the site withholds visitors who opt out (--respect-choice)"
        if check["declared"]
        else f"only {percent(check['silent_browser_share'])} of visitors have server copies "
        "and a silent browser, fewer than blockers of analytics leave: either few visitors "
        "block analytics, or those who do are withheld on every path"
    )
    return (
        f"{why}. Visitors withheld by choice send nothing on either path: they are not "
        "estimable, and the losses above are among the visitors who did not opt out."
    )


def assumption_lines(record: dict[str, Any]) -> list[str]:
    """Late copies, then a ``WARNING`` paragraph per raised assumption check."""
    lines = late_lines(record)
    for check in record.get("checks", []):
        if check["raised"]:
            lines += ["", f"WARNING: {_message(check)}"]
    return lines


__all__ = ["assumption_lines", "late_lines"]
