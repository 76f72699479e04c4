"""The presets: ``trackloss presets`` lists them, and each one's headline loss is calibrated.

The calibration check simulates each preset at a small size and asks whether its headline loss
(the figure the file's header promises, with the published range it cites) is compatible with
that range. The tolerance is the run's own sampling error: the loss is computed per replication
(independent spawned streams), and the 99% Student t interval of their mean must overlap the
published range. Replications, not a binomial on events, carry the error because a blocked
visitor loses all of their events at once. A miss is redrawn once with another root seed before
failing (a second 1% chance), as the project's statistical tests do.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from support.running import run
from support.scenarios import CALIBRATION_TARGETS, SCENARIO_FILES

from simulator.cli.main import main
from simulator.cli.options import EXIT_NO_PRESETS
from simulator.cli.presets import checked_presets
from simulator.config import presets
from simulator.config.loading import load_scenario
from simulator.model.tally import M

USERS = 1500
REPLICATIONS = 6
LEVEL = 0.99

PUBLISHED = {(name, low, high, source) for name, where, low, high, source in CALIBRATION_TARGETS
             if not where}  # fmt: skip
"""Whole-audience ranges of support/scenarios.py, reused where the headline is page views."""


def target(name: str) -> tuple[float, float, str]:
    (hit,) = [(low, high, source) for n, low, high, source in PUBLISHED if n == name]
    return hit


# (preset, plan, event, device or None, low, high, source)
HEADLINES = [
    ("baseline", "client", "page_viewed", None, *target("baseline")),
    ("tech_audience", "client", "page_viewed", None, *target("tech_audience")),
    ("developer_audience", "client", "page_viewed", None, *target("developer_audience")),
    ("first_party_proxy", "client", "page_viewed", None, *target("first_party_proxy")),
    # first_party_paths compares endpoints as plans of one run; its header cites each range.
    ("first_party_paths", "vendor", "page_viewed", None, *target("baseline")),
    ("first_party_paths", "proxy", "page_viewed", None, *target("first_party_proxy")),
    # A `/beacon/` proxy path loses the privacy-list users (uBO, §4d rudder-sdk-js #1869):
    # between LiftIgniter's ~3% of traffic on uBlock (§4c) and Blockmetry's 5.2% of page views
    # blocked by every analytics blocker (§1a), with room for JS off and a little unload.
    ("first_party_paths", "proxy_beacon_path", "page_viewed", None, 0.02, 0.06,
     "§4c LiftIgniter ~3% on uBlock, §1a Blockmetry 5.2% for all blockers"),
    # Header: mobile handlers run 57-68% of the time (§2b, Chrome team citing Jansma), so 32-43%
    # of mobile exits never flush; with ~6% blocked, link_clicked on mobile loses about 40-50%.
    ("mobile_heavy", "client", "link_clicked", "mobile", 0.40, 0.50,
     "§2b unload handlers 57-68% on mobile, plus blocking"),
    # Header: the client plan's order_completed loses as baseline.toml, about 4-7%, mostly
    # blocked (§1a Blockmetry 2016: 5.2% of page views).
    ("server_side", "client", "order_completed", None, 0.04, 0.07, "§1a Blockmetry 2016, 5.2%"),
]  # fmt: skip


def headline_losses(name: str, plan: str, event: str, device: str | None, seed: int) -> np.ndarray:
    """The headline loss in each replication of a small run of the preset."""
    sc = load_scenario(presets.scenarios_dir() / f"{name}.toml", [f"population.users={USERS}"])
    result = run(sc, replications=REPLICATIONS, seed=seed)
    layout = result.tallies[0].layout
    p, e = layout.plans.index(plan), layout.events.index(event)
    if device is None:
        counts = np.array([t.totals()[p, e] for t in result.tallies])
    else:
        c = layout.categories("device").index(device)
        counts = np.array([t.marginal("device")[p, e, c] for t in result.tallies])
    return 1 - counts[:, M["delivered"]] / counts[:, M["truth"]]


def interval(losses: np.ndarray) -> tuple[float, float]:
    half = stats.t.ppf(0.5 + LEVEL / 2, len(losses) - 1) * losses.std(ddof=1)
    half /= math.sqrt(len(losses))
    return losses.mean() - half, losses.mean() + half


@pytest.mark.parametrize(
    ("name", "plan", "event", "device", "low", "high", "source"),
    HEADLINES,
    ids=[h[0] for h in HEADLINES],
)
def test_headline_loss_is_within_the_published_range(name, plan, event, device, low, high, source):
    for seed in (1, 2):  # one redraw before failing
        losses = headline_losses(name, plan, event, device, seed)
        lo, hi = interval(losses)
        if hi >= low and lo <= high:
            break
    assert hi >= low and lo <= high, (
        f"{name} {plan}/{event}{'/' + device if device else ''}: simulated loss "
        f"{losses.mean():.3f} ({LEVEL:.0%} CI {lo:.3f}-{hi:.3f}) misses [{low}, {high}] ({source})"
    )


def test_every_required_preset_has_a_headline():
    assert {"baseline", "tech_audience", "mobile_heavy", "server_side"} <= {h[0] for h in HEADLINES}


# --------------------------------------------------------------------------- listing


def test_presets_are_the_shipped_files_with_their_descriptions():
    listed = checked_presets()
    assert [p.name for p in listed] == [f.stem for f in SCENARIO_FILES]
    assert all(p.description and p.problem is None for p in listed)
    assert presets.scenarios_dir() == SCENARIO_FILES[0].parent


def test_cli_presets_prints_one_line_per_preset(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Presets in ")
    assert "trackloss run NAME" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == [f.stem for f in SCENARIO_FILES]
    assert any("Hacker News" in line for line in lines)


def test_cli_presets_says_clearly_when_the_folder_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(presets, "scenarios_dir", lambda: tmp_path / "scenarios")
    assert main(["presets"]) == EXIT_NO_PRESETS
    err = capsys.readouterr().err
    assert "no scenarios folder at" in err and "reinstall trackloss" in err
    assert "Traceback" not in err


def test_a_broken_preset_is_listed_with_its_problem(tmp_path):
    (tmp_path / "good.toml").write_text(
        (presets.scenarios_dir() / "baseline.toml").read_text("utf-8"), "utf-8"
    )
    (tmp_path / "bad.toml").write_text('description = "half done"\nname = "bad"\n', "utf-8")
    (tmp_path / "broken.toml").write_text("name = ", "utf-8")
    listed = {p.name: p for p in checked_presets(tmp_path)}
    assert listed["good"].problem is None
    assert listed["bad"].description == "half done"
    assert listed["bad"].problem.startswith("population: ")
    assert listed["broken"].problem.startswith("cannot be read")
    assert presets.list_presets(tmp_path)[0].problem is None  # "bad" reads; it is not validated
    text = presets.format_presets(list(listed.values()))
    assert "[invalid: " in text
    (tmp_path / "empty").mkdir()
    with pytest.raises(presets.PresetsMissing, match="no scenario files"):
        presets.list_presets(tmp_path / "empty")


# --------------------------------------------------------------------------- lookup by name


@pytest.fixture
def shelf(tmp_path):
    """A presets folder with two presets, one extending the other, and an empty working folder."""
    folder = tmp_path / "shelf"
    folder.mkdir()
    base = (presets.scenarios_dir() / "baseline.toml").read_text("utf-8")
    (folder / "base.toml").write_text(base.replace('name = "baseline"', 'name = "base"'), "utf-8")
    (folder / "proxy.toml").write_text(
        'name = "proxy"\nextends = "base.toml"\n[client]\ndestination = "proxy"\n', "utf-8"
    )
    work = tmp_path / "work"
    work.mkdir()
    return folder, work


@pytest.mark.parametrize("name", ["base", "base.toml"])
def test_a_preset_is_found_by_name_with_or_without_its_suffix(shelf, name):
    folder, _ = shelf
    assert presets.find_preset(name, folder) == folder / "base.toml"


@pytest.mark.parametrize("name", ["other", "base.json", "sub/base", "../shelf/base.toml", ""])
def test_anything_but_a_preset_name_finds_no_preset(shelf, name):
    folder, _ = shelf
    assert presets.find_preset(name, folder) is None


def test_an_existing_file_wins_over_a_preset_of_the_same_name(shelf, monkeypatch):
    folder, work = shelf
    (work / "base.toml").write_text('name = "mine"\n', "utf-8")
    monkeypatch.chdir(work)
    assert presets.locate_scenario("base.toml", folder) == Path("base.toml")
    assert presets.locate_scenario("base", folder) == folder / "base.toml"


def test_a_path_with_a_folder_is_never_taken_for_a_preset(shelf, monkeypatch):
    folder, work = shelf
    monkeypatch.chdir(work)
    assert presets.locate_scenario("elsewhere/base.toml", folder) == Path("elsewhere/base.toml")


def test_an_unknown_name_lists_the_presets_and_the_command_that_shows_them(shelf, monkeypatch):
    folder, work = shelf
    monkeypatch.chdir(work)
    with pytest.raises(presets.PresetNotFound) as info:
        presets.locate_scenario("bse", folder)
    assert str(info.value) == (
        "no such file, and no preset of that name (presets: base, proxy; "
        "'trackloss presets' describes them)"
    )
    with pytest.raises(presets.PresetNotFound, match="no presets are installed"):
        presets.locate_scenario("bse", work / "missing")


def test_load_scenario_reads_a_preset_by_name_and_resolves_its_extends(shelf, monkeypatch):
    folder, work = shelf
    monkeypatch.chdir(work)
    monkeypatch.setattr(presets, "scenarios_dir", lambda: folder)
    sc = load_scenario("proxy", ["population.users=300"])
    assert (sc.name, sc.client.destination, sc.population.users) == ("proxy", "proxy", 300)
    assert len(sc.population.segments) == len(load_scenario("base").population.segments)


def test_commands_take_a_preset_name_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "baseline", "server_side.toml"]) == 0
    assert capsys.readouterr().out.splitlines() == ["baseline: ok", "server_side.toml: ok"]


def test_commands_explain_a_name_that_is_neither_file_nor_preset(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "baselin", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("baselin: no such file, and no preset of that name (presets: baseline, ")
    assert "'trackloss presets' describes them" in err and "Traceback" not in err
