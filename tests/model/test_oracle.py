"""An independent oracle: the client loss model computed with numpy, no timeline, no engine code.

With one request per event and no retry store, an event's fate depends only on its own draws:
JavaScript off, the tag loading after the visitor left, the blocker, a failed request, and for
``xhr``/``fetch`` whether the request's bytes are written before the page is torn down (a page that
only goes to the background is not). The events sit on a visit's first page, whose connection to the
vendor is cold: the tag's load opens it, and it can carry bytes two round trips (TCP, TLS) later;
the page is torn down a commit delay after a navigation, or a close delay after a tab close. The
oracle draws those directly; the engine must agree per transport and per segment (z tests on
independent events: one page view per visitor, or one navigating click per visitor).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from support.factories import scenario, segment
from support.running import run

from simulator.model.tally import M

Z_LIMIT = stats.norm.ppf(1 - 0.001 / 2)

SEGMENTS = [
    segment("desk", "desktop", "firefox",
            {"none": 0.6, "extension_privacy": 0.3, "extension_default": 0.1}),
    segment("mob", "mobile", "safari", {"none": 0.95, "dns": 0.05}),
]  # fmt: skip
BLOCKED_SHARE = {"desk": 0.3, "mob": 0.05}  # extension_default leaves analytics alone
CLIENT = {
    "script_load_seconds": {"kind": "lognormal", "median": 1.5, "sigma": 0.8},
    "upload_latency_seconds": {"kind": "lognormal", "median": 0.4, "sigma": 0.9},
    "failure_probability": 0.03,
    "retry": {"store": "none"},
    "batch_size": 1,
}
BEHAVIOUR = {
    "dwell_seconds": {"kind": "lognormal", "median": 3.0, "sigma": 1.0},
    "time_to_unload_seconds": {"kind": "exponential", "mean": 0.5},
    "return_probability": 0.0,
    "funnel": [0.0, 0.0, 0.0, 0.0],
    "signup_probability": 0.0,
}
JS_OFF = 0.02


def oracle_loss(sc, event: str, blocked: float, n: int, rng) -> float:
    """Loss probability of one event by direct Monte Carlo (n draws)."""
    c, b = sc.client, sc.behaviour
    dwell = b.dwell_seconds.sample(rng, n)
    load = c.script_load_seconds.sample(rng, n)
    if event == "page_viewed":
        offset = np.zeros(n)
    else:  # the click that navigates away
        offset = np.maximum(0.0, dwell - b.time_to_unload_seconds.sample(rng, n))
    send = np.maximum(offset, load)
    lost = (
        (rng.random(n) < JS_OFF)
        | (load >= dwell)
        | (rng.random(n) < blocked)
        | (rng.random(n) < c.failure_probability)
    )
    if c.transport in ("xhr", "fetch"):
        con = c.connection
        latency = c.upload_latency_seconds.sample(rng, n)  # the page's, for its handshake
        written = np.maximum(send, load + 2 * con.handshake_round_trips * latency)
        if event == "link_clicked":  # the click navigates
            background = np.zeros(n, bool)
            linger = con.commit_delay_seconds.sample(rng, n)
        else:  # a one-page visit: its only page is the last, closed or sent to the background
            background = rng.random(n) < b.last_page_exit.get("background", 0.0)
            linger = con.close_delay_seconds.sample(rng, n)
        lost |= (written >= dwell + linger) & ~background
    return float(lost.mean())


def engine_losses(sc, event: str, seed: int) -> dict[str, tuple[float, float]]:
    tally = run(sc, seed=seed).tallies[0]
    e = tally.layout.events.index(event)
    seg = tally.marginal("segment")[0, e]
    return {
        name: (1 - seg[i, M["delivered"]] / seg[i, M["truth"]], seg[i, M["truth"]])
        for i, name in enumerate(tally.layout.segments)
    }


def check(sc, event: str, blocked: dict[str, float], seed: int) -> float:
    rng = np.random.default_rng(1000 + seed)
    worst = 0.0
    for name, (loss, n) in engine_losses(sc, event, seed).items():
        expected = oracle_loss(sc, event, blocked[name], 400_000, rng)
        z = (loss - expected) / np.sqrt(expected * (1 - expected) / n)
        worst = max(worst, abs(z))
    return worst


@pytest.mark.parametrize("transport", ["xhr", "fetch_keepalive", "beacon"])
def test_page_view_loss_matches_oracle_per_segment(transport):
    sc = scenario(
        users=12000,
        population={"javascript_disabled": JS_OFF, "segments": SEGMENTS},
        client={**CLIENT, "transport": transport},
        behaviour={**BEHAVIOUR, "pages_per_visit": {"kind": "constant", "value": 1}},
    )
    z = check(sc, "page_viewed", BLOCKED_SHARE, seed=1)
    if z > Z_LIMIT:
        z = check(sc, "page_viewed", BLOCKED_SHARE, seed=2)  # one redraw
    assert z <= Z_LIMIT


@pytest.mark.parametrize("transport", ["fetch", "fetch_keepalive"])
def test_navigating_click_loss_matches_oracle(transport, client_path):
    no_blockers = [{**s, "blockers": {"none": 1.0}} for s in SEGMENTS]
    sc = scenario(
        users=12000,
        population={"javascript_disabled": JS_OFF, "segments": no_blockers},
        client={**CLIENT, "transport": transport},
        behaviour={**BEHAVIOUR, "pages_per_visit": {"kind": "constant", "value": 2}},
        events=[{"name": "link_clicked", "kind": "ui", "timing": "before_unload", "per_page": 1.0}],
    )
    blocked = dict.fromkeys(BLOCKED_SHARE, 0.0)
    z = check(sc, "link_clicked", blocked, seed=1)
    if z > Z_LIMIT:
        z = check(sc, "link_clicked", blocked, seed=2)
    assert z <= Z_LIMIT
