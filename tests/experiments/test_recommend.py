"""``recommend`` on simulated sites: each rule triggered by a scenario, ties, costs, the CLI.

The site is the lossless factory scenario with one event per kind of decision; a test turns on
the one mechanism it needs (blockers, a failing server). Every candidate path sees the same
visitors, so differences between paths are exact where the mechanism makes them so.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.distributions import as_scipy
from support.factories import scenario
from support.running import run

from simulator.cli.main import main
from simulator.experiments.recommend import (
    PLAN_NAMES,
    SHIFT_DIMENSIONS,
    candidate_scenario,
    measure,
    recommend,
    share,
)
from simulator.model.tally import SEGMENT_DIMENSIONS
from simulator.outputs.recommend_document import to_markdown
from simulator.outputs.recommend_report import format_recommendation, narrated

EVENTS = [
    {"name": "page_viewed", "kind": "page_view", "needs_context": ["utm", "referrer"]},
    {"name": "clicked", "kind": "ui", "per_page": 0.5},
    {"name": "order", "kind": "funnel", "has_value": True, "sensitive": True,
     "needs_context": ["utm"]},
    {"name": "paid", "kind": "signup", "sensitive": True},
    {"name": "signed_up", "kind": "signup", "mission_critical": True, "needs_context": ["utm"]},
    {"name": "usage", "kind": "offsite"},
    {"name": "replay", "kind": "client_only", "request_class": "replay"},
]  # fmt: skip
SITE = dict(
    users=800,
    events=EVENTS,
    behaviour={"funnel": [0.3], "signup_probability": 0.2},
    simulation={"replications": 2},
)


def site(blocked: float = 0.0, **overrides) -> object:
    """The test site with a share ``blocked`` of visitors on privacy-list blockers."""
    sc = scenario(**SITE)
    segments = sc.population.model_dump(mode="json", by_alias=True)["segments"]
    for s in segments:
        s["blockers"] = (
            {"none": 1 - blocked, "extension_privacy": blocked} if blocked else {"none": 1.0}
        )
    return scenario(**{**SITE, "population": {"segments": segments}, **overrides})


def decisions(record: dict) -> dict[str, tuple[str, str]]:
    return {e["event"]: (e["recommendation"], e["rule"]) for e in record["events"]}


def blocked_share_tolerance(p: float = 0.3, sigmas: float = 5.0) -> float:
    """``sigmas`` standard errors of the share of events lost to per-visitor blocking.

    Blocking is drawn per visitor, so the lost share of events is a ratio of cluster sums:
    Var = p(1 - p) E[n^2] / (N E[n]^2) for N visitors with n pages each (the default
    pages-per-visit distribution is geometric; returns add visits, which only lowers it).
    """
    sc = site(p)
    mean = sc.behaviour.pages_per_visit.mean()
    second = as_scipy(sc.behaviour.pages_per_visit).moment(2)
    visitors = sc.population.users * sc.simulation.replications
    return sigmas * (p * (1 - p) * second / (visitors * mean**2)) ** 0.5


TOL = blocked_share_tolerance()


@pytest.fixture(scope="module")
def blocked_site() -> dict:
    return recommend(site(0.3), seed=11)


def test_candidates_are_one_plan_per_path_on_the_same_visitors():
    original = site(0.3)
    sc = candidate_scenario(original)
    assert (sc.population, sc.events, sc.client, sc.server) == (
        original.population,
        original.events,
        original.client,
        original.server,
    )
    assert [p.name for p in sc.plans] == list(PLAN_NAMES.values())
    assert [p.default_path for p in sc.plans] == ["client", "server", "hybrid", "dual"]
    tally = run(sc, seed=3).tallies[0].totals()
    # Common random numbers: every plan sees exactly the same true events.
    assert np.all(tally[:, :, 0] == tally[0, :, 0])


def test_every_rule_is_triggered_by_the_blocked_site(blocked_site):
    assert decisions(blocked_site) == {
        "page_viewed": ("hybrid", "most_context_coverage"),  # client over budget, needs UTM
        "clicked": ("server", "cheapest_within_budget"),  # client over budget, no context
        "order": ("hybrid", "sensitive"),
        "paid": ("server", "sensitive"),
        "signed_up": ("hybrid", "mission_critical"),
        "usage": ("server", "offsite"),
        "replay": ("client", "client_only"),
    }
    replay = next(e for e in blocked_site["events"] if e["event"] == "replay")
    assert list(replay["paths"]) == ["client"]
    assert replay["paths"]["client"]["loss"] == pytest.approx(0.3, abs=TOL)


def test_measurements_match_the_mechanism(blocked_site):
    page = next(e for e in blocked_site["events"] if e["event"] == "page_viewed")["paths"]
    assert page["client"]["loss"] == pytest.approx(0.3, abs=TOL)  # only blockers lose
    # (loss is the mean of per-replication shares, causes the share of the mean counts)
    assert page["client"]["causes"] == {"blocked": pytest.approx(page["client"]["loss"], abs=1e-3)}
    assert page["server"]["loss"] == page["hybrid"]["loss"] == page["dual"]["loss"] == 0.0
    # What the client delivers carries context: it brings it on every event it does not lose.
    assert page["client"]["context_coverage"] == pytest.approx(1 - page["client"]["loss"])
    assert page["client"]["without_context"] == 0.0
    assert page["server"]["context_coverage"] == 0.0
    assert page["hybrid"]["context_coverage"] == 1.0  # nobody here blocks the forwarding
    # Dual delivers the blocked visitors' events through the server, without context.
    assert page["dual"]["context_coverage"] == pytest.approx(page["client"]["context_coverage"])
    assert page["dual"]["without_context"] == pytest.approx(page["client"]["loss"], abs=1e-3)
    lo, hi = page["client"]["context_coverage_ci"]
    assert lo < page["client"]["context_coverage"] < hi
    lo, hi = page["client"]["loss_ci"]
    assert lo < page["client"]["loss"] < hi
    # Blockers are spread evenly over segments here, so what arrives keeps its composition.
    shift = page["client"]["shift"]
    assert shift["dimension"] in SHIFT_DIMENSIONS and set(shift["by_dimension"]) <= set(
        SHIFT_DIMENSIONS
    )
    assert shift["tvd_ci"][0] <= 0.02
    # The shift is looked for along every dimension a visitor is described by.
    assert set(SHIFT_DIMENSIONS) == {*SEGMENT_DIMENSIONS, "country", "channel"}


def test_device_biased_blocking_shows_as_a_client_side_shift():
    # Half the desktop visitors block, no mobile one does; both segments browse alike, so the
    # desktop share of page views falls from 1/2 to (1 - b) / (2 - b): TVD = b / (2 (2 - b)).
    b = 0.5
    sc = site()
    segments = sc.population.model_dump(mode="json", by_alias=True)["segments"]
    segments[0]["blockers"] = {"none": 1 - b, "extension_privacy": b}
    record = narrated(recommend(site(population={"segments": segments}), seed=6))
    page = next(e for e in record["events"] if e["event"] == "page_viewed")["paths"]
    client = page["client"]["shift"]
    assert client["dimension"] == "device"
    lo, hi = client["tvd_ci"]
    assert lo <= b / (2 * (2 - b)) <= hi
    assert page["server"]["shift"]["tvd"] == 0.0  # no bots here: the server sees the truth
    assert (
        "skewed most by device"
        in next(e for e in record["events"] if e["event"] == "replay")["paragraph"]
    )


def test_lossless_site_ties_everywhere_and_the_cheapest_path_wins():
    record = recommend(site(0.0), seed=5)
    got = decisions(record)
    assert got["page_viewed"] == ("client", "most_context_coverage")
    assert got["clicked"] == ("client", "cheapest_within_budget")
    clicked = next(e for e in record["events"] if e["event"] == "clicked")
    assert clicked["tied_with"] == ["server", "hybrid", "dual"]


def test_costs_from_the_scenario_break_the_tie():
    costly_client = site(0.0, recommend={"costs": {"client": 10.0, "server": 3.5}})
    got = decisions(recommend(costly_client, seed=5))
    assert got["clicked"] == ("hybrid", "cheapest_within_budget")
    assert got["page_viewed"] == ("hybrid", "most_context_coverage")  # tied with the client


def test_loss_budget_keeps_the_client_when_generous(blocked_site):
    generous = decisions(recommend(site(0.3), loss_budget=0.6, seed=11))
    assert generous["clicked"] == ("client", "cheapest_within_budget")
    # An event that needs context does not stay on the client: the 30% it loses arrive with
    # no context at all, and hybrid brings it on every event.
    assert generous["page_viewed"] == ("hybrid", "most_context_coverage")
    assert generous["order"] == decisions(blocked_site)["order"]  # rules do not move


def test_over_budget_everywhere_takes_the_least_loss():
    # Half of all server uploads fail and are never retried: every path loses over 5%, and
    # dual, which needs both copies to fail, loses least. Its lead (13% against the client's
    # 27%) must show beyond the intervals, so this run takes five replications: with two, the
    # t interval (t = 12.7 on one degree of freedom) spans both and the tie goes to the client.
    lossy = site(
        0.3,
        server={"failure_probability": 0.5, "max_retries": 0, "batch_size": 1},
        simulation={"replications": 5},
    )
    record = recommend(lossy, seed=2)
    clicked = next(e for e in record["events"] if e["event"] == "clicked")
    assert (clicked["recommendation"], clicked["rule"]) == ("dual", "least_loss")
    assert clicked["warnings"] == ["no path meets the 5.0% loss budget"]
    assert clicked["paths"]["dual"]["loss"] < clicked["paths"]["client"]["loss"]
    assert "over the 5.0% budget" in " ".join(
        next(e for e in record["events"] if e["event"] == "paid")["warnings"]
    )


def test_respecting_choice_measures_loss_among_consenting_visitors():
    record = narrated(recommend(site(0.3), respect_choice=True, seed=11))
    assert record["mode"]["respect_choice"] is True
    assert "respected" in record["mode"]["statement"]
    page = next(e for e in record["events"] if e["event"] == "page_viewed")
    for path in ("server", "hybrid", "dual"):
        m = page["paths"][path]
        assert m["withheld"] == pytest.approx(0.3, abs=TOL)
        assert m["budget_loss"] == 0.0  # everyone who did not opt out arrives
        # The record adds up: delivered + faults + withheld + pending = truth.
        total = m["delivered"] + (m["faults"] + m["withheld"]) * m["truth"] + m["pending"]
        assert total == pytest.approx(m["truth"], rel=1e-12)
    # The client copy of an opted-out visitor is blocked by their own blocker, so among the
    # consenting visitors the client loses nothing either, and keeps every event's context.
    assert page["paths"]["client"]["budget_loss"] == 0.0
    assert page["recommendation"] == "client"
    assert (
        "withheld by their choice"
        in next(e for e in record["events"] if e["event"] == "order")["paragraph"]
    )


def test_share_uses_t_with_replications_and_wilson_with_one():
    one = share(np.array([30.0]), np.array([100.0]))
    assert one.value == 0.3 and one.ci[0] < 0.3 < one.ci[1] and one.n == 100
    several = share(np.array([30.0, 20.0, 25.0]), np.array([100.0, 100.0, 100.0]))
    assert several.value == pytest.approx(0.25) and several.reps == (0.3, 0.2, 0.25)
    empty = share(np.array([0.0]), np.array([0.0]))
    assert not empty.defined and empty.ci is None


def test_measure_reads_every_candidate_path():
    result = run(candidate_scenario(site(0.3)), seed=4)
    per_event = measure(result)
    assert [sorted(m) for m in per_event] == [
        sorted(("client", "server", "hybrid", "dual"))
    ] * 5 + [["server"], ["client"]]


def test_terminal_table_markdown_and_json(blocked_site):
    text = format_recommendation(blocked_site)
    header = text.splitlines()[5].split()
    assert header[:7] == ["event", "choice", "metric", "client", "server", "hybrid", "dual"]
    assert "rule: client-only by nature" in text
    assert "page_viewed: track it on the hybrid path, because" in text
    md = to_markdown(blocked_site)
    assert md.startswith("## Client or server? Recommendation per event")
    assert "| page_viewed | hybrid | measured: most events with context, within budget |" in md
    assert "### True events that arrive with the context they need" in md
    assert "### Largest composition shift of what arrives (TVD, dimension)" in md
    assert json.loads(json.dumps(blocked_site)) == blocked_site


def test_figure_draws_what_the_record_measures(blocked_site):
    from matplotlib.figure import Figure

    from simulator.outputs.plots import recommendation_paths

    fig = recommendation_paths(blocked_site, Figure(figsize=(12, 6)))
    loss_ax, context_ax = fig.axes[:2]
    for ax, figure_of in (
        (loss_ax, lambda e, m: m["budget_loss"]),
        (context_ax, lambda e, m: 1 - m["context_coverage"] if e["needs_context"] else None),
    ):
        drawn = {c.get_label(): list(c.lines[0].get_xdata()) for c in ax.containers}
        for path, values in drawn.items():
            expected = [figure_of(e, e["paths"][path]) for e in blocked_site["events"]
                        if path in e["paths"]]  # fmt: skip
            assert values == pytest.approx([v for v in expected if v is not None]), path
    assert any(context_ax.containers[0].lines[0].get_xdata())  # context is drawn, not blank


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def tiny(write_scenario, minimal_scenario_dict) -> str:
    data = {**minimal_scenario_dict, "simulation": {"replications": 1, "seed": 3}}
    data["population"]["users"] = 150
    return str(write_scenario(data))


def test_cli_recommend_prints_the_table_and_writes_json_and_markdown(tiny, tmp_path, capsys):
    out_json, out_md = tmp_path / "rec.json", tmp_path / "rec.md"
    code = main(["recommend", tiny, "--loss-budget", "0.1", "--json", str(out_json),
                 "--report", str(out_md)])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "event" in out and "decided by" in out and "order_completed" in out
    record = json.loads(out_json.read_text())
    from simulator.config.scenario import DEFAULT_EVENTS

    assert record["loss_budget"] == 0.1 and len(record["events"]) == len(DEFAULT_EVENTS)
    markdown = out_md.read_text()
    assert markdown.startswith("## Client or server?")
    assert "](<rec-recommend.png>)" in markdown  # the figure, written beside the Markdown
    assert (tmp_path / "rec-recommend.png").read_bytes().startswith(b"\x89PNG")
    out_html = tmp_path / "rec.html"
    assert main(["recommend", tiny, "--quiet", "--report", str(out_html)]) == 0
    page = out_html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<td>order_completed</td>" in page
    assert page.count('<img alt="Loss and context lost on every path') == 1
    assert 'src="data:image/png;base64,' in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loss-budget", "1.5"], "must be between 0 and 1"),
        (["--loss-budget", "lots"], "must be a number between 0 and 1"),
        (["--set", "population.users=0"], "population.users: must be greater than 0"),
        (["--json", "/nonexistent/folder/x.json"], "cannot write JSON"),
        (["--report", "out.txt"], "the name must end in .md"),
    ],
)
def test_cli_recommend_bad_input_exits_2_without_traceback(tiny, capsys, args, message):
    assert exit_code(["recommend", tiny, *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_cli_recommend_missing_file_exits_2(capsys):
    assert exit_code(["recommend", "no_such_scenario.toml"]) == 2
    assert "no such file" in capsys.readouterr().err


def exit_code(argv: list[str]) -> int:
    """The CLI's exit status, whether it returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


