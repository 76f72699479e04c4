"""The event mix of visitors whose browser sent nothing, against a known share of people."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.experiments.estimate.silent_visitors import NONE_SENT, silent_visitor_mix

NAMES = ["click", "order", "page_view"]
RATES = {"page_view": 5.0, "click": 2.0, "order": 0.3}
"""Events a person sends the server per visit, on average."""


def visitors(talking: int, silent: int, people: float, bots_click: bool, seed: int):
    """Counts per visitor group, as the estimate has them: people act alike, bots read pages."""
    rng = np.random.default_rng(seed)
    n = talking + silent
    quiet = np.arange(n) >= talking
    person = ~quiet | (rng.random(n) < people)
    rows = {"event": [], "group": [], "silent": [], "count": []}
    for code, name in enumerate(NAMES):
        count = rng.poisson(RATES[name], n)
        if name == "page_view":
            count = np.where(person, count, rng.poisson(12.0, n))
        elif not (bots_click and name == "click"):
            count = np.where(person, count, 0)
        rows["event"].append(np.full(n, code))
        rows["group"].append(np.arange(n))
        rows["silent"].append(quiet)
        rows["count"].append(count)
    entries = {k: np.concatenate(v) for k, v in rows.items()}
    # Every visitor here was seen by the server: one entry per visitor group (a visitor each).
    seen = np.ones(n)
    return entries, (np.arange(n), seen, quiet.astype(float))


def mix(talking=3000, silent=600, people=0.4, bots_click=False, seed=1):
    entries, counts = visitors(talking, silent, people, bots_click, seed)
    # The talking visitors' events reach both paths; the silent ones' the server only.
    quiet = entries["silent"]
    cells = np.zeros((quiet.size, 3))
    cells[~quiet, 0], cells[quiet, 2] = entries["count"][~quiet], entries["count"][quiet]
    return silent_visitor_mix(
        entries["event"], entries["group"], quiet, cells, counts, NAMES, seed=seed
    )


def test_bots_that_neither_click_nor_buy_show_how_many_are_people():
    out = mix(people=0.4)
    assert out["mix_differs"]
    assert out["most_event"] == "page_view" and out["from_event"] in ("click", "order")
    lo, hi = out["people_at_most_ci"]
    sd = np.log(hi / lo) / (2 * 1.959963984540054)
    assert abs(np.log(out["people_at_most"] / 0.4)) < 3 * sd, out


def test_silent_people_who_act_like_the_others_are_not_set_apart():
    """The bound's upper end reaches 1 in 97.5% of draws (97% of 200 measured): one redraw."""

    def apart(out):
        return out["mix_differs"] or out["people_at_most_ci"][1] < 1.0

    first = mix(people=1.0, seed=1)
    assert not apart(first) or not apart(mix(people=1.0, seed=2)), first


def test_no_order_at_all_from_the_silent_bounds_them_by_a_poisson_zero():
    out = mix(people=0.0)
    order = next(e for e in out["events"] if e["event"] == "order")
    assert order["ratio"] == 0.0
    assert order["ratio_ci"] == [0.0, pytest.approx(NONE_SENT / order["expected"])]
    assert out["people_at_most"] == 0.0 and out["mix_differs"]


def test_without_silent_visitors_there_is_nothing_to_say():
    assert mix(silent=0) is None
