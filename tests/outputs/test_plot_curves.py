"""Sweep and unload-survival curves: lines, bands and values drawn equal the inputs."""

from __future__ import annotations

import copy
import json

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from support.record_factories import small_record, with_bias

from simulator.outputs import plots
from simulator.outputs.plots.records import RecordError, row_of
from simulator.outputs.plots.unload import panels_size

matplotlib.use("Agg")


def new_ax():
    return Figure().add_subplot()


def bands(ax) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def point(record: dict, transport: str, share: float, shift: float) -> dict:
    """A copy of ``record`` as if run at another setting, its losses shifted by ``shift``."""
    out = copy.deepcopy(record)
    config = out["scenario"]["config"]
    config["client"]["transport"] = transport
    config["client"]["failure_probability"] = share
    for row in out["results"]:
        if row["loss"] is not None:
            row["loss"] += shift
            row["loss_ci"] = [row["loss_ci"][0] + shift, row["loss_ci"][1] + shift]
    return out


@pytest.fixture(scope="module")
def sweep_points():
    base = with_bias(small_record())
    return [(s, point(base, "fetch", s, s / 2)) for s in (0.0, 0.2, 0.4)]


def test_sweep_draws_one_line_and_band_per_plan_with_the_records_values(sweep_points):
    ax = plots.sweep_curves(sweep_points[::-1], new_ax(), event="page_viewed", parameter="dns")
    assert [line.get_label() for line in ax.lines] == ["client", "server"]
    assert len(bands(ax)) == 2
    for line in ax.lines:
        plan = line.get_label()
        assert list(line.get_xdata()) == [0.0, 0.2, 0.4]  # sorted by value
        expected = [row_of(r, plan, "page_viewed")["loss"] for _, r in sweep_points]
        assert list(line.get_ydata()) == pytest.approx(expected)
    band = bands(ax)[0].get_paths()[0].vertices
    lows = [row_of(r, "client", "page_viewed")["loss_ci"][0] for _, r in sweep_points]
    assert band[:, 1].min() == pytest.approx(min(lows))
    assert ax.get_xlabel() == "dns" and "%" in ax.get_ylabel()


def test_sweep_of_a_kpi_with_series_and_categorical_values(sweep_points):
    series = {"desktop": sweep_points, "mobile": sweep_points[:2]}
    ax = plots.sweep_curves(series, new_ax(), kpi="conversion_rate")
    curves = [line for line in ax.lines if not line.get_label().startswith("_")]
    assert [line.get_label() for line in curves] == [
        "desktop: client",
        "desktop: server",
        "mobile: client",
        "mobile: server",
    ]
    kpi = next(k for k in sweep_points[0][1]["kpis"] if k["plan"] == "server")
    assert curves[1].get_ydata()[0] == pytest.approx(kpi["relative_bias"])
    assert any(list(line.get_ydata()) == [0, 0] for line in ax.lines), "zero line"
    ax = plots.sweep_curves(
        [("xhr", sweep_points[0][1]), ("beacon", sweep_points[1][1])], new_ax(), event="page_viewed"
    )
    assert [t.get_text() for t in ax.get_xticklabels()] == ["xhr", "beacon"], "order given"
    with pytest.raises(RecordError, match="unknown KPI"):
        plots.sweep_curves(sweep_points, new_ax(), kpi="nope")


def test_load_sweep_finds_the_swept_parameters_and_skips_what_is_not_a_result(
    sweep_points, tmp_path
):
    base = sweep_points[0][1]
    for i, (transport, share) in enumerate([("xhr", 0.3), ("beacon", 0.3), ("xhr", 0.1)]):
        path = tmp_path / f"point-{i}.json"
        path.write_text(json.dumps(point(base, transport, share, 0.0)), encoding="utf-8")
    (tmp_path / "failed.json").write_text('{"error": "boom"}', encoding="utf-8")
    (tmp_path / ".point-9.json.tmp").write_text("{half", encoding="utf-8")
    (tmp_path / "broken.json").write_text("{half", encoding="utf-8")
    series = plots.load_sweep(tmp_path)
    assert sorted(series) == ["client.transport=beacon", "client.transport=xhr"]
    xhr = series["client.transport=xhr"]
    assert [v for v, _ in xhr] == [0.1, 0.3]
    assert xhr[0][1]["scenario"]["config"]["client"]["failure_probability"] == 0.1
    by_transport = plots.load_sweep(tmp_path, parameter="client.transport")
    assert sorted(by_transport) == [
        "client.failure_probability=0.1",
        "client.failure_probability=0.3",
    ]
    # Categories stay in the sweep's order (the files' order), never sorted by name.
    assert [v for v, _ in by_transport["client.failure_probability=0.3"]] == ["xhr", "beacon"]
    # trackloss sweep's per-point block names the swept paths; it wins over the configs.
    for i, path in enumerate(sorted(tmp_path.glob("point-*.json"))):
        data = json.loads(path.read_text(encoding="utf-8"))
        data["sweep"] = {"index": i, "point": {"client.transport": "xhr", "tag": i}}
        path.write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "sweep.json").write_text('{"axes": []}', encoding="utf-8")
    assert [v for v, _ in plots.load_sweep(tmp_path)] == [0, 1, 2]
    with pytest.raises(RecordError, match="no such folder"):
        plots.load_sweep(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RecordError, match="no result records"):
        plots.load_sweep(empty)


