"""Plots of compare and recommend records: the dots drawn equal the record's numbers."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from support.plot_records import comparison, recommendation

from simulator.outputs import plots
from simulator.outputs.plots.records import RecordError

matplotlib.use("Agg")

from support.plot_records import EVENTS


def errorbars(ax) -> list[ErrorbarContainer]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def test_comparison_dots_are_the_loss_differences_with_their_paired_interval():
    record = comparison()
    ax = plots.comparison_loss(record, Figure().add_subplot())
    containers = errorbars(ax)
    assert [c.get_label() for c in containers] == ["client", "server"]
    for container, plan in zip(containers, ("client", "server"), strict=True):
        rows = [r for r in record["comparison"]["events"] if r["plan"] == plan]
        assert list(container.lines[0].get_xdata()) == pytest.approx([r["loss_diff"] for r in rows])
        seg = np.array(container.lines[2][0].get_segments())
        assert seg[:, 0, 0] == pytest.approx([r["loss_diff_ci"][0] for r in rows])
    assert [t.get_text() for t in ax.get_yticklabels()] == list(EVENTS)
    assert "first_party_proxy" in ax.get_title() and "baseline" in ax.get_title()


def test_comparison_figure_adds_the_kpi_panel():
    fig = plots.comparison_figure(comparison(), Figure(figsize=(10, 6)))
    assert len(fig.axes) == 2
    (kpi,) = errorbars(fig.axes[1])
    assert list(kpi.lines[0].get_xdata()) == pytest.approx([0.05])
    with pytest.raises(RecordError, match="not a comparison record"):
        plots.comparison_figure({"results": []}, Figure())


def test_recommendation_marks_the_chosen_path_on_loss_and_context():
    record = recommendation()
    fig = plots.recommendation_paths(record, Figure(figsize=(10, 4)))
    loss_ax, context_ax = fig.axes[:2]
    containers = errorbars(loss_ax)
    assert [c.get_label() for c in containers] == ["client", "server"]
    assert list(containers[0].lines[0].get_xdata()) == pytest.approx([0.04, 0.08])
    # Context lost is 1 - coverage, drawn only for the event that needs context.
    client, server = errorbars(context_ax)
    assert list(client.lines[0].get_xdata()) == pytest.approx([0.04])
    assert list(server.lines[0].get_xdata()) == pytest.approx([1.0])
    seg = np.array(client.lines[2][0].get_segments())
    assert seg[0, :, 0] == pytest.approx([0.04, 0.05])  # the coverage interval, mirrored
    assert "needs no context" in [t.get_text() for t in context_ax.texts]
    rings = [line for line in loss_ax.lines if line.get_markersize() > 10]
    assert [(line.get_xdata()[0]) for line in rings] == pytest.approx([0.04, 0.0])
    assert any(list(line.get_xdata()) == [0.05, 0.05] for line in loss_ax.lines), "budget"
    with pytest.raises(RecordError, match="not a recommendation"):
        plots.recommendation_paths({"events": []}, Figure())
