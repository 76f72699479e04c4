"""A sweep as one DataFrame: every point's table, stacked, with the varied settings as columns."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import tomli_w
from support.lossy_factory import lossy_dict

import simulator as tl
from simulator.experiments.grid import parse_axis
from simulator.outputs.frames import to_frame

AXES = ["client.transport=xhr,beacon", "client.failure_probability=0:0.2:2"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    scenario = folder / "scenario.toml"
    scenario.write_text(tomli_w.dumps(lossy_dict(users=300, replications=2)), encoding="utf-8")
    axes = [parse_axis(a) for a in AXES]
    return tl.run_sweep(scenario, axes, folder / "out", workers=1), folder / "out"


def test_each_point_contributes_its_own_table_under_its_settings(swept):
    report, _ = swept
    frame = tl.sweep_frame(report)
    assert list(frame.columns[:3]) == ["point", "client.transport", "client.failure_probability"]
    assert list(frame.columns[3:]) == list(to_frame(report.records[0].data, "loss").columns)
    assert sorted(set(frame["point"])) == [0, 1, 2, 3]
    for r in report.records:
        mine = frame[frame["point"] == r.point.index].reset_index(drop=True)
        assert (mine["client.transport"] == r.point.values["client.transport"]).all()
        expected = to_frame(r.data, "loss")
        pd.testing.assert_frame_equal(mine[expected.columns], expected)


def test_the_folder_gives_the_same_frame_for_every_table(swept):
    report, folder = swept
    for table in ("loss", "kpis", "replications"):
        pd.testing.assert_frame_equal(tl.sweep_frame(folder, table), tl.sweep_frame(report, table))


def test_a_failed_point_has_no_rows_and_bad_input_is_one_line(swept, tmp_path):
    report, folder = swept
    broken = tmp_path / "broken"
    broken.mkdir()
    manifest = json.loads((folder / "sweep.json").read_text())
    (broken / "sweep.json").write_text(json.dumps(manifest))
    first = manifest["points"][0]["name"]
    (broken / f"{first}.json").write_text((folder / f"{first}.json").read_text())
    assert set(tl.sweep_frame(broken)["point"]) == {0}  # the others never finished
    with pytest.raises(ValueError, match="no sweep.json here"):
        tl.sweep_frame(tmp_path / "nowhere")
    (broken / f"{first}.json").write_text(json.dumps({"results": [{"plan": 1}]}))
    with pytest.raises(ValueError, match=r"results\[0\]\.plan: expected text"):
        tl.sweep_frame(broken)
    with pytest.raises(ValueError, match="table must be one of"):
        tl.sweep_frame(report, "nope")
