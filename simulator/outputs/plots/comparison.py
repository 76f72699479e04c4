"""Two scenarios compared on the same visitors: how much more (or less) each event type loses.

Reads the record of ``trackloss compare --json``: ``comparison.events`` holds, per plan and event
type, the loss under B minus the loss under A (``loss_diff``) with its paired 95% interval
(``loss_diff_ci``); ``comparison.kpis`` the same for each KPI's relative bias.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simulator.outputs.plots.records import RecordError, check_rows, ci_errors, select
from simulator.outputs.plots.style import (
    group_offsets,
    legend_beside,
    new_axes,
    plain,
    points_axis,
    series_style,
    title,
    words,
)


def check_comparison(record: Any) -> None:
    """Raise :class:`RecordError` unless ``record`` is what ``trackloss compare --json`` writes.

    Parameters
    ----------
    record : Any
        The JSON read back.
    """
    block = record.get("comparison") if isinstance(record, dict) else None
    check_rows(
        block.get("events") if isinstance(block, dict) else None, "comparison.events",
        ("plan", "event", "loss_diff", "loss_diff_ci"),
        "not a comparison record: no 'comparison.events' (write one with compare --json)",
    )  # fmt: skip


def comparison_loss(
    record: dict,
    ax: Axes | None = None,
    *,
    plans: list[str] | None = None,
) -> Axes:
    """Dot plot of the loss under B minus the loss under A, per event type and plan, in points.

    Both scenarios ran on the same visitors (common random numbers), so the interval is the
    paired one: a whisker that misses zero is a difference that is not noise.

    Parameters
    ----------
    record : dict
        A comparison record (``trackloss compare --json``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    plans : list of str, optional
        Plans to show (default: all, in the record's order).

    Returns
    -------
    matplotlib.axes.Axes
        One error-bar container per plan (label = plan) with a dot per event type at
        ``loss_diff``.
    """
    check_comparison(record)
    block = record["comparison"]
    rows = [r for r in block["events"] if r.get("loss_diff") is not None]
    every_plan = list(dict.fromkeys(r["plan"] for r in block["events"]))
    plans = select(plans, every_plan, "plan")
    events = list(dict.fromkeys(r["event"] for r in rows))
    ax = new_axes(ax, (8.0, min(9.0, 0.35 * len(events) * max(len(plans), 2) + 1.5)))
    y = np.arange(len(events), dtype=float)
    offsets, _ = group_offsets(len(plans), 0.6)
    for k, plan in enumerate(plans):
        mine = [r for r in rows if r["plan"] == plan]
        diffs = [r["loss_diff"] for r in mine]
        style = series_style(every_plan.index(plan))
        ax.errorbar(
            diffs,
            [y[events.index(r["event"])] + offsets[k] for r in mine],
            xerr=ci_errors(diffs, [r.get("loss_diff_ci") for r in mine]),
            fmt=style["marker"],
            color=style["color"],
            markeredgecolor="black",
            markeredgewidth=0.6,
            ecolor=style["color"],
            elinewidth=1.4,
            capsize=2.5,
            label=plain(plan),
        )
    ax.axvline(0.0, color="black", linewidth=1.0)
    ax.set_yticks(y, [plain(e) for e in events], fontsize="small")
    ax.set_ylim(len(events) - 0.5, -0.5)
    a, b = _names(block)
    ax.set_xlabel(f"loss in {b} minus loss in {a} (percentage points; < 0: {b} loses less)")
    points_axis(ax, "x")
    ax.grid(axis="x", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    title(ax, f"{b} against {a}: change in events lost, on the same visitors")
    legend_beside(ax, "plan (whiskers: paired 95% CI)")
    return ax


def comparison_kpis(record: dict, ax: Axes | None = None) -> Axes:
    """Dot plot of each KPI's relative bias under B minus under A, per plan, in points.

    Parameters
    ----------
    record : dict
        A comparison record (``trackloss compare --json``) with ``comparison.kpis``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        One error-bar container per plan with a dot per KPI at ``relative_bias_diff``.
    """
    check_comparison(record)
    block = record["comparison"]
    rows = [r for r in block.get("kpis") or [] if r.get("relative_bias_diff") is not None]
    if not rows:
        raise RecordError("the comparison has no KPIs")
    every_plan = list(dict.fromkeys(r["plan"] for r in rows))
    names = list(dict.fromkeys(r["name"] for r in rows))
    ax = new_axes(ax, (8.0, 0.4 * len(names) * max(len(every_plan), 2) + 1.5))
    y = np.arange(len(names), dtype=float)
    offsets, _ = group_offsets(len(every_plan), 0.6)
    for k, plan in enumerate(every_plan):
        mine = [r for r in rows if r["plan"] == plan]
        diffs = [r["relative_bias_diff"] for r in mine]
        style = series_style(k)
        ax.errorbar(
            diffs,
            [y[names.index(r["name"])] + offsets[k] for r in mine],
            xerr=ci_errors(diffs, [r.get("relative_bias_diff_ci") for r in mine]),
            fmt=style["marker"],
            color=style["color"],
            markeredgecolor="black",
            ecolor=style["color"],
            capsize=2.5,
            label=plain(plan),
        )
    ax.axvline(0.0, color="black", linewidth=1.0)
    ax.set_yticks(y, [words(n) for n in names], fontsize="small")
    ax.set_ylim(len(names) - 0.5, -0.5)
    a, b = _names(block)
    ax.set_xlabel(f"relative bias in {b} minus in {a} (percentage points)")
    points_axis(ax, "x")
    ax.grid(axis="x", linewidth=0.4, alpha=0.5)
    title(ax, f"{b} against {a}: change in KPI bias, on the same visitors")
    legend_beside(ax, "plan (whiskers: paired 95% CI)")
    return ax


def _names(block: dict) -> tuple[str, str]:
    a = (block.get("scenario_a") or {}).get("name") or "A"
    b = (block.get("scenario_b") or {}).get("name") or "B"
    return plain(a), plain(b)


def comparison_figure(record: dict, fig: Figure | None = None) -> Figure:
    """The change in loss per event type (top) and, when compared, in KPI bias (bottom).

    Parameters
    ----------
    record : dict
        A comparison record (``trackloss compare --json``).
    fig : matplotlib.figure.Figure, optional
        Figure to draw on (cleared first); a new pyplot figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        One Axes (:func:`comparison_loss`), or two with :func:`comparison_kpis` below.
    """
    check_comparison(record)
    block = record["comparison"]
    has_kpis = any(r.get("relative_bias_diff") is not None for r in block.get("kpis") or [])
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=comparison_size(record), layout="constrained")
    else:
        fig.clear()
        fig.set_layout_engine("constrained")
    if not has_kpis:
        comparison_loss(record, fig.add_subplot())
        return fig
    n_events = len({r["event"] for r in block["events"]})
    n_kpis = len({r["name"] for r in block["kpis"]})
    top, bottom = fig.subplots(2, 1, height_ratios=[max(n_events, 2), max(n_kpis, 2)])
    comparison_loss(record, top)
    comparison_kpis(record, bottom)
    return fig


def comparison_size(record: dict) -> tuple[float, float]:
    """A figure size (inches) that fits :func:`comparison_figure` for ``record``."""
    block = record.get("comparison") or {}
    rows = len({r.get("event") for r in block.get("events") or []})
    rows += len({r.get("name") for r in block.get("kpis") or []})
    return 10.0, min(14.0, 0.5 * rows + 2.5)
