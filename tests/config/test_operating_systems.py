"""A segment's operating system: validated against its device and browser, derived when unset."""

from __future__ import annotations

import pytest
from support.factories import scenario, segment

from simulator.cli.main import main
from simulator.config import presets
from simulator.config.loading import ScenarioError, parse_scenario
from simulator.config.operating_systems import (
    OPERATING_SYSTEMS,
    RUNS_ON,
    UNSTATED,
    allowed_systems,
    derived_os,
)
from simulator.model.population import layout_of


def with_segments(*segments: dict) -> dict:
    data = scenario().model_dump(mode="json", by_alias=True)
    data["population"]["segments"] = list(segments)
    return data


def one(device: str, browser: str, os: str | None = None) -> dict:
    seg = segment("s", device, browser, share=1.0)
    if os is not None:
        seg["os"] = os
    return seg


@pytest.mark.parametrize(
    ("device", "browser", "os", "words"),
    [
        # not an operating system at all
        ("desktop", "chrome", "beos", "must be 'windows', 'macos', 'linux', 'chromeos', 'ios', "
                                      "'android' or 'other', got 'beos'"),
        ("desktop", "chrome", "Linux", "got 'Linux'"),
        # phones run no desktop system, desktops no phone system
        ("mobile", "chrome", "windows", "must be one of ['ios', 'android', 'other'], the systems "
                                        "that run 'chrome' on 'mobile', got 'windows'"),
        ("desktop", "firefox", "android", "got 'android'"),
        ("tablet", "chrome", "macos", "got 'macos'"),
        # browsers made for one vendor's systems
        ("mobile", "safari", "android", "must be one of ['ios'], the systems that run 'safari' on "
                                        "'mobile', got 'android'"),
        ("desktop", "safari", "windows", "must be one of ['macos']"),
        ("mobile", "samsung", "ios", "must be one of ['android']"),
    ],
)  # fmt: skip
def test_an_os_the_segment_cannot_run_is_named_with_its_value(device, browser, os, words):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(with_segments(one(device, browser, os)))
    (line,) = err.value.problems
    assert line.startswith("population.segments[0].os: ")
    assert words in line


def test_the_cli_says_so_in_one_line_with_exit_2(capsys):
    baseline = presets.scenarios_dir() / "baseline.toml"
    code = main(["run", str(baseline), "--quiet", "--set", "population.segments[0].os=ios"])
    assert code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "population.segments[0].os:" in lines[0] and "got 'ios'" in lines[0]


@pytest.mark.parametrize("device", list(RUNS_ON))
def test_every_os_a_device_runs_is_accepted_with_a_browser_that_runs_anywhere(device):
    for os in RUNS_ON[device]:
        sc = parse_scenario(with_segments(one(device, "firefox", os)))
        assert sc.population.segments[0].os == os
        assert sc.population.segments[0].operating_system == os


def test_the_systems_are_the_stated_set_and_unstated_is_not_one_of_them():
    assert set(OPERATING_SYSTEMS) == {
        "windows", "macos", "linux", "chromeos", "ios", "android", "other",
    }  # fmt: skip
    assert UNSTATED not in OPERATING_SYSTEMS
    with pytest.raises(ScenarioError):
        parse_scenario(with_segments(one("desktop", "chrome", UNSTATED)))


@pytest.mark.parametrize(
    ("device", "browser", "expected"),
    [
        ("desktop", "safari", "macos"),
        ("mobile", "safari", "ios"),
        ("tablet", "safari", "ios"),
        ("mobile", "samsung", "android"),
        ("tablet", "samsung", "android"),
        ("desktop", "samsung", "android"),  # Android's desktop mode
        # browsers that run on several systems: no guess
        ("desktop", "chrome", UNSTATED),
        ("mobile", "chrome", UNSTATED),
        ("desktop", "edge", UNSTATED),
        ("mobile", "firefox", UNSTATED),
        ("tablet", "other", UNSTATED),
    ],
)
def test_an_unset_os_is_the_only_system_the_browser_runs_on(device, browser, expected):
    sc = parse_scenario(with_segments(one(device, browser)))
    seg = sc.population.segments[0]
    assert seg.os is None and seg.operating_system == expected
    assert derived_os(None, device, browser) == expected


def test_a_stated_os_wins_and_is_echoed_as_written():
    sc = parse_scenario(with_segments(one("desktop", "chrome", "linux")))
    assert sc.population.segments[0].operating_system == "linux"
    assert sc.model_dump(mode="json")["population"]["segments"][0]["os"] == "linux"


def test_the_layout_carries_each_segments_os_and_sorted_categories():
    a, b, c = (
        {**one("desktop", "chrome", "windows"), "name": "win", "share": 0.5},
        {**one("mobile", "safari"), "name": "iphone", "share": 0.3},
        {**one("desktop", "firefox"), "name": "fx", "share": 0.2},
    )
    layout = layout_of(parse_scenario(with_segments(a, b, c)))
    assert layout.segment_os == ("windows", "ios", UNSTATED)
    assert layout.categories("os") == ("ios", UNSTATED, "windows")
    assert layout.segment_category("os").tolist() == [2, 0, 1]


def test_every_allowed_pair_derives_to_an_allowed_system_or_unstated():
    for device in RUNS_ON:
        for browser in ("chrome", "safari", "firefox", "edge", "samsung", "other"):
            allowed = allowed_systems(device, browser)
            assert allowed, (device, browser)
            assert derived_os(None, device, browser) in (*allowed, UNSTATED)
