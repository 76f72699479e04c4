"""A one-page dashboard (loss, composition bias, KPI bias) and the standard set of plot files."""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simulator.plots.bias import composition_bias
from simulator.plots.kpi import kpi_bias
from simulator.plots.loss import loss_by_event
from simulator.plots.records import check_record, has_bias, kpi_rows

FORMATS = ("png", "svg", "pdf")
"""File formats the plots are written in (by the file name's suffix)."""


def dashboard(
    record: dict,
    fig: Figure | None = None,
    *,
    event: str | None = None,
    dimension: str | None = None,
) -> Figure:
    """Loss per event type and plan (top), composition bias and KPI bias (bottom), on one page.

    Parameters
    ----------
    record : dict
        A result record. Without issue 3's bias or KPI keys the bottom panels say so instead.
    fig : matplotlib.figure.Figure, optional
        Figure to draw on (cleared first); a new pyplot figure when omitted.
    event, dimension : str, optional
        Composition panel's event type and dimension (default: the clearest bias).

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with three Axes: loss, composition bias, KPI bias.
    """
    check_record(record)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(16, 10.5), layout="constrained")
    else:
        fig.clear()
        fig.set_layout_engine("constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=[1.15, 1.0])
    loss_by_event(record, fig.add_subplot(grid[0, :]))
    ax_bias = fig.add_subplot(grid[1, 0])
    if has_bias(record):
        composition_bias(record, event, dimension, ax_bias)
    else:
        _missing(ax_bias, "composition bias", "per-row 'bias'")
    ax_kpi = fig.add_subplot(grid[1, 1])
    if kpi_rows(record):
        kpi_bias(record, ax_kpi)
    else:
        _missing(ax_kpi, "KPI bias", "top-level 'kpis'")
    fig.suptitle(_headline(record), fontsize="large")
    return fig


def _missing(ax: Axes, what: str, key: str) -> None:
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        f"No {what} in this result record\n(it has no {key}; re-run with a trackloss that "
        "computes it)",
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontsize="medium",
        color="0.3",
    )


def _headline(record: dict) -> str:
    sc = record.get("scenario") or {}
    run = record.get("run") or {}
    parts = [f"Scenario {sc.get('name', '?')}"]
    if "users" in run:
        parts.append(f"{run['users']:,.0f} users")
    if "replications" in sc:
        parts.append(f"{sc['replications']} replications")
    if "seed" in sc:
        parts.append(f"seed {sc['seed']}")
    method = record.get("interval_method")
    line = ", ".join(parts)
    return f"{line}\nintervals: {method}" if method else line


def write_standard_plots(record: dict, folder: str | Path, fmt: str = "png") -> list[Path]:
    """Write the standard plots of a record: loss, bias and KPI (when present), dashboard.

    Files are ``loss.<fmt>``, ``bias.<fmt>``, ``kpi.<fmt>`` and ``dashboard.<fmt>`` in
    ``folder`` (created if missing). Figures are made without pyplot, so nothing stays open.

    Parameters
    ----------
    record : dict
        A result record.
    folder : str or pathlib.Path
        Where to write.
    fmt : str
        ``"png"``, ``"svg"`` or ``"pdf"``.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order above.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    check_record(record)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig: Figure, name: str) -> None:
        path = folder / f"{name}.{fmt}"
        fig.savefig(path, dpi=120)
        written.append(path)

    n = len(record["results"])
    fig = Figure(figsize=(max(8.0, 0.38 * n + 4), 5.5), layout="constrained")
    loss_by_event(record, fig.add_subplot())
    save(fig, "loss")
    if has_bias(record):
        fig = Figure(figsize=(10, 5), layout="constrained")
        composition_bias(record, ax=fig.add_subplot())
        save(fig, "bias")
    if kpi_rows(record):
        fig = Figure(figsize=(9, 5.5), layout="constrained")
        kpi_bias(record, fig.add_subplot())
        save(fig, "kpi")
    save(dashboard(record, Figure(figsize=(16, 10.5))), "dashboard")
    return written
