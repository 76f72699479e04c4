"""A one-page dashboard (loss, composition bias, KPI bias) and the standard set of plot files."""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from simulator.outputs.plots.bias import composition_bias
from simulator.outputs.plots.kpi import kpi_bias
from simulator.outputs.plots.loss import loss_by_event
from simulator.outputs.plots.records import check_record, has_bias, kpi_rows
from simulator.outputs.plots.style import TITLE_CHARS_PER_INCH, plain, wrap_text

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
        A result record. Without bias or KPI keys the bottom panels say so instead.
    fig : matplotlib.figure.Figure, optional
        Figure to draw on (cleared first); a new pyplot figure when omitted.
    event, dimension : str, optional
        Composition panel's event type and dimension (default: the clearest bias).

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with three Axes: loss, composition bias, KPI bias. The loss Axes keeps its
        title; the lower two are each drawn in a :class:`~matplotlib.figure.SubFigure`
        (``fig.subfigs[1].subfigs``) whose ``suptitle`` is their title.
    """
    check_record(record)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(16, 10.5), layout="constrained")
    else:
        fig.clear()
        fig.set_layout_engine("constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.15, 1.0])
    loss_by_event(record, top.add_subplot())
    left, right = bottom.subfigures(1, 2)
    ax_bias = left.add_subplot()
    if has_bias(record):
        composition_bias(record, event, dimension, ax_bias)
    else:
        _missing(ax_bias, "composition bias", "per-row 'bias'")
    ax_kpi = right.add_subplot()
    if kpi_rows(record):
        kpi_bias(record, ax_kpi)
    else:
        _missing(ax_kpi, "KPI bias", "top-level 'kpis'")
    for panel, ax in ((left, ax_bias), (right, ax_kpi)):
        _title_over_panel(panel, ax)
    fig.suptitle(_headline(record), fontsize="large")
    return fig


def _title_over_panel(panel: SubFigure, ax: Axes) -> None:
    """Move ``ax``'s title over its half of the page, wrapped to that half's width.

    A lower panel's Axes is narrow (its legend sits beside it), so a title centred over the
    Axes would run past the page's left edge; centred over the panel it never can.
    """
    text = ax.get_title().replace("\n", " ")
    if not text:
        return
    ax.set_title("")
    inches = panel.get_figure(root=True).get_figwidth() * panel.bbox_relative.width
    panel.suptitle(wrap_text(text, max(24, int(TITLE_CHARS_PER_INCH * inches))),
                   fontsize=rcParams["axes.titlesize"])  # fmt: skip


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
    parts = [f"Scenario {plain(sc.get('name', '?'))}"]
    if "users" in run:
        parts.append(f"{run['users']:,.0f} users")
    if "replications" in sc:
        parts.append(f"{sc['replications']} replications")
    if "seed" in sc:
        parts.append(f"seed {sc['seed']}")
    method = record.get("interval_method")
    line = ", ".join(parts)
    return f"{line}\nintervals: {method}" if method else line


def standard_figures(record: dict, max_width: float | None = None) -> dict[str, Figure]:
    """The standard plots of a record, as figures made without pyplot (nothing stays open).

    Parameters
    ----------
    record : dict
        A result record.
    max_width : float, optional
        The widest a figure may be, in inches: a wider one is drawn at this width (its text
        keeps its size; titles and labels wrap to fit). No limit when omitted.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        ``loss``, then ``bias`` and ``kpi`` when the record has them, then ``dashboard``; the
        HTML report and ``run --plots`` use the same figures.
    """
    check_record(record)

    def new_figure(width: float, height: float) -> Figure:
        width = width if max_width is None else min(width, max_width)
        return Figure(figsize=(width, height), layout="constrained")

    figures = {}
    n = len(record["results"])
    fig = new_figure(max(8.0, 0.38 * n + 4), 5.5)
    loss_by_event(record, fig.add_subplot())
    figures["loss"] = fig
    if has_bias(record):
        fig = new_figure(10, 5)
        composition_bias(record, ax=fig.add_subplot())
        figures["bias"] = fig
    if kpi_rows(record):
        fig = new_figure(9, 5.5)
        kpi_bias(record, fig.add_subplot())
        figures["kpi"] = fig
    figures["dashboard"] = dashboard(record, new_figure(16, 10.5))
    return figures


def figure_bytes(fig: Figure, fmt: str = "svg") -> bytes:
    """Render a figure to ``png``, ``svg`` or ``pdf`` bytes (e.g. to embed in an HTML report).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        What to render.
    fmt : str
        One of :data:`FORMATS`.

    Returns
    -------
    bytes
        The file's content; for SVG, UTF-8 text that can be inlined in HTML.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=120)
    return buffer.getvalue()


def write_standard_plots(record: dict, folder: str | Path, fmt: str = "png") -> list[Path]:
    """Write :func:`standard_figures` as ``<name>.<fmt>`` files into ``folder``.

    Parameters
    ----------
    record : dict
        A result record.
    folder : str or pathlib.Path
        Where to write (created if missing).
    fmt : str
        ``"png"``, ``"svg"`` or ``"pdf"``.

    Returns
    -------
    list of pathlib.Path
        The files written: ``loss``, ``bias`` and ``kpi`` (when present), ``dashboard``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    figures = standard_figures(record)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures.items():
        path = folder / f"{name}.{fmt}"
        fig.savefig(path, dpi=120)
        written.append(path)
    return written
