"""Composition by operating system recovers a blocking difference between two systems.

Two segments share device and browser (desktop Chrome) and differ only in their OS and in how
many of their visitors run a privacy list. Nothing is lost but by blocking, so the Linux share
among received events follows thinning exactly (support.bias_factories), while device and browser
have a single category and show no shift at all.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from scipy import stats
from support.bias_factories import VISIT_EVENTS, expected_received_share, segment
from support.factories import scenario
from support.running import run

from simulator.model.tally import M
from simulator.outputs.document import render
from simulator.outputs.frames import to_frame
from simulator.outputs.headlines import shift_sentence
from simulator.stats.summary import summarise

LINUX_SHARE, LINUX_BLOCKED, WINDOWS_BLOCKED = 0.3, 0.6, 0.2
REPLICATIONS = 4


def two_systems(users: int):
    linux = segment("linux_chrome", "desktop", "chrome", LINUX_SHARE, LINUX_BLOCKED)
    windows = segment("windows_chrome", "desktop", "chrome", 1 - LINUX_SHARE, WINDOWS_BLOCKED)
    linux["os"], windows["os"] = "linux", "windows"
    return scenario(
        users=users,
        population={"segments": [linux, windows]},
        events=VISIT_EVENTS,
        behaviour={"return_probability": 0.0, "funnel": []},
        simulation={"horizon_hours": 24, "drain_hours": 1, "replications": 1, "seed": 1},
    )


@functools.cache
def _shift(seed: int) -> tuple[str, tuple[float, ...]]:
    result = run(two_systems(users=2000), replications=REPLICATIONS, seed=seed)
    # Oracle: the Linux share straight from each replication's tally, by OS.
    layout = result.tallies[0].layout
    e, linux = layout.events.index("page_viewed"), layout.categories("os").index("linux")
    diffs = []
    for t in result.tallies:
        m = t.marginal("os")[0, e]  # categories x measures
        truth = m[:, M["truth"]]
        received = m[:, M["delivered"]] + m[:, M["duplicates"]] + m[:, M["bots"]]
        diffs.append(received[linux] / received.sum() - truth[linux] / truth.sum())
    return json.dumps(summarise(result)), tuple(diffs)


def shifted() -> tuple[dict, np.ndarray]:
    """The record and per-replication Linux shift, redrawn once if the first seed misses."""
    expected = expected_received_share(LINUX_SHARE, LINUX_BLOCKED, WINDOWS_BLOCKED) - LINUX_SHARE
    text, diffs = _shift(1)
    if stats.ttest_1samp(diffs, expected).pvalue < 0.001:
        text, diffs = _shift(2)
    return json.loads(text), np.array(diffs)


def page_views(record: dict) -> dict:
    return next(r for r in record["results"] if r["event"] == "page_viewed")


def test_the_os_shift_is_the_thinning_prediction_within_the_replications_spread():
    # 0.3 x 0.4 / (0.3 x 0.4 + 0.7 x 0.8) - 0.3 = 0.176 - 0.3 = -0.124
    expected = expected_received_share(LINUX_SHARE, LINUX_BLOCKED, WINDOWS_BLOCKED) - LINUX_SHARE
    record, diffs = shifted()
    assert stats.ttest_1samp(diffs, expected).pvalue >= 0.001
    bias = page_views(record)["bias"]["os"]
    linux, windows = bias["shares"]["linux"], bias["shares"]["windows"]
    assert linux["diff"] == pytest.approx(diffs.mean(), abs=1e-12)
    assert linux["diff_ci"][1] < 0 < windows["diff_ci"][0]
    assert windows["diff"] == pytest.approx(-linux["diff"])
    assert bias["p_value"] < 0.001 and bias["tvd_ci"][0] > 0


def test_device_and_browser_have_one_category_and_show_nothing():
    record, _ = shifted()
    bias = page_views(record)["bias"]
    for dim in ("device", "browser"):
        (only,) = bias[dim]["shares"].values()
        assert only["truth"] == only["received"] == 1.0
    assert record["layout"]["dimensions"]["os"] == ["linux", "windows"]


def test_the_composition_frame_has_the_os_rows():
    record, _ = shifted()
    frame = to_frame(record, "composition")
    rows = frame[(frame["dimension"] == "os") & (frame["event"] == "page_viewed")]
    assert sorted(rows["category"]) == ["linux", "windows"]
    linux = rows.set_index("category").loc["linux"]
    shares = page_views(record)["bias"]["os"]["shares"]["linux"]
    assert linux["diff"] == shares["diff"]
    assert (linux["diff_lo"], linux["diff_hi"]) == tuple(shares["diff_ci"])


def test_the_report_shows_the_os_shift_and_the_headline_names_it():
    record, _ = shifted()
    text = render(record, "markdown")
    os_rows = [line for line in text.splitlines() if line.startswith("|") and "| os |" in line]
    assert os_rows and any("linux:" in line for line in os_rows)
    sentence = shift_sentence(page_views(record))
    assert sentence is not None and "linux (os) is under-represented" in sentence


def test_a_headline_never_names_the_unstated_os():
    def share(truth: float, received: float) -> dict:
        diff = received - truth
        return {
            "truth": truth,
            "received": received,
            "diff": diff,
            "diff_ci": [diff - 0.01, diff + 0.01],
        }

    row = {
        "event": "page_viewed",
        "bias": {
            "os": {"shares": {"unstated": share(0.5, 0.3), "ios": share(0.5, 0.7)}},
        },
    }
    assert shift_sentence(row) == (
        "Among page_viewed events received, ios (os) is over-represented: 70.0% of received "
        "against 50.0% of true events."
    )
