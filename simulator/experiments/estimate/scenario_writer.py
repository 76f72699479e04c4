"""``trackloss estimate --write-scenario``: a scenario TOML built from a site's own estimates.

The segments (device x browser as the log names them), their shares of the visitors, countries,
channels and blocked shares come from the site profile
(:func:`~simulator.experiments.estimate.site_profile.site_profile`), each estimate with its 95%
interval in a comment, so that ``trackloss recommend`` can run on the site's own figures.

The unload-loss knobs: the log cannot tell a request cancelled by a page unload from a failed
one, only how much each device loses when its visitor is not blocked. The device that loses
least sets ``client.failure_probability`` (what every device loses); what another device loses
beyond it is taken as unload loss, and its ``client.handler_fires`` (the chance that the page-hide
handler runs and saves what is pending) is lowered in proportion. The losses in the log are what
survived the site's own retries, so the scenario does not retry again (``client.retry.store =
"none"``). Everything else keeps the calibrated defaults (``trackloss schema``).
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

from simulator.config.loading import parse_scenario

DEVICES = ("desktop", "mobile", "tablet")
BROWSERS = ("chrome", "safari", "firefox", "edge", "samsung", "other")
USERS = 5000
"""Visitors simulated per run: losses and shares do not depend on the site's size, and a few
thousand visitors keep ``recommend`` short (raise ``population.users`` for tighter intervals)."""
DIGITS = 4


def _name(text: str) -> str:
    """A scenario name (letters, digits, ``_.-``) from any text."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "site"


def _device(text: str | None) -> str:
    t = str(text or "").lower()
    return t if t in DEVICES else ("mobile" if "mobile" in t or "phone" in t else "desktop")


def _browser(text: str | None) -> str:
    t = str(text or "").lower()
    return next((b for b in BROWSERS if b in t), "other")


def _shares(mix: dict[str, float]) -> dict[str, float]:
    """Shares rounded for the file, adding up to exactly 1 (the largest takes the rest)."""
    out = {k: round(v, DIGITS) for k, v in mix.items() if round(v, DIGITS) > 0}
    if not out:
        return {next(iter(mix)): 1.0}
    top = max(out, key=out.get)
    out[top] = round(1.0 - sum(v for k, v in out.items() if k != top), 10)
    return out


def _inline(mix: dict[str, float]) -> str:
    return "{ " + ", ".join(f"{json.dumps(k)} = {v:g}" for k, v in mix.items()) + " }"


