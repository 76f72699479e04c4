"""Loss per event type, side by side for every tracking plan, stacked by cause."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from simulator.outputs.formatting import CAUSE_WORDS
from simulator.outputs.plots.records import check_record, ci_errors, events_of, plans_of, select
from simulator.outputs.plots.style import (
    CAUSE_ORDER,
    cause_style,
    legend_beside,
    new_axes,
    percent_axis,
)


def loss_by_event(
    record: dict,
    ax: Axes | None = None,
    *,
    plans: list[str] | None = None,
    events: list[str] | None = None,
    show_net: bool = True,
) -> Axes:
    """Bar chart of the share of true events lost, per event type, one bar per plan.

    Each bar is stacked by loss cause (each segment is that cause's share of the true events)
    and carries the 95% interval of the total loss as an error bar. Event types label the
    groups; plans label the bars. With ``show_net`` a diamond marks the net shortfall
    ``1 - received / truth`` wherever it differs from the loss: below the bar when duplicates
    or unfiltered bots add events, below zero when the plan over-counts.

    Parameters
    ----------
    record : dict
        A result record (:func:`simulator.stats.summary.summarise`, or its JSON read back).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    plans, events : list of str, optional
        Subsets to show, in this order (default: all, in the scenario's order).
    show_net : bool
        Mark the net shortfall where it differs from the loss by more than 0.1 points.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on; one :class:`~matplotlib.container.BarContainer` per cause present
        (labelled with the cause name) and one error-bar container labelled ``"95% CI"``.
    """
    check_record(record)
    plans = select(plans, plans_of(record), "plan")
    events = select(events, events_of(record), "event")
    rows = {(r["plan"], r["event"]): r for r in record["results"]}
    cells = [(e, p) for e in events for p in plans if rows[(p, e)]["loss"] is not None]
    shown_events = [e for e in events if any(c[0] == e for c in cells)]
    n_plans = len(plans)
    ax = new_axes(ax, (max(6.0, 0.38 * len(cells) + 2.5), 4.8))

    # Bar positions: groups of n_plans bars with a gap of one bar between groups.
    x, tick_labels, centres = [], [], []
    pos = 0.0
    for e in shown_events:
        group = [p for p in plans if (e, p) in cells]
        start = pos
        for p in group:
            x.append(pos)
            tick_labels.append(p)
            pos += 1.0
        centres.append((start + pos - 1.0) / 2)
        pos += 0.6 if n_plans > 1 else 0.4
    x_arr = np.asarray(x)
    cell_rows = [rows[(p, e)] for e, p in cells]

    present = [c for c in CAUSE_ORDER if any(r["causes"].get(c, 0) > 0 for r in cell_rows)]
    present += sorted({c for r in cell_rows for c in r["causes"]} - set(CAUSE_ORDER))
    bottom = np.zeros(len(cells))
    for cause in present:
        heights = np.array([r["causes"].get(cause, 0.0) for r in cell_rows])
        ax.bar(
            x_arr,
            heights,
            width=0.85,
            bottom=bottom,
            label=cause,
            linewidth=0.5,
            **cause_style(cause),
        )
        bottom += heights
    loss = [r["loss"] for r in cell_rows]
    ax.errorbar(
        x_arr,
        loss,
        yerr=ci_errors(loss, [r["loss_ci"] for r in cell_rows]),
        fmt="none",
        ecolor="black",
        elinewidth=1.2,
        capsize=3,
        label="95% CI",
    )
    if show_net:
        # Only where something besides delivered events was received (duplicates, bots).
        differs = [
            i
            for i, r in enumerate(cell_rows)
            if r.get("net_error") is not None and r["received"] - r["delivered"] > 1e-3 * r["truth"]
        ]
        net = [-r["net_error"] if i in differs else None for i, r in enumerate(cell_rows)]
        if differs:
            ax.plot(
                x_arr[differs],
                [net[i] for i in differs],
                linestyle="none",
                marker="D",
                markerfacecolor="white",
                markeredgecolor="black",
                label="net shortfall 1 - received/true (< 0: over-count)",
            )
            ax.axhline(0.0, color="black", linewidth=0.8)

    ax.set_xticks(x_arr, tick_labels, rotation=90, fontsize="small")
    ax.set_xlim(-0.8, pos - 0.2)
    longest = max((len(p) for p in tick_labels), default=4)
    groups = ax.secondary_xaxis("bottom")
    groups.set_xticks(centres, [_wrap(e, 8) for e in shown_events])
    groups.tick_params(length=0, pad=10 + 0.6 * 8 * longest)
    groups.spines["bottom"].set_visible(False)
    groups.set_xlabel("event type (bars: tracking plans)")
    ax.set_ylabel("lost (% of true events)")
    percent_axis(ax)
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.grid(axis="y", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    name = (record.get("scenario") or {}).get("name", "")
    ax.set_title(f"Events lost per plan{f' — {name}' if name else ''}, by cause")
    handles, labels = ax.get_legend_handles_labels()
    labels = [CAUSE_WORDS.get(lab, lab) for lab in labels]
    legend_beside(ax, "cause (share of true events)", handles, labels)
    return ax


def _wrap(name: str, width: int) -> str:
    """Break an event name at underscores so that group labels do not overlap."""
    lines: list[str] = []
    for part in name.split("_"):
        if lines and len(lines[-1]) + 1 + len(part) <= width:
            lines[-1] += "_" + part
        else:
            lines.append(part)
    return "\n".join(lines)
