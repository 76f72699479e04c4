"""Which path each event type should take: loss and context lost on every path, the choice marked.

Reads the record of ``trackloss recommend --json``: per event type, ``paths`` maps each path it
can take (client, server, hybrid, dual) to its ``loss`` (with ``loss_ci``) and ``context_loss``
(with ``context_loss_ci``: the share of delivered events that lack the browser's context), and
``recommendation`` names the path chosen; ``loss_budget`` is the largest acceptable loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from simulator.config.recommend_spec import PATH_ORDER
from simulator.outputs.formatting import percent
from simulator.outputs.plots.records import check_rows, ci_errors
from simulator.outputs.plots.style import group_offsets, percent_axis, plain, series_style


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
        path) and one ring per event type around the recommended path's dot.
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
    y = np.arange(len(events), dtype=float)
    offsets, _ = group_offsets(len(paths), 0.7)
    for ax, key in ((loss_ax, "loss"), (context_ax, "context_loss")):
        for k, path in enumerate(paths):
            style = series_style(k)
            ys, xs, cis = [], [], []
            for i, row in enumerate(record["events"]):
                info = row["paths"].get(path)
                if info is None or info.get(key) is None:
                    continue
                ys.append(y[i] + offsets[k])
                xs.append(info[key])
                cis.append(info.get(f"{key}_ci"))
                if row["recommendation"] == path:
                    ax.plot(info[key], y[i] + offsets[k], marker="o", markersize=13,
                            markerfacecolor="none", markeredgecolor="black",
                            markeredgewidth=1.6, linestyle="none")  # fmt: skip
            ax.errorbar(xs, ys, xerr=ci_errors(xs, cis), fmt=style["marker"],
                        color=style["color"], markeredgecolor="black", markeredgewidth=0.6,
                        ecolor=style["color"], elinewidth=1.3, capsize=2.5,
                        linestyle="none", label=plain(path))  # fmt: skip
        percent_axis(ax, "x")
        ax.set_xlim(left=-0.02)
        ax.grid(axis="x", linewidth=0.4, alpha=0.5)
        ax.set_axisbelow(True)
    budget = record.get("loss_budget")
    if isinstance(budget, int | float):
        loss_ax.axvline(budget, color="black", linestyle="--", linewidth=1.0)
        loss_ax.text(budget, -0.6, f" budget {percent(budget)}", fontsize="small", va="bottom")
    loss_ax.set_yticks(y, [plain(e) for e in events], fontsize="small")
    loss_ax.set_ylim(len(events) - 0.5, -0.9)
    loss_ax.set_xlabel("events lost (% of true events)")
    loss_ax.set_title("Loss on each path", fontsize="medium")
    context_ax.set_xlabel("delivered without browser context (%)")
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