def test_context_missed_counts_lost_events_too():
    from simulator.outputs.recommend_report import context_lost

    paths = {
        "client": {"budget_loss": 0.046, "context_coverage": 0.954, "without_context": 0.0},
        "hybrid": {"budget_loss": 0.0, "context_coverage": 0.998, "without_context": 0.002},
    }
    record = {"kind": "first_visit", "needs_context": ["utm", "referrer"], "paths": paths}
    client = context_lost({**record, "recommendation": "client"})
    assert client["share"] == pytest.approx(0.046)
    assert client["text"] == "utm, referrer missing on 4.6% of true events (4.6% never arrive)"
    hybrid = context_lost({**record, "recommendation": "hybrid"})
    assert hybrid["share"] == pytest.approx(0.002)
    assert "0.2% arrive without it because the forwarding failed" in hybrid["text"]


def test_one_replication_compares_paths_on_groups_of_visitors_not_on_events():
    """A blocked visitor loses every event at once, so with one replication the loss interval
    must come from the spread between groups of visitors, and be wider than a binomial one on
    events. Blocking is all or nothing per visitor, so the design effect is about
    E[n^2] / E[n] for n page views per visitor: 7 for geometric pages of mean 4 (more with
    returns). A 9-df jackknife variance falls below the binomial one only if chi2(9) / 9 < 1/7,
    which has probability about 0.1%."""
    sc = site(0.3, simulation={"replications": 1})
    page = measure(run(candidate_scenario(sc), seed=3))[
        [e.name for e in sc.events].index("page_viewed")
    ]
    loss = page["client"].loss
    assert loss.by_groups and len(loss.reps) == 10
    lo, hi = loss.ci
    binomial = 1.96 * (loss.value * (1 - loss.value) / loss.n) ** 0.5
    assert (hi - lo) / 2 > binomial
    assert lo < 0.3 < hi