def survival_data() -> dict:
    rows = []
    for transport, base in (("xhr", 0.5), ("beacon", 0.9)):
        for device, p in (("desktop", 0.95), ("mobile", 0.62)):
            for t in (0.05, 0.5, 5.0):
                share = min(1.0, base + t / 10)
                rows.append(
                    {
                        "transport": transport,
                        "device": device,
                        "handler_p": p,
                        "t": t,
                        "pages": 100,
                        "delivered": round(share * 100),
                        "share": share,
                        "share_ci": [share - 0.05, min(1.0, share + 0.05)],
                    }
                )
    return {
        "scenario": "hand",
        "event": "link_clicked",
        "pages": 100,
        "next_page": True,
        "rows": rows,
    }


def test_unload_curves_one_line_per_transport_and_device():
    data = survival_data()
    ax = plots.unload_survival_curves(data, new_ax())
    assert len(ax.lines) == 4 and len(bands(ax)) == 4
    assert ax.get_xscale() == "log" and "seconds" in ax.get_xlabel() and "%" in ax.get_ylabel()
    first = ax.lines[0]
    assert "desktop" in first.get_label() and "xhr" in first.get_label()
    rows = [r for r in data["rows"] if r["transport"] == "xhr" and r["device"] == "desktop"]
    assert list(first.get_xdata()) == [r["t"] for r in rows]
    assert list(first.get_ydata()) == pytest.approx([r["share"] for r in rows])
    assert ax.lines[0].get_linestyle() != ax.lines[1].get_linestyle()  # devices differ in style


def test_categorical_sweep_draws_points_with_intervals_not_joined_lines(sweep_points):
    pairs = [("xhr", sweep_points[2][1]), ("beacon", sweep_points[0][1])]
    ax = plots.sweep_curves(pairs, new_ax(), event="page_viewed")
    containers = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert [c.get_label() for c in containers] == ["client", "server"]
    assert not bands(ax)
    for container in containers:
        line = container.lines[0]
        assert line.get_linestyle() == "None", "categories are not joined by a line"
        plan = container.get_label()
        expected = [row_of(r, plan, "page_viewed")["loss"] for _, r in pairs]
        assert list(line.get_ydata()) == pytest.approx(expected)
        xs = np.asarray(line.get_xdata(), dtype=float)
        assert np.round(xs).tolist() == [0, 1] and (np.abs(xs - np.round(xs)) < 0.5).all()
        seg = np.array(container.lines[2][0].get_segments())
        lows = [row_of(r, plan, "page_viewed")["loss_ci"][0] for _, r in pairs]
        assert seg[:, 0, 1] == pytest.approx(lows)
    # Plans sit side by side in each category, not on top of each other.
    assert containers[0].lines[0].get_xdata()[0] != containers[1].lines[0].get_xdata()[0]


def linked_sweep(base: dict) -> list[dict]:
    """Four points of a linked axis (two shares moving together) crossed with two transports."""
    records = []
    for privacy in (0.0, 0.1, 0.2, 0.3):
        for transport in ("fetch", "beacon"):
            out = copy.deepcopy(base)
            out["sweep"] = {
                "point": {
                    "blockers.privacy": privacy,
                    "blockers.none": round(0.8 - privacy, 3),
                    "client.transport": transport,
                }
            }
            records.append(out)
    return records


def test_linked_paths_are_one_axis_named_by_the_first_with_the_others_in_the_legend(
    sweep_points, tmp_path
):
    for i, record in enumerate(linked_sweep(sweep_points[0][1])):
        (tmp_path / f"point-{i:03d}.json").write_text(json.dumps(record), encoding="utf-8")
    series = plots.load_sweep(tmp_path)
    assert sorted(series) == ["client.transport=beacon", "client.transport=fetch"]
    assert [v for v, _ in series["client.transport=fetch"]] == [0.0, 0.1, 0.2, 0.3]
    records = [r for pairs in series.values() for _, r in pairs]
    assert plots.x_parameter(plots.swept_parameters(records)) == "blockers.privacy"
    linked = plots.linked_parameters(records, "blockers.privacy")
    assert linked == {"blockers.none": [0.8, 0.7, 0.6, 0.5]}
    ax = plots.sweep_curves(
        series, new_ax(), event="page_viewed", parameter="blockers.privacy", linked=linked
    )
    assert ax.get_xlabel() == "blockers.privacy"
    legend = ax.get_legend()
    assert "blockers.none" in legend.get_title().get_text()
    entries = [t.get_text() for t in legend.get_texts()]
    # One entry per plan and one per transport, not one per (plan, transport, linked value).
    assert entries == ["client", "server", "client.transport:", "fetch", "beacon"]
    # With the transport on the x axis, the linked pair makes one series per step, not two.
    by_transport = plots.load_sweep(tmp_path, parameter="client.transport")
    assert sorted(by_transport) == [f"blockers.privacy={p}" for p in (0.0, 0.1, 0.2, 0.3)]


def test_unload_ticks_read_in_seconds():
    ax = plots.unload_survival_curves(survival_data(), new_ax())
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "0.1 s" in labels and "1 s" in labels
    assert not any("10^" in t or "$" in t for t in labels)


def test_identical_devices_share_a_panel():
    data = survival_data()
    tablet = [dict(r, device="tablet") for r in data["rows"] if r["device"] == "mobile"]
    data["rows"] += tablet
    assert plots.unload.identical_devices(data) == [["desktop"], ["mobile", "tablet"]]
    fig = plots.unload_survival_panels(data, Figure(figsize=panels_size(data)))
    assert len(fig.axes) == 2
    assert fig.axes[1].get_title().startswith("mobile and tablet (same results)")


def test_unload_panels_one_per_device():
    data = survival_data()
    fig = plots.unload_survival_panels(data, Figure(figsize=panels_size(data)))
    assert len(fig.axes) == 2
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert fig.axes[1].get_title().startswith("mobile") and "62%" in fig.axes[1].get_title()
    with pytest.raises(RecordError, match="not an unload survival result"):
        plots.unload_survival_curves({"rows": []}, new_ax())
