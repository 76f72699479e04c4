"""Scenarios for the statistics tests: two device segments whose blocking rates we choose.

Nothing is lost except by script blocking (privacy-list extensions), so the loss and the shares
after thinning have closed forms. Countries are drawn independently of everything else, so loss
is independent of country (a null dimension), while it depends on device when the two blocking
rates differ.
"""

from __future__ import annotations

from typing import Any

from simulator.config.scenario import Scenario
from support.factories import scenario

VISIT_EVENTS = [
    {"name": "session_started", "kind": "session_start"},
    {"name": "page_viewed", "kind": "page_view"},
]


def segment(name: str, device: str, browser: str, share: float, blocked: float) -> dict:
    blockers = {"none": 1 - blocked, "extension_privacy": blocked} if blocked else {"none": 1.0}
    return {
        "name": name,
        "share": share,
        "device": device,
        "browser": browser,
        "countries": {"us": 0.5, "de": 0.5},
        "channels": {"direct": 1.0},
        "blockers": blockers,
    }


def two_devices(
    users: int = 150,
    desktop_blocked: float = 0.4,
    mobile_blocked: float = 0.1,
    desktop_share: float = 0.5,
    **overrides: Any,
) -> Scenario:
    """Desktop and mobile visitors with their own blocking rates; one visit each.

    With ``return_probability = 0`` every visitor makes exactly one session, so
    ``session_started`` events are independent across visitors (one per visitor), while
    ``page_viewed`` events of one visitor share that visitor's fate.
    """
    base: dict[str, Any] = {
        "users": users,
        "population": {
            "segments": [
                segment("desk", "desktop", "chrome", desktop_share, desktop_blocked),
                segment("mob", "mobile", "safari", 1 - desktop_share, mobile_blocked),
            ]
        },
        "events": VISIT_EVENTS,
        "behaviour": {"return_probability": 0.0, "funnel": []},
        "simulation": {"horizon_hours": 24, "drain_hours": 1, "replications": 1, "seed": 1},
    }
    base.update(overrides)
    return scenario(**base)


def expected_received_share(share: float, blocked: float, other_blocked: float) -> float:
    """Share of a segment among received events after thinning (equal behaviour)."""
    kept = share * (1 - blocked)
    return kept / (kept + (1 - share) * (1 - other_blocked))
