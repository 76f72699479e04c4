"""The lab-against-model figure: one panel per connection and latency, lab and model lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.experiments.lab.cells import grid
from simulator.experiments.lab.model_side import model_shares
from simulator.experiments.lab.results import cell_row, write_results
from simulator.outputs.plots.lab import lab_against_model_figure, read_lab_rows
from simulator.outputs.plots.records import RecordError


def _file(tmp_path: Path) -> Path:
    cells = grid(
        transports=["xhr", "beacon"],
        gaps=[0, 100, 250],
        latencies=[50, 200],
        connections=["cold", "warm"],
        preflights=["off"],
        page_ends=["navigate"],
        trials=10,
    )
    rows = [
        cell_row(
            c,
            {"delivered": i % 11},
            [40.0],
            browser="chromium",
            version="150.0",
            latency_method="nfqueue",
            concurrent=4,
        )  # fmt: skip
        for i, c in enumerate(cells)
    ]
    path = tmp_path / "lab.csv"
    write_results(path, rows)
    return path


def test_each_panel_has_the_lab_shares_and_the_model_line(tmp_path: Path) -> None:
    path = _file(tmp_path)
    fig = lab_against_model_figure(path)
    axes = fig.get_axes()
    assert len(axes) == 4  # cold and warm, by 50 and 200 ms
    model = model_shares(read_lab_rows(path))
    for connection, expected in (("warm", [1.0, 1.0, 1.0]), ("cold", [0.0, 0.0, 0.0])):
        panel = next(ax for ax in axes if ax.get_title() == f"{connection}, latency 200 ms")
        dashed = [line for line in panel.get_lines() if line.get_linestyle() == "--"]
        assert len(dashed) == 2  # xhr and beacon
        xhr_line = dashed[0]
        assert list(xhr_line.get_xdata()) == [0, 100, 250]
        keys = [("xhr", g, 200, connection, "off", "navigate") for g in (0, 100, 250)]
        assert np.allclose(xhr_line.get_ydata(), [model[k] for k in keys])
        # warm: written at once; cold: 400 ms of handshake against a 40 ms teardown
        assert list(xhr_line.get_ydata()) == expected


def test_a_file_without_the_chosen_cells_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="preflight on"):
        lab_against_model_figure(_file(tmp_path), preflight="on")
