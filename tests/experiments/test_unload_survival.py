"""Unload survival: the engine's client path on synthetic pages, checked against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from support.factories import const, scenario

from simulator.experiments.unload_survival import device_handler_probabilities, unload_survival
from simulator.model.client import page as client_module

Z_999 = stats.norm.ppf(1 - 0.001 / 2)


def fixed(handler=None, **client):
    """Constant latencies (0.3 s up, 0.1 s back), the tag loaded at once, no retry store."""
    base = {
        "script_load_seconds": const(0.0),
        "upload_latency_seconds": const(0.3),
        "response_latency_seconds": const(0.1),
        "retry": {"store": "none"},
        "handler_fires": handler or {"desktop": 1.0, "mobile": 1.0, "tablet": 1.0},
    }
    base.update(client)
    return scenario(client=base)


def shares(result: dict) -> dict:
    return {(r["transport"], r["device"], r["t"]): r["share"] for r in result["rows"]}


def test_xhr_survives_only_when_written_before_the_teardown():
    """Pages of 1 s, torn down 0.1 s after they end. Warm: an xhr is written as it is sent.

    Cold: the connection the tag's load (at 0) opens can carry bytes two round trips later, at
    1.2 s, after the teardown at 1.1 s. Keepalive and beacon requests survive either way.
    """
    sc = fixed(connection={"commit_delay_seconds": const(0.1)})
    for connection, expected in (("warm", 1.0), ("cold", 0.0)):
        result = unload_survival(sc, [0.1, 0.5], pages=50, dwell=1.0, connection=connection,
                                 seed=1)  # fmt: skip
        out = shares(result)
        for device in ("desktop", "mobile"):
            for t in (0.1, 0.5):
                assert out[("xhr", device, t)] == expected
                assert out[("fetch_keepalive", device, t)] == 1.0
                assert out[("beacon", device, t)] == 1.0


def test_batched_events_survive_as_often_as_the_page_hide_handler_runs():
    """Batched and never flushed before the unload: delivered iff the handler fires."""
    handler = {"desktop": 0.95, "mobile": 0.62, "tablet": 0.62}
    sc = fixed(handler, batch_size=10, flush_interval_seconds=600.0)
    pages = 3000

    def z_scores(seed: int) -> list[float]:
        out = unload_survival(sc, [1.0], transports=["beacon"], pages=pages, seed=seed)
        zs = []
        for r in out["rows"]:
            p = handler[r["device"]]
            assert r["handler_p"] == p
            zs.append((r["share"] - p) / np.sqrt(p * (1 - p) / pages))
        return zs

    zs = z_scores(5)
    if max(abs(z) for z in zs) > Z_999:
        zs = z_scores(6)  # one redraw, as the conventions allow
    assert max(abs(z) for z in zs) < Z_999, zs


def test_a_persisted_retry_store_resends_on_the_next_page():
    handler = {"desktop": 1.0, "mobile": 0.0, "tablet": 0.0}
    retry = {"store": "local_storage", "persist": "on_pagehide"}
    sc = fixed(handler, retry=retry, connection={"commit_delay_seconds": const(0.1)})
    # Cold pages of 1 s: the xhr is never written (see the first test) and waits in the store.
    kw = dict(transports=["xhr"], pages=40, dwell=1.0, connection="cold", seed=2)
    with_next = shares(unload_survival(sc, [0.1], **kw))
    without = shares(unload_survival(sc, [0.1], **kw, next_page=False))
    # Persisted at page-hide (desktop's handler always runs, mobile's never) and resent.
    assert with_next[("xhr", "desktop", 0.1)] == 1.0
    assert with_next[("xhr", "mobile", 0.1)] == 0.0
    assert without[("xhr", "desktop", 0.1)] == 0.0


def test_same_seed_same_result_and_intervals_cover_the_share():
    sc = scenario(
        client={
            "transport": "fetch",
            "handler_fires": {"desktop": 0.9, "mobile": 0.6, "tablet": 0.6},
        }
    )
    kw = dict(pages=60, dwell=1.5, connection="cold")  # short cold pages: shares vary
    a = unload_survival(sc, [0.05, 0.2], **kw, seed=11)
    b = unload_survival(sc, [0.05, 0.2], **kw, seed=np.random.SeedSequence(11))
    assert a == b
    c = unload_survival(sc, [0.05, 0.2], **kw, seed=12)
    assert a["rows"] != c["rows"]
    for r in a["rows"]:
        assert r["share_ci"][0] <= r["share"] <= r["share_ci"][1]
        assert r["delivered"] == round(r["share"] * r["pages"])
    assert a["seed"] == 11 and a["event"] == "link_clicked"


def test_it_drives_the_engines_client_path(monkeypatch):
    calls = []
    real = client_module.ClientPath.page

    def spy(self, visitor, t0, page, live):
        calls.append(len(live))
        return real(self, visitor, t0, page, live)

    monkeypatch.setattr(client_module.ClientPath, "page", spy)
    unload_survival(fixed(), [0.1, 0.5], pages=7, seed=1, next_page=False)
    assert calls == [1] * (3 * 2 * 2 * 7)  # transports x devices x times x pages


def test_devices_come_from_the_segments_weighted_by_share():
    sc = scenario(
        client={
            "handler_fires": {"desktop": 0.9, "mobile": 0.5, "tablet": 0.5, "mobile.safari": 0.3}
        }
    )
    assert device_handler_probabilities(sc) == {"desktop": 0.9, "mobile": 0.3}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"times": [0.0]}, r"times must be in \(0, dwell=30.0\), got 0.0"),
        ({"times": [31.0]}, r"times must be in \(0, dwell=30.0\), got 31.0"),
        ({"transports": ["pigeon"]}, r"transport must be one of \['xhr', .*\], got 'pigeon'"),
        ({"devices": ["watch"]}, r"device must be one of \['desktop', 'mobile'\], got 'watch'"),
        ({"event": "nope"}, r"event must be one of \[.*'page_viewed'.*\], got 'nope'"),
        ({"pages": 0}, "pages must be at least 1, got 0"),
    ],
)
def test_invalid_input_names_the_parameter_and_value(kwargs, message):
    kwargs.setdefault("times", [0.1])
    with pytest.raises(ValueError, match=message):
        unload_survival(fixed(), pages=kwargs.pop("pages", 5), **kwargs)
