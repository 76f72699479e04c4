"""Who is in the data: composition bias per dimension, and who gets the credit (attribution).

Both read keys of each result row: ``bias: {dimension: {tvd, tvd_ci, p_value,
shares: {category: {truth, received, diff, diff_ci}}}}`` and ``attribution: {channels: {...
same shares...}, unattributed, unattributed_ci}``. Both are drawn as a dot plot of
received minus true share, in percentage points, with the 95% interval of that difference: the
question is who is over- and under-represented, and a 1-point shift shows at a glance.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from simulator.outputs.formatting import interval, p_value, percent, share
from simulator.outputs.plots.records import (
    RecordError,
    check_record,
    choose,
    ci_errors,
    default_focus,
    dimensions_of,
    events_of,
    plans_of,
    row_of,
    select,
)
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

UNATTRIBUTED = "(unattributed)"
"""Category of received conversions credited to no channel."""


def composition_bias(
    record: dict,
    event: str | None = None,
    dimension: str | None = None,
    ax: Axes | None = None,
    *,
    plans: list[str] | None = None,
) -> Axes:
    """Who is over- and under-represented: received minus true share per category, in points.

    For each category (a device, a channel, a blocker kind ...) a dot per plan at its received
    share minus its true share, with the 95% interval of that difference (see
    :func:`share_dots`); a whisker that misses zero is a significant shift. The legend gives
    each plan's total variation distance (with interval) and the p-value of the test that loss
    is independent of the dimension.

    Parameters
    ----------
    record : dict
        A result record with composition bias.
    event, dimension : str, optional
        What to show; by default the pair with the clearest bias
        (:func:`~simulator.outputs.plots.records.default_focus`).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    plans : list of str, optional
        Plans to show (default: every plan with bias for this event and dimension).

    Returns
    -------
    matplotlib.axes.Axes
        One error-bar container per plan (label starts with the plan), one dot per category.
    """
    check_record(record)
    if event is None or dimension is None:
        if event is not None:
            choose(event, events_of(record), "event")
        if dimension is not None:
            choose(dimension, dimensions_of(record, event), "dimension")
        focus_event, focus_dim = default_focus(record, event, dimension)
        event, dimension = event or focus_event, dimension or focus_dim
    event = choose(event, events_of(record), "event")
    dimension = choose(dimension, dimensions_of(record, event), f"dimension for {event}")
    every_plan = plans_of(record)
    with_bias = [p for p in every_plan if dimension in (row_of(record, p, event).get("bias") or {})]
    plans = select(plans, with_bias, f"plan with {dimension} bias for {event}")
    biases = {p: row_of(record, p, event)["bias"][dimension] for p in plans}
    shares = {p: biases[p]["shares"] for p in plans}
    notes = {p: _tvd_text(biases[p]) for p in plans}
    ax = share_dots(shares, every_plan, notes, ax)
    ax.set_ylabel(words(dimension))
    title(ax, f"Who is over- and under-represented: {plain(event)} by {words(dimension)}")
    return ax


def share_dots(
    shares: dict[str, dict[str, dict]],
    every_plan: list[str],
    notes: dict[str, str],
    ax: Axes | None = None,
) -> Axes:
    """Dot plot of received minus true share per category, in points, with its 95% interval.

    One row per category (in the order given, labelled with its true share), one dot per plan:
    right of the zero line the category is over-represented in what the plan received, left of
    it under-represented. The whisker is the interval of that difference (``diff_ci``), so a
    whisker that misses zero is a significant shift.

    Parameters
    ----------
    shares : dict
        plan -> category -> ``{"truth", "received", "diff_ci"}`` (fractions).
    every_plan : list of str
        All plans of the record, in order (fixes each plan's colour and marker).
    notes : dict
        plan -> text added under the plan's legend entry.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        One error-bar container per plan (label = plan) whose dots are at
        ``received - truth`` of each category; no title (the caller knows what the shares are
        of).
    """
    plans = list(shares)
    categories = list(dict.fromkeys(c for s in shares.values() for c in s))
    ax = new_axes(ax, (8.0, min(9.0, max(3.0, 0.4 * len(categories) * max(len(plans), 2) + 1.5))))
    y = np.arange(len(categories), dtype=float)
    offsets, _ = group_offsets(len(plans), 0.6)
    for k, plan in enumerate(plans):
        drawn, diffs, intervals = [], [], []
        for i, c in enumerate(categories):
            s = shares[plan].get(c)
            if s is None or s.get("received") is None or s.get("truth") is None:
                continue
            drawn.append(i)
            diffs.append(s["received"] - s["truth"])
            intervals.append(s.get("diff_ci"))
        style = series_style(every_plan.index(plan))
        label = plain(plan) + (f"\n{notes[plan]}" if notes.get(plan) else "")
        ax.errorbar(
            diffs,
            y[drawn] + offsets[k],
            xerr=ci_errors(diffs, intervals),
            fmt=style["marker"],
            color=style["color"],
            markeredgecolor="black",
            markeredgewidth=0.6,
            markersize=6,
            ecolor=style["color"],
            elinewidth=1.4,
            capsize=2.5,
            label=label,
        )
    ax.axvline(0.0, color="black", linewidth=1.0)
    first = shares[plans[0]]
    labels = []
    for c in categories:
        truth = first.get(c, {}).get("truth")
        labels.append(plain(c) if truth is None else f"{plain(c)} (true {share(truth)})")
    ax.set_yticks(y, labels, fontsize="small")
    ax.set_ylim(len(categories) - 0.5, -0.5)
    ax.set_xlabel("received share minus true share (percentage points)")
    points_axis(ax, "x")
    lo, hi = ax.get_xlim()
    reach = max(abs(lo), abs(hi))
    ax.set_xlim(-reach, reach)  # symmetric: under- and over-representation read alike
    ax.grid(axis="x", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    legend_beside(ax, "plan (whiskers: 95% CI)")
    return ax


def attribution_bias(
    record: dict,
    event: str | None = None,
    ax: Axes | None = None,
    *,
    plans: list[str] | None = None,
) -> Axes:
    """Share of conversions credited to each channel: received minus true, in points.

    Reads the per-row ``attribution`` (``channels``: channel -> ``truth``, ``received``,
    ``diff``, ``diff_ci``; ``unattributed`` and ``unattributed_ci``). The last category,
    ``(unattributed)``, is the share of received conversions credited to no channel because
    their path carried no UTM parameters (the server path without forwarded context): its true
    share is zero.

    Parameters
    ----------
    record : dict
        A result record with attribution.
    event : str, optional
        Conversion event (default: the first with attribution).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    plans : list of str, optional
        Plans to show (default: all with attribution for the event).

    Returns
    -------
    matplotlib.axes.Axes
        One error-bar container per plan, one dot per channel plus ``(unattributed)``.
    """
    check_record(record)
    events = list(dict.fromkeys(r["event"] for r in record["results"] if r.get("attribution")))
    if not events:
        raise RecordError("the record has no attribution")
    event = choose(event, events, "event with attribution")
    every_plan = plans_of(record)
    having = [p for p in every_plan if row_of(record, p, event).get("attribution")]
    plans = select(plans, having, f"plan with attribution for {event}")
    shares = {}
    for p in plans:
        a = row_of(record, p, event)["attribution"]
        shares[p] = dict(a.get("channels") or {})
        shares[p][UNATTRIBUTED] = {
            "truth": 0.0,
            "received": a.get("unattributed") or 0.0,
            "diff_ci": a.get("unattributed_ci"),
        }
    ax = share_dots(shares, every_plan, {}, ax)
    ax.set_ylabel("acquisition channel credited")
    title(ax, f"Who gets the credit: {plain(event)} by channel")
    return ax


def _tvd_text(bias: dict) -> str:
    tvd, ci, p = bias.get("tvd"), bias.get("tvd_ci"), bias.get("p_value")
    parts = []
    if tvd is not None:
        parts.append(f"TVD {percent(tvd)}" + (f" {interval(ci, unit=True)}" if ci else ""))
    if p is not None:
        text = p_value(p)
        parts.append(f"p {text}" if text.startswith("<") else f"p = {text}")
    return ", ".join(parts)
