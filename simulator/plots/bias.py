"""Bias plots: who is missing from the data (composition) and how wrong the KPIs are.

Both read the keys issue 3 adds to the result record: per row
``bias: {dimension: {tvd, tvd_ci, p_value, shares: {category: {truth, received, diff,
diff_ci}}}}`` and the top-level ``kpis: [{plan, name, truth, observed, relative_bias,
relative_bias_ci}]``. Shares and relative biases are fractions, shown as percentages.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from simulator.plots.records import (
    RecordError,
    check_record,
    choose,
    ci_errors,
    default_focus,
    dimensions_of,
    events_of,
    kpi_rows,
    plans_of,
    row_of,
    select,
)
from simulator.plots.style import (
    TRUTH_STYLE,
    bar_style,
    group_offsets,
    new_axes,
    percent_axis,
)


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
        (:func:`~simulator.plots.records.default_focus`).
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
    categories = list(dict.fromkeys(c for b in biases.values() for c in b["shares"]))
    ax = new_axes(ax, (max(6.0, 0.5 * len(categories) * (len(plans) + 1) + 3), 4.5))

    x = np.arange(len(categories), dtype=float)
    offsets, width = group_offsets(len(plans) + 1)
    first = biases[plans[0]]["shares"]
    truth = [first.get(c, {}).get("truth", 0.0) for c in categories]
    ax.bar(x + offsets[0], truth, width, label="truth", linewidth=0.6, **TRUTH_STYLE)
    for k, plan in enumerate(plans):
        shares = biases[plan]["shares"]
        received = [shares.get(c, {}).get("received", 0.0) for c in categories]
        intervals = []
        for c, t in zip(categories, truth, strict=True):
            ci = shares.get(c, {}).get("diff_ci")
            intervals.append(None if ci is None else [t + ci[0], t + ci[1]])
        style = bar_style(every_plan.index(plan))
        ax.bar(x + offsets[k + 1], received, width, label=plan, **style)
        ax.errorbar(
            x + offsets[k + 1],
            received,
            yerr=ci_errors(received, intervals),
            fmt="none",
            ecolor="black",
            elinewidth=1.0,
            capsize=2.5,
        )
    ax.set_xticks(
        x,
        categories,
        rotation=30 if len(categories) > 4 else 0,
        ha="right" if len(categories) > 4 else "center",
    )
    ax.set_xlabel(dimension)
    ax.set_ylabel(f"share of {event} events (%)")
    percent_axis(ax)
    ax.grid(axis="y", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    ax.set_title(f"Who is in the data: {event} by {dimension}")
    handles, labels = ax.get_legend_handles_labels()
    labels = ["true share"] + [f"received, {p}\n{_tvd_text(biases[p])}" for p in plans]
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize="small",
        title="bars (error bars: 95% CI)",
        title_fontsize="small",
    )
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


def kpi_bias(
    record: dict,
    ax: Axes | None = None,
    *,
    plans: list[str] | None = None,
    kpis: list[str] | None = None,
) -> Axes:
    """Relative bias of each KPI computed from received data, one bar per plan, with 95% CI.

    Horizontal bars: one group per KPI (labelled with its true value), one bar per plan, the
    length being ``observed / truth - 1``; a vertical line marks zero (no bias). A KPI whose
    truth is zero has no relative bias and draws no bar.

    Parameters
    ----------
    record : dict
        A result record with a top-level ``kpis`` list.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    plans, kpis : list of str, optional
        Subsets to show, in this order (default: all).

    Returns
    -------
    matplotlib.axes.Axes
        One bar container per plan (label = plan, one bar per KPI) and one error-bar container
        per plan.
    """
    check_record(record)
    rows = kpi_rows(record)
    if not rows:
        raise RecordError("the record has no KPIs (issue 3's top-level 'kpis')")
    order = plans_of(record)  # styles follow the record's plan order, as in every plot
    every_plan = [p for p in order if any(r["plan"] == p for r in rows)]
    plans = select(plans, every_plan, "plan with KPIs")
    kpis = select(kpis, list(dict.fromkeys(r["name"] for r in rows)), "KPI")
    table = {(r["plan"], r["name"]): r for r in rows}
    ax = new_axes(ax, (7.5, max(3.0, 0.45 * len(kpis) * len(plans) + 1.5)))

    y = np.arange(len(kpis), dtype=float)
    offsets, height = group_offsets(len(plans))
    for k, plan in enumerate(plans):
        found = [table.get((plan, name)) for name in kpis]
        values = [r["relative_bias"] if r else None for r in found]
        drawn = [i for i, v in enumerate(values) if v is not None]
        # Plans read top to bottom in legend order: the first plan sits highest in its group.
        pos = y[drawn] + offsets[k]
        vals = [values[i] for i in drawn]
        cis = [found[i].get("relative_bias_ci") for i in drawn]
        ax.barh(pos, vals, height, label=plan, **bar_style(order.index(plan)))
        ax.errorbar(
            vals,
            pos,
            xerr=ci_errors(vals, cis),
            fmt="none",
            ecolor="black",
            elinewidth=1.0,
            capsize=2.5,
        )
    ax.axvline(0.0, color="black", linewidth=1.0)
    labels = []
    for name in kpis:
        truth = next((r["truth"] for r in rows if r["name"] == name), None)
        labels.append(name if truth is None else f"{name}\n(true {truth:.3g})")
    ax.set_yticks(y, labels, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("relative bias: observed / true - 1 (%)")
    percent_axis(ax, "x")
    ax.grid(axis="x", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    ax.set_title("KPIs computed from the received data")
    handles = [Patch(label=p, **bar_style(order.index(p))) for p in plans]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize="small",
        title="plan (error bars: 95% CI)",
        title_fontsize="small",
    )
    return ax
