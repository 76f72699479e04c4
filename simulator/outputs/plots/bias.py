"""Who is in the data: composition bias per dimension, and who gets the credit (attribution).

Both read keys of each result row: ``bias: {dimension: {tvd, tvd_ci, p_value,
shares: {category: {truth, received, diff, diff_ci}}}}`` and ``attribution: {channels: {...
same shares...}, unattributed, unattributed_ci}``. Shares are fractions, shown as percentages;
a plan's error bar is the interval of its received share implied by the interval of its
difference from the truth (``truth + diff_ci``).
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

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
    TRUTH_STYLE,
    bar_style,
    group_offsets,
    legend_beside,
    new_axes,
    percent_axis,
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
    """True vs received share of each category, for one event type and dimension.

    For each category (a device, a channel, a blocker kind ...) the first bar is its share of
    the true events and the next ones its share of what each plan received. A plan's error bar
    is the 95% interval of its share implied by the interval of the difference from the truth
    (``truth + diff_ci``), so a bar whose interval misses the true share's top is a significant
    shift. The legend gives each plan's total variation distance (with interval) and the
    p-value of the test that loss is independent of the dimension.

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
        One bar container for the truth (label ``"truth"``) and one per plan (label = plan),
        each with one bar per category, and one error-bar container per plan.
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
    ax = share_bars(shares, every_plan, notes, ax)
    ax.set_xlabel(dimension)
    ax.set_ylabel(f"share of {event} events (%)")
    ax.set_title(f"Who is in the data: {event} by {dimension}")
    return ax


def share_bars(
    shares: dict[str, dict[str, dict]],
    every_plan: list[str],
    notes: dict[str, str],
    ax: Axes | None = None,
) -> Axes:
    """Grouped bars of true and received shares per category, with the received share's CI.

    Parameters
    ----------
    shares : dict
        plan -> category -> ``{"truth", "received", "diff_ci"}``.
    every_plan : list of str
        All plans of the record, in order (fixes each plan's colour and hatch).
    notes : dict
        plan -> text added under the plan's legend entry.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, without axis labels or title (the caller knows what the shares are of).
    """
    plans = list(shares)
    categories = list(dict.fromkeys(c for s in shares.values() for c in s))
    ax = new_axes(ax, (min(12.0, max(6.0, 0.5 * len(categories) * (len(plans) + 1) + 3)), 4.5))
    x = np.arange(len(categories), dtype=float)
    offsets, width = group_offsets(len(plans) + 1)
    first = shares[plans[0]]
    truth = [first.get(c, {}).get("truth", 0.0) for c in categories]
    ax.bar(x + offsets[0], truth, width, label="truth", linewidth=0.6, **TRUTH_STYLE)
    for k, plan in enumerate(plans):
        received = [shares[plan].get(c, {}).get("received", 0.0) for c in categories]
        intervals = []
        for c, t in zip(categories, truth, strict=True):
            ci = shares[plan].get(c, {}).get("diff_ci")
            # A share lies in [0, 1] whatever the interval of the difference says.
            intervals.append(None if ci is None else [max(t + ci[0], 0.0), min(t + ci[1], 1.0)])
        ax.bar(x + offsets[k + 1], received, width, label=plan, **bar_style(every_plan.index(plan)))
        ax.errorbar(
            x + offsets[k + 1],
            received,
            yerr=ci_errors(received, intervals),
            fmt="none",
            ecolor="black",
            elinewidth=1.0,
            capsize=2.5,
        )
    tilt = len(categories) > 4
    ax.set_xticks(x, categories, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    percent_axis(ax)
    ax.grid(axis="y", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    handles, _ = ax.get_legend_handles_labels()
    labels = ["true share"] + [
        f"received, {p}" + (f"\n{notes[p]}" if notes.get(p) else "") for p in plans
    ]
    legend_beside(ax, "bars (error bars: 95% CI)", handles, labels)
    return ax


def attribution_bias(
    record: dict,
    event: str | None = None,
    ax: Axes | None = None,
    *,
    plans: list[str] | None = None,
) -> Axes:
    """Share of conversions credited to each channel, true vs received, and the unattributed.

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
        One bar container for the truth and one per plan, one bar per channel plus
        ``(unattributed)``.
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
    ax = share_bars(shares, every_plan, {}, ax)
    ax.set_xlabel("acquisition channel credited")
    ax.set_ylabel(f"share of {event} events (%)")
    ax.set_title(f"Who gets the credit: {event} by channel")
    return ax


def _tvd_text(bias: dict) -> str:
    tvd, ci, p = bias.get("tvd"), bias.get("tvd_ci"), bias.get("p_value")
    parts = []
    if tvd is not None:
        interval = f" [{ci[0]:.1%}, {ci[1]:.1%}]" if ci else ""
        parts.append(f"TVD {tvd:.1%}{interval}")
    if p is not None:
        parts.append("p < 0.001" if p < 0.001 else f"p = {p:.3f}")
    return ", ".join(parts)
