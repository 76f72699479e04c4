"""The connection rule: which pages find the collector connection warm, and their teardown."""

from __future__ import annotations

import numpy as np
import pytest
from support.factories import const

from simulator.config.tracking import ClientConfig
from simulator.model.client.connection import page_connections
from simulator.model.pages import BACKGROUND, CLOSE, NAVIGATE

LATENCY = 0.1  # constant one-way latency: a round trip is 0.2 s


def client(**kw) -> ClientConfig:
    return ClientConfig.model_validate(
        {"upload_latency_seconds": const(LATENCY), "connection": kw.pop("connection", {}), **kw}
    )


def draw(cfg: ClientConfig, dwell, end, position, seed: int = 1):
    return page_connections(
        cfg, np.array(dwell, float), np.array(end), np.array(position), np.random.default_rng(seed)
    )


def test_a_vendor_connection_is_cold_on_a_first_page_and_warm_after_a_short_page():
    # Two visits: pages of 30 s, 100 s, 5 s; then a new visit's first page.
    setup, _ = draw(client(), [30, 100, 5, 5], [NAVIGATE] * 4, [0, 1, 2, 0])
    handshake = 2 * 2 * LATENCY  # TCP and TLS, a round trip each
    # cold; warm (30 s < 75 s); cold (the page before lasted 100 s); a new visit: cold
    assert setup == pytest.approx([handshake, 0.0, handshake, handshake])


def test_same_origin_and_the_tags_host_are_warm_from_the_first_page():
    for destination in ("proxy", "cname"):
        setup, _ = draw(client(destination=destination), [100, 100], [NAVIGATE] * 2, [0, 1])
        if destination == "proxy":
            assert setup.tolist() == [0.0, 0.0]  # the page's own connection, always
        else:  # the tag was just loaded from the events' host; later, idle for 100 s
            assert setup == pytest.approx([0.0, 0.4])


def test_a_preflight_is_paid_once_a_visit_only_across_origins():
    json = {"content_type": "application/json", "first_page_warm": 1.0}
    setup, _ = draw(client(connection=json), [5, 5], [NAVIGATE] * 2, [0, 1])
    assert setup == pytest.approx([2 * LATENCY, 0.0])
    setup, _ = draw(client(destination="proxy", connection=json), [5], [NAVIGATE], [0])
    assert setup.tolist() == [0.0]  # same origin: no preflight


def test_teardown_delays_follow_how_the_page_ends():
    cfg = client(
        connection={"commit_delay_seconds": const(0.3), "close_delay_seconds": const(0.02)}
    )
    _, linger = draw(cfg, [5, 5, 5], [NAVIGATE, CLOSE, BACKGROUND], [0, 1, 2])
    assert linger == pytest.approx([0.3, 0.02, 0.0])


def test_draws_do_not_depend_on_the_settings():
    """Four variates a page whatever the settings, so a knob moves no other page's draws."""
    a = draw(client(), [5] * 6, [NAVIGATE] * 6, [0, 1, 2, 0, 1, 2], seed=3)[1]
    b = draw(client(destination="proxy"), [5] * 6, [NAVIGATE] * 6, [0, 1, 2, 0, 1, 2], seed=3)[1]
    np.testing.assert_array_equal(a, b)