def _ci(ci: list | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "no interval"
    return f"95% CI {ci[0]:.3f} to {ci[1]:.3f}"


def _merged(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """Segments by (device, browser) as the simulator knows them, merging what maps together."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for seg in profile["segments"]:
        key = (_device(seg["device"]), _browser(seg["browser"]))
        if key not in out:
            out[key] = {**seg, "sources": [f"{seg['device']}/{seg['browser']}"]}
            continue
        m, w = out[key], seg["visitors"]
        total = m["visitors"] + w
        for mix in ("countries", "channels"):
            if m[mix] is not None and seg[mix] is not None:
                keys = set(m[mix]) | set(seg[mix])
                m[mix] = {
                    k: (m[mix].get(k, 0) * m["visitors"] + seg[mix].get(k, 0) * w) / total
                    for k in keys
                }
        m["blocked"] = ((m["blocked"] or 0) * m["visitors"] + (seg["blocked"] or 0) * w) / total
        m["blocked_ci"], m["visitors"] = None, total
        m["share"] += seg["share"]
        m["sources"].append(f"{seg['device']}/{seg['browser']}")
    return [{"device": d, "browser": b, **s} | {"device": d, "browser": b} for (d, b), s in
            out.items()]  # fmt: skip


def scenario_text(
    profile: dict[str, Any],
    name: str,
    source: str,
    server_only_visitors: int = 0,
    silent_mix: dict[str, Any] | None = None,
) -> str:
    """The scenario TOML (with comments) for a site profile; it validates as written.

    Parameters
    ----------
    profile : dict
        What :func:`~simulator.experiments.estimate.site_profile.site_profile` returned.
    name : str
        The scenario's name.
    source : str
        The log the estimates come from (named in the header comment).
    server_only_visitors : int
        The log's visitors with server copies but no client copy ever. The blocked shares
        count them all as humans; the header says what to change if some are bots.
    silent_mix : dict, optional
        What their mix of events says of them
        (:func:`~simulator.experiments.estimate.silent_visitors.silent_visitor_mix`): when it
        sets them apart, the header gives the bound on the share of people among them.

    Returns
    -------
    str
        TOML text.
    """
    segments = _merged(profile)
    losses = {s["device"]: (s["client_loss"], s["client_loss_ci"]) for s in segments}
    known = {d: x for d, x in losses.items() if x[0] is not None}
    floor = min((x[0] for x in known.values()), default=0.0)
    channels = sorted({c for s in segments for c in (s["channels"] or {"direct": 1.0})})
    lines = [
        f"# Written by trackloss estimate from {source}: {profile['visitors']:,} visitors.",
        "# Shares, blocked shares and losses are the log's estimates; every other setting keeps",
        "# its calibrated default (see `trackloss schema`).",
        *_bots_note(server_only_visitors, profile["visitors"], silent_mix),
        f"name = {json.dumps(_name(name))}",
        "",
        "[population]",
        f"users = {USERS}   # visitors simulated per run; the log had {profile['visitors']:,}",
        "",
        "[population.channels]",
        *(f"{json.dumps(c)} = {{}}" for c in channels),
    ]
    shares = _shares({str(i): s["share"] for i, s in enumerate(segments)})
    for i, s in enumerate(segments):
        share = shares.get(str(i))
        if share is None:
            continue
        blocked = min(max(s["blocked"] or 0.0, 0.0), 1.0)
        blockers = _shares({"none": 1.0 - blocked, "extension_privacy": blocked})
        lines += [
            "",
            "[[population.segments]]",
            f"name = {json.dumps(_name(s['device'] + '_' + s['browser']))}",
            f"share = {share:g}   # from the log's {', '.join(s['sources'])} visitors",
            f"device = {json.dumps(s['device'])}",
            f"browser = {json.dumps(s['browser'])}",
            f"countries = {_inline(_shares(s['countries'] or {'unknown': 1.0}))}",
            f"channels = {_inline(_shares(s['channels'] or {'direct': 1.0}))}",
            f"blockers = {_inline(blockers)}",
            f"# blocked: visitors whose client sent nothing, {blocked:.3f} "
            f"({_ci(s['blocked_ci'])}); the blocker kind is an assumption (it blocks the "
            "vendor's domain, not a proxy)",
        ]
    lines += [
        "",
        "[client]",
        f"failure_probability = {round(floor, DIGITS):g}   # the least unblocked client loss of "
        "any device",
        "handler_fires = "
        + _inline({d: _fires(losses.get(d, (None, None))[0], floor) for d in DEVICES}),
    ]
    for d, (loss, ci) in known.items():
        lines.append(f"# {d}: unblocked client loss {loss:.3f} ({_ci(ci)})")
    lines += [
        "",
        "[client.retry]",
        'store = "none"   # the losses above are what survived the site\'s own retries',
        "",
        "[[plans]]",
        'name = "client"',
        'default_path = "client"',
        "",
        "[[plans]]",
        'name = "dual"',
        'default_path = "dual"',
        "",
    ]
    text = "\n".join(lines)
    parse_scenario(tomllib.loads(text), source="--write-scenario")
    return text


def _bots_note(server_only: int, visitors: int, mix: dict[str, Any] | None) -> list[str]:
    """Header lines on the visitors counted as blocked that the log cannot tell from bots."""
    if not server_only or not visitors:
        return []
    lines = [
        f"# The blocked shares count every visitor whose client sent nothing: {server_only:,} of "
        f"the {visitors:,} ({server_only / visitors:.1%}).",
        "# Bots reach the server only too, and the log cannot tell them apart (see the estimate's",
        "# Bots line): for the share of them that are bots, add [population.bots] with that",
        "# share (and filtered = 0) and lower the segments' blocked shares to match.",
    ]
    if mix and mix.get("mix_differs"):
        lo, hi = mix["people_at_most_ci"]
        lines.append(
            f"# Their mix of events says at most {mix['people_at_most']:.1%} ({lo:.1%} to "
            f"{hi:.1%}) of them are people acting like the others."
        )
    return lines


def _fires(loss: float | None, floor: float) -> float:
    """``handler_fires`` of a device: 1 less its unblocked loss beyond the floor (share of 1)."""
    if loss is None or floor >= 1.0:
        return 1.0
    return round(min(1.0, max(0.0, 1.0 - (loss - floor) / (1.0 - floor))), DIGITS)


__all__ = ["scenario_text"]
