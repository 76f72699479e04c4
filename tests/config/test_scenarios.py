"""The shipped scenario files validate, cite their sources and stay calibrated.

Three kinds of check:

* every ``scenarios/*.toml`` parses, validates against the schema, and has a name and a one-line
  description (the ``presets`` command lists them);
* a cheap guard that sources are cited: every top-level table and every
  ``[[population.segments]]`` block has a comment line right before or right after its header;
* static calibration. From a file's own segment shares, blocker mixes, pages per visit and
  blocking rules, the share of page views whose vendor-bound requests are blocked must fall in
  the published range the file cites (ranges below, with sources from
  ``../shared/CALIBRATION.md``). This is arithmetic on the configuration, not a simulation, so it
  also catches a segment mix that drifts away from its target.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from support.scenarios import CALIBRATION_TARGETS, SCENARIO_DIR, SCENARIO_FILES

from simulator.config.loading import load_scenario
from simulator.config.scenario import BLOCKERS, Scenario
from simulator.model.filter_engine import blocking_table

REQUIRED = {
    "baseline", "tech_audience", "server_side", "first_party_proxy", "first_party_paths",
    "mobile_heavy",
}  # fmt: skip
# Files that model "the baseline shop" with a different tracking setup: they extend baseline.toml
# so that visitors, behaviour and events stay identical and the comparison like for like.
BASELINE_VARIANTS = ("server_side", "first_party_proxy", "first_party_paths")

HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")


def load(path: Path) -> Scenario:
    return load_scenario(path)


def uncommented_headers(text: str) -> list[str]:
    """Return top-level and segment table headers with no comment line next to them.

    "Next to" means the nearest non-blank line before or after the header is a comment, or
    the header line itself carries a trailing comment.
    """
    lines = text.splitlines()
    bad = []
    for i, line in enumerate(lines):
        match = HEADER.match(line)
        if match is None:
            continue
        name = match.group(2).strip()
        if "." in name and name != "population.segments":
            continue
        if match.group(3):
            continue
        before = next((x for x in reversed(lines[:i]) if x.strip()), "")
        after = next((x for x in lines[i + 1 :] if x.strip()), "")
        if not (before.lstrip().startswith("#") or after.lstrip().startswith("#")):
            bad.append(f"line {i + 1}: {line.strip()}")
    return bad


def test_required_scenarios_are_shipped():
    assert REQUIRED <= {p.stem for p in SCENARIO_FILES}


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_scenario_validates_and_describes_itself(path):
    scenario = load(path)
    assert scenario.name == path.stem
    assert scenario.description.strip()
    assert "\n" not in scenario.description
    assert len(scenario.plans) >= 2, "a preset should compare at least two plans"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_scenario_cites_sources_next_to_every_table(path):
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("#"), "a scenario starts with a comment block"
    assert uncommented_headers(text) == []


def test_comment_guard_catches_an_uncommented_table():
    text = "# header\nname = 'x'\n\n[simulation]\nseed = 1\n\n[[population.segments]]\nname = 'a'\n"
    assert uncommented_headers(text) == ["line 4: [simulation]", "line 7: [[population.segments]]"]
    ok = "[simulation]  # why\nseed = 1\n\n[client.retry]\nstore = 'none'\n"
    assert uncommented_headers(ok) == []


def test_baseline_compares_client_server_and_dual():
    scenario = load(SCENARIO_DIR / "baseline.toml")
    assert {p.name: p.default_path for p in scenario.plans} == {
        "client": "client",
        "server": "server",
        "dual": "dual",
    }
    kinds = {e.kind for e in scenario.events}
    assert {"page_view", "ui", "funnel", "signup", "offsite", "client_only"} <= kinds
    assert scenario.population.users == 20000
    assert scenario.simulation.replications == 3


@pytest.mark.parametrize("variant", BASELINE_VARIANTS)
def test_baseline_variants_keep_the_same_shop(variant):
    # They extend baseline.toml and write none of its shop, so they cannot drift from it.
    with (SCENARIO_DIR / f"{variant}.toml").open("rb") as fh:
        raw = tomllib.load(fh)
    assert raw["extends"] == "baseline.toml"
    assert not {"population", "behaviour", "events", "simulation", "server"} & raw.keys()
    base = load(SCENARIO_DIR / "baseline.toml")
    other = load(SCENARIO_DIR / f"{variant}.toml")
    assert other.population == base.population
    assert other.behaviour == base.behaviour
    assert other.events == base.events
    assert other.simulation == base.simulation
    assert other.server == base.server


def test_revenue_and_signups_move_to_server_side():
    scenario = load(SCENARIO_DIR / "server_side.toml")
    plans = {p.name: p for p in scenario.plans}
    by_name = {e.name: e for e in scenario.events}
    assert plans["client"].path_of(by_name["order_completed"]) == "client"
    for plan, path in (("revenue_on_server", "server"), ("hybrid", "hybrid")):
        for event in ("order_completed", "signed_up"):
            assert plans[plan].path_of(by_name[event]) == path
        assert plans[plan].path_of(by_name["page_viewed"]) == "client"


def test_first_party_proxy_uses_a_same_origin_path():
    assert load(SCENARIO_DIR / "first_party_proxy.toml").client.destination == "proxy"


# --- static calibration ----------------------------------------------------------------------


def blocked_page_view_share(scenario: Scenario, **where: str) -> float:
    """Share of human page views that are invisible to the client path before any request.

    Visitors without JavaScript, plus those whose blocker blocks analytics requests to the
    configured destination. Segments are weighted by share x mean pages per visit, restricted
    to segments whose attributes match ``where`` (e.g. ``device="desktop"``).
    """
    rules = blocking_table(scenario.client, BLOCKERS).shares()
    no_js = scenario.population.javascript_disabled
    weight = blocked = 0.0
    for seg in scenario.population.segments:
        if any(getattr(seg, k) != v for k, v in where.items()):
            continue
        pages = seg.share * scenario.behaviour_of(seg).pages_per_visit.mean()
        p_block = sum(share * rules[kind]["blocked"] for kind, share in seg.blockers.items())
        weight += pages
        blocked += pages * (no_js + (1 - no_js) * p_block)
    assert weight > 0, f"no segment matches {where}"
    return blocked / weight


def ad_blocked_user_share(scenario: Scenario, **where: str) -> float:
    """Share of human users whose blocker blocks ad requests."""
    rules = blocking_table(scenario.client, BLOCKERS).shares()
    total = blocked = 0.0
    for seg in scenario.population.segments:
        if any(getattr(seg, k) != v for k, v in where.items()):
            continue
        total += seg.share
        blocked += seg.share * sum(s * rules[k]["ads"] for k, s in seg.blockers.items())
    return blocked / total


# (scenario, filter, low, high, source). Ranges bracket the published figure with room for the
# approximations the files document (overlapping categories in the source tables, rounding).
@pytest.mark.parametrize(
    ("name", "where", "low", "high", "source"),
    CALIBRATION_TARGETS,
    ids=[f"{t[0]}-{'-'.join(t[1].values()) or 'all'}" for t in CALIBRATION_TARGETS],
)
def test_blocked_share_matches_published_range(name, where, low, high, source):
    share = blocked_page_view_share(load(SCENARIO_DIR / f"{name}.toml"), **where)
    assert low <= share <= high, f"{name} {where}: {share:.3f} outside [{low}, {high}] ({source})"


def test_tech_audience_desktop_blocks_more_than_mobile():
    scenario = load(SCENARIO_DIR / "tech_audience.toml")
    desktop = blocked_page_view_share(scenario, device="desktop")
    mobile = blocked_page_view_share(scenario, device="mobile")
    assert desktop > mobile + 0.10  # Plausible 2021: 68.2% vs 50-53%


def test_mobile_heavy_ad_blocking_is_high_but_analytics_blocking_low():
    scenario = load(SCENARIO_DIR / "mobile_heavy.toml")
    ads = ad_blocked_user_share(scenario, device="mobile")
    analytics = blocked_page_view_share(scenario, device="mobile")
    # §1a GWI via WARC (UNCERTAIN): 38.4% of APAC mobile users used an ad blocker last month.
    assert 0.30 <= ads <= 0.45
    assert analytics < ads / 3
