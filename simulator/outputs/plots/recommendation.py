"""Which path each event type should take: loss and context lost on every path, the choice marked.

Reads the record of ``trackloss recommend --json``: per event type, ``paths`` maps each path it
can take (client, server, hybrid, dual) to its ``budget_loss`` (with ``budget_loss_ci``: the loss
the decision weighs, among the visitors who did not opt out when their choice is respected) and
``context_coverage`` (with ``context_coverage_ci``: the share of true events that arrive with the
browser's context); ``needs_context`` lists the context an event needs, ``recommendation`` names
the path chosen and ``loss_budget`` is the largest acceptable loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from simulator.config.recommend_spec import PATH_ORDER
from simulator.outputs.formatting import percent
from simulator.outputs.plots.records import check_rows, ci_errors
from simulator.outputs.plots.style import group_offsets, percent_axis, plain, series_style

LOSS_KEY = "budget_loss"
"""The loss each path is judged on (the record's ``loss`` counts opted-out visitors too)."""


def check_recommendation(record: Any) -> None:
    """Raise :class:`RecordError` unless ``record`` is what ``trackloss recommend --json`` writes.

    Parameters
    ----------
    record : Any
        The JSON read back.
    """
    check_rows(
        record.get("events") if isinstance(record, dict) else None, "events",
        ("event", "paths", "recommendation"),
        "not a recommendation: no 'events' list (write one with recommend --json)",
    )  # fmt: skip


def context_missing(info: dict) -> tuple[float | None, list[float] | None]:
    """The share of true events that do not arrive with their context on one path, and its CI.

    Parameters
    ----------
    info : dict
        One path's figures in an event record (``context_coverage`` and its ``_ci``).

    Returns
    -------
    tuple
        ``1 - context_coverage`` and the interval mirrored to match, or ``(None, None)`` when
        the record has no coverage for the path.
    """
    coverage = info.get("context_coverage")
    if not isinstance(coverage, int | float):
        return None, None
    ci = info.get("context_coverage_ci")
    mirrored = [1.0 - ci[1], 1.0 - ci[0]] if isinstance(ci, list) and len(ci) == 2 else None
    return 1.0 - coverage, mirrored


def _figures(row: dict, path: str, panel: str) -> tuple[float | None, list[float] | None]:
    info = row["paths"].get(path)
    if info is None:
        return None, None
    if panel == "loss":
        key = LOSS_KEY if LOSS_KEY in info else "loss"
        value = info.get(key)
        return (value if isinstance(value, int | float) else None), info.get(f"{key}_ci")
    if not row.get("needs_context"):
        return None, None
    return context_missing(info)


def _draw_panel(ax: Axes, record: dict, paths: list[str], panel: str) -> None:
    y = np.arange(len(record["events"]), dtype=float)
    offsets, _ = group_offsets(len(paths), 0.7)
    for k, path in enumerate(paths):
        style = series_style(k)
        ys, xs, cis = [], [], []
        for i, row in enumerate(record["events"]):
            value, ci = _figures(row, path, panel)
            if value is None:
                continue
            ys.append(y[i] + offsets[k])
            xs.append(value)
            cis.append(ci)
            if row["recommendation"] == path:
                ax.plot(value, y[i] + offsets[k], marker="o", markersize=13,
                        markerfacecolor="none", markeredgecolor="black",
                        markeredgewidth=1.6, linestyle="none")  # fmt: skip
        ax.errorbar(xs, ys, xerr=ci_errors(xs, cis), fmt=style["marker"],
                    color=style["color"], markeredgecolor="black", markeredgewidth=0.6,
                    ecolor=style["color"], elinewidth=1.3, capsize=2.5,
                    linestyle="none", label=plain(path))  # fmt: skip
    percent_axis(ax, "x")
    ax.grid(axis="x", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)


def _note_events_without_context(ax: Axes, record: dict) -> None:
    """Say in the context panel why an event has no dots there."""
    for i, row in enumerate(record["events"]):
        if row.get("needs_context"):
            continue
        note = "no browser (offsite)" if row.get("kind") == "offsite" else "needs no context"
        ax.text(0.02, i, note, transform=ax.get_yaxis_transform(), va="center",
                fontsize="small", color="0.35", style="italic")  # fmt: skip


def recommendation_paths(record: dict, fig: Figure | None = None) -> Figure:
    """Loss (left) and context lost (right) per event type on every path; the choice circled.

    Parameters
    ----------
    record : dict
        A recommendation record (``trackloss recommend --json``).
    fig : matplotlib.figure.Figure, optional
        Figure to draw on (cleared first); a new pyplot figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        Two Axes sharing the event axis; in each, one error-bar container per path (label =
        path) and one ring per event type around the recommended path's dot. The right panel
        shows the share of true events arriving without the context an event needs, only for
        the events that need some; the others say why they have none.
    """
    check_recommendation(record)
    events = [row["event"] for row in record["events"]]
    found = {p for row in record["events"] for p in row["paths"]}
    paths = [p for p in PATH_ORDER if p in found] + sorted(found - set(PATH_ORDER))
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=recommendation_size(record), layout="constrained")
    else:
        fig.clear()
        fig.set_layout_engine("constrained")
    loss_ax, context_ax = fig.subplots(1, 2, sharey=True)
    _draw_panel(loss_ax, record, paths, "loss")
    _draw_panel(context_ax, record, paths, "context")
    loss_ax.set_xlim(left=-0.02)
    context_ax.set_xlim(-0.04, 1.04)
    _note_events_without_context(context_ax, record)
    budget = record.get("loss_budget")
    if isinstance(budget, int | float):
        loss_ax.axvline(budget, color="black", linestyle="--", linewidth=1.0)
        loss_ax.text(budget, -0.6, f" budget {percent(budget)}", fontsize="small", va="bottom")
    loss_ax.set_yticks(np.arange(len(events)), [plain(e) for e in events], fontsize="small")
    loss_ax.set_ylim(len(events) - 0.5, -0.9)
    respect = bool((record.get("mode") or {}).get("respect_choice"))
    of = "events of visitors who did not opt out" if respect else "true events"
    loss_ax.set_xlabel(f"events lost (% of {of})")
    loss_ax.set_title("Loss on each path", fontsize="medium")
    context_ax.set_xlabel(f"arriving without the context they need (% of {of})")
    context_ax.set_title("Context lost on each path", fontsize="medium")
    handles, labels = context_ax.get_legend_handles_labels()
    ring = Line2D([], [], marker="o", markersize=11, markerfacecolor="none",
                  markeredgecolor="black", linestyle="none")  # fmt: skip
    context_ax.legend([*handles, ring], [*labels, "recommended"], loc="upper left",
                      bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize="small",
                      title="path (whiskers: 95% CI)", title_fontsize="small")  # fmt: skip
    name = plain((record.get("scenario") or {}).get("name") or "")
    fig.suptitle(f"Which path each event should take{f': {name}' if name else ''}")
    return fig


def recommendation_size(record: dict) -> tuple[float, float]:
    """A figure size (inches) that fits :func:`recommendation_paths` for ``record``."""
    return 12.0, min(14.0, 0.5 * len(record.get("events") or []) + 2.0)
