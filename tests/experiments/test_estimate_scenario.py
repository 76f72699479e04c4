"""``trackloss estimate --write-scenario``: from a site's logs to a scenario that runs.

A simulated site is exported, estimated, and written back as a scenario: the blocked share of
each segment and the unblocked loss of each device recover the simulated ones within their
bootstrap intervals, and the file validates and runs with ``trackloss recommend``.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest
from scipy import stats

pq = pytest.importorskip("pyarrow.parquet")

from support.factories import segment, two_path_site  # noqa: E402

from simulator.config.scenario import Scenario  # noqa: E402
from simulator.experiments.estimate.estimation import estimate  # noqa: E402
from simulator.experiments.estimate.scenario_writer import scenario_text  # noqa: E402
from simulator.experiments.event_export import export_events  # noqa: E402

BLOCKED = {"desktop": 0.4, "mobile": 0.1}
FAILURE = 0.08


def site(seed: int = 5, users: int = 1500) -> Scenario:
    return two_path_site([
        segment("desk", "desktop", "chrome",
                {"none": 1 - BLOCKED["desktop"], "extension_privacy": BLOCKED["desktop"]},
                countries={"de": 0.6, "us": 0.4}, channels={"direct": 1.0}),
        segment("mob", "mobile", "safari",
                {"none": 1 - BLOCKED["mobile"], "dns": BLOCKED["mobile"]},
                countries={"us": 1.0}, channels={"paid": 0.5, "direct": 0.5}),
    ], users, seed, client_failure=FAILURE,
        population={"channels": {"direct": {}, "paid": {"medium": "cpc"}}})  # fmt: skip


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    export_events(site(), folder)
    return folder


def test_blocked_shares_and_losses_recover_the_simulated_site(exported):
    profile = estimate(exported / "copies.parquet", seed=3)["site"]
    truth = pq.read_table(exported / "truth.parquet").to_pandas()
    visitors = truth.drop_duplicates("visitor")
    segs = {s["device"]: s for s in profile["segments"]}
    assert set(segs) == {"desktop", "mobile"}
    z = stats.norm.ppf(1 - 0.01 / (2 * 4))  # four comparisons, 1% family-wise
    for device, seg in segs.items():
        mine = visitors[visitors.device == device]
        realised = float((mine.blocker != "none").mean())
        lo, hi = seg["blocked_ci"]
        sd = (hi - lo) / (2 * 1.959963984540054)
        assert abs(seg["blocked"] - realised) < z * sd, (device, seg, realised)
        # Unblocked visitors lose only the client's failed requests (nothing unloads here).
        lo, hi = seg["client_loss_ci"]
        sd = (hi - lo) / (2 * 1.959963984540054)
        assert abs(seg["client_loss"] - FAILURE) < z * sd, (device, seg)
        share = len(mine) / len(visitors)
        assert seg["share"] == pytest.approx(share, abs=0.02)
    assert segs["desktop"]["countries"].keys() == {"de", "us"}
    assert segs["mobile"]["channels"].keys() == {"paid", "direct"}


def test_the_written_scenario_carries_the_estimates(exported):
    profile = estimate(exported / "copies.parquet", seed=3)["site"]
    text = scenario_text(profile, "my site", "copies.parquet")
    assert "[population.bots]" not in text  # no server-only visitors named: no note
    # Where their mix of events sets the silent visitors apart, the header gives its bound.
    mix = {"mix_differs": True, "people_at_most": 0.3, "people_at_most_ci": [0.2, 0.4]}
    noted = scenario_text(profile, "my site", "copies.parquet", 120, mix)
    assert "# Their mix of events says at most 30.0% (20.0% to 40.0%) of them are people" in noted
    assert tomllib.loads(noted) == tomllib.loads(text)  # comments only
    data = tomllib.loads(text)
    assert data["name"] == "my_site"
    segs = {s["device"]: s for s in data["population"]["segments"]}
    for device, seg in segs.items():
        est = next(s for s in profile["segments"] if s["device"] == device)
        assert seg["blockers"]["extension_privacy"] == pytest.approx(est["blocked"], abs=1e-4)
        assert sum(seg["countries"].values()) == pytest.approx(1.0, abs=1e-9)
    losses = [s["client_loss"] for s in profile["segments"]]
    assert data["client"]["failure_probability"] == pytest.approx(min(losses), abs=1e-4)
    worst = max(profile["segments"], key=lambda s: s["client_loss"])["device"]
    expected = 1 - (max(losses) - min(losses)) / (1 - min(losses))
    assert data["client"]["handler_fires"][worst] == pytest.approx(expected, abs=1e-4)


def test_the_scenario_validates_and_runs_with_recommend(exported, tmp_path):
    out = tmp_path / "mine.toml"
    cmd = [sys.executable, "-m", "simulator"]
    done = subprocess.run(
        [*cmd, "estimate", str(exported / "copies.parquet"), "--write-scenario", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "95% CI" in text  # the intervals are in the comments
    # Blocked visitors reach the server only, as bots do: the header says how to tell the
    # simulation which of them are bots.
    server_only = estimate(exported / "copies.parquet")["bots"]["server_only_visitors"]
    assert server_only > 0
    assert f"client sent nothing: {server_only:,} of the" in text
    assert "add [population.bots]" in text
    done = subprocess.run([*cmd, "validate", str(out)], capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, f"{out}: ok"), done.stderr
    done = subprocess.run(
        [*cmd, "recommend", str(out), "--quiet", "--workers", "1", "--replications", "1",
         "--set", "population.users=200", "--json", str(tmp_path / "r.json")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.json").stat().st_size > 0


def test_an_unwritable_scenario_path_is_refused_before_reading(exported, tmp_path):
    bad = tmp_path / "missing" / "deep" / "x.toml"
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "estimate", str(exported / "copies.parquet"),
         "--write-scenario", str(bad)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith(f"{bad}: cannot write") and "Traceback" not in done.stderr
