"""Loss per event type, side by side for every tracking plan, stacked by cause."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from simulator.outputs.formatting import CAUSE_WORDS, finite, share
from simulator.outputs.plots.records import check_record, ci_errors, events_of, plans_of, select
from simulator.outputs.plots.style import (
    CAUSE_ORDER,
    cause_style,
    legend_beside,
    new_axes,
    percent_axis,
    plain,
    title,
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
    and carries the 95% interval of the total loss as an error bar; the legend gives each
    cause's largest share, so that causes too thin to see are still read. A bar of zero height
    is drawn as a thick line with a ``0``; a plan without a loss for an event type says
    ``no data``. Event types label the groups; plans label the bars. With ``show_net`` a
    diamond marks received minus true events on a scale of its own (right) wherever something
    besides delivered events was received: above zero when bots or duplicates over-count.

    Parameters
    ----------
    record : dict
        A result record (:func:`simulator.stats.summary.summarise`, or its JSON read back).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    plans, events : list of str, optional
        Subsets to show, in this order (default: all, in the scenario's order).
    show_net : bool
        Mark received minus true where more than delivered events (0.1% of the truth) arrived.

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
    cells = [(e, p) for e in events for p in plans if (p, e) in rows]
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
            tick_labels.append(plain(p))
            pos += 1.0
        centres.append((start + pos - 1.0) / 2)
        pos += 0.6 if n_plans > 1 else 0.4
    x_all = np.asarray(x)
    measured = [i for i, (e, p) in enumerate(cells) if finite(rows[(p, e)]["loss"])]
    x_arr = x_all[measured]
    cell_rows = [rows[(p, e)] for e, p in (cells[i] for i in measured)]

    present = [c for c in CAUSE_ORDER if any(_share(r, c) > 0 for r in cell_rows)]
    present += sorted({c for r in cell_rows for c in r["causes"]} - set(CAUSE_ORDER))
    bottom = np.zeros(len(cell_rows))
    for cause in present:
        heights = np.array([_share(r, cause) for r in cell_rows])
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
    _mark_zero_and_missing(ax, x_all, measured, loss)

    ax.set_xticks(x_all, tick_labels, rotation=90, fontsize="small")
    ax.set_xlim(-0.8, pos - 0.2)
    longest = max((len(p) for p in tick_labels), default=4)
    groups = ax.secondary_xaxis("bottom")
    groups.set_xticks(centres, [_wrap(plain(e), 8) for e in shown_events], fontsize="small")
    groups.tick_params(length=0, pad=10 + 0.6 * 8 * longest)
    groups.spines["bottom"].set_visible(False)
    groups.set_xlabel("event type (bars: tracking plans)")
    ax.set_ylabel("lost (% of true events)")
    percent_axis(ax)
    ax.set_ylim(bottom=0.0, top=max(ax.get_ylim()[1], 0.01))
    ax.grid(axis="y", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    name = (record.get("scenario") or {}).get("name", "")
    title(ax, f"Events lost per plan{f' — {plain(name)}' if name else ''}, by cause")
    handles, labels = ax.get_legend_handles_labels()
    labels = [_cause_label(lab, cell_rows) for lab in labels]
    over = _over_count(ax, x_arr, cell_rows) if show_net else None
    if over is not None:
        handles.append(over)
        labels.append(over.get_label())
    # Right of the over-count scale when there is one, beside the bars otherwise.
    pad = 64.0 if over is not None else 0.0
    legend_beside(ax, "cause (share of true events)", handles, labels, pad)
    return ax


def _share(row: dict, cause: str) -> float:
    value = row["causes"].get(cause, 0.0)
    return float(value) if finite(value) else 0.0


def _cause_label(label: str, rows: list[dict]) -> str:
    """A legend entry for a cause, with its largest share, so that thin causes are read."""
    if label not in CAUSE_ORDER and not any(label in r["causes"] for r in rows):
        return label
    top = max((_share(r, label) for r in rows), default=0.0)
    return f"{plain(CAUSE_WORDS.get(label, label))} (max {share(top)})"


def _mark_zero_and_missing(ax: Axes, x: np.ndarray, measured: list[int], loss: list) -> None:
    """Tell a bar of zero height (a ``0`` on the baseline) from a cell without data (``n/a``)."""
    transform = ax.get_xaxis_transform()  # x in data, y in axes fraction
    for k, i in enumerate(measured):
        if loss[k] == 0:
            ax.plot([x[i] - 0.42, x[i] + 0.42], [0, 0], color="black", linewidth=2.5)
            ax.text(x[i], 0.01, "0", ha="center", va="bottom", fontsize="x-small",
                    transform=transform)  # fmt: skip
    for i in sorted(set(range(len(x))) - set(measured)):
        ax.text(x[i], 0.02, "no data", ha="center", va="bottom", rotation=90,
                fontsize="x-small", color="0.35", transform=transform)  # fmt: skip


def _over_count(ax: Axes, x: np.ndarray, rows: list[dict]):
    """Received minus true events (bots, duplicates) on a scale of its own, right of the bars.

    Drawn only where something besides delivered events was received; returns the marker's
    handle for the legend, or ``None`` when nothing was over-counted.
    """
    differs = [
        i
        for i, r in enumerate(rows)
        if finite(r.get("net_error")) and r["received"] - r["delivered"] > 1e-3 * r["truth"]
    ]
    if not differs:
        return None
    values = [rows[i]["net_error"] for i in differs]
    right = ax.twinx()
    (line,) = right.plot(
        x[differs],
        values,
        linestyle="none",
        marker="D",
        markerfacecolor="white",
        markeredgecolor="black",
        label="received - true, right scale\n(> 0: over-count from bots, duplicates)",
    )
    low, high = min(0.0, *values), max(0.0, *values)
    margin = 0.12 * (high - low or 1.0)
    # Zero at the bottom, as on the loss scale, unless something came in short.
    right.set_ylim(low - margin if low < 0 else 0.0, high + margin)
    if low < 0:
        right.axhline(0.0, color="black", linewidth=0.8, linestyle=":")
    right.set_ylabel("received - true (% of true events)")
    percent_axis(right)
    return line


def _wrap(name: str, width: int) -> str:
    """Break an event name at underscores so that group labels do not overlap."""
    lines: list[str] = []
    for part in name.split("_"):
        if lines and len(lines[-1]) + 1 + len(part) <= width:
            lines[-1] += "_" + part
        else:
            lines.append(part)
    return "\n".join(lines)
