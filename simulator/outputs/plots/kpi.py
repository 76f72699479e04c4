"""KPI bias: ratios a business watches, computed from the received data, against the truth.

Reads the top-level ``kpis: [{plan, name, truth, observed, relative_bias,
relative_bias_ci}]``; relative biases are fractions, shown as percentages.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from simulator.outputs.formatting import finite, percent
from simulator.outputs.plots.records import (
    RecordError,
    check_record,
    ci_errors,
    kpi_rows,
    plans_of,
    select,
)
from simulator.outputs.plots.style import (
    bar_style,
    group_offsets,
    legend_beside,
    new_axes,
    percent_axis,
    plain,
    title,
    words,
)


def kpi_bias(
    record: dict,
    ax: Axes | None = None,
    *,
    plans: list[str] | None = None,
    kpis: list[str] | None = None,
) -> Axes:
    """Relative bias of each KPI computed from received data, one bar per plan, with 95% CI.

    Horizontal bars: one group per KPI (labelled with its true value), one bar per plan, the
    length being ``observed / truth - 1``; a vertical line marks zero (no bias), and a bar of
    zero length is labelled ``0 (no bias)``. A KPI whose truth is zero has no relative bias and
    draws no bar.

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
        raise RecordError("the record has no KPIs")
    order = plans_of(record)  # styles follow the record's plan order, as in every plot
    every_plan = [p for p in order if any(r["plan"] == p for r in rows)]
    plans = select(plans, every_plan, "plan with KPIs")
    kpis = select(kpis, list(dict.fromkeys(r["name"] for r in rows)), "KPI")
    table = {(r["plan"], r["name"]): r for r in rows}
    ax = new_axes(ax, (7.5, min(7.0, max(3.0, 0.45 * len(kpis) * len(plans) + 1.5))))

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
        ax.barh(pos, vals, height, label=plain(plan), **bar_style(order.index(plan)))
        ax.errorbar(
            vals,
            pos,
            xerr=ci_errors(vals, cis),
            fmt="none",
            ecolor="black",
            elinewidth=1.0,
            capsize=2.5,
        )
        for v, at in zip(vals, pos, strict=True):
            if v == 0:  # a bar of zero length: say so, rather than look like a missing plan
                ax.annotate("0 (no bias)", (0.0, at), xytext=(4, 0), textcoords="offset points",
                            va="center", fontsize="x-small")  # fmt: skip
    ax.axvline(0.0, color="black", linewidth=1.0)
    labels = []
    for name in kpis:
        row = next(r for r in rows if r["name"] == name)
        labels.append(f"{words(name)}\n(true {true_value(row)})")
    ax.set_yticks(y, labels, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("relative bias: observed / true - 1 (%)")
    percent_axis(ax, "x")
    ax.grid(axis="x", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    name = (record.get("scenario") or {}).get("name")
    where = f" — {plain(name)}" if name else ""
    title(ax, f"KPIs computed from the received data{where}")
    handles = [Patch(label=plain(p), **bar_style(order.index(p))) for p in plans]
    legend_beside(ax, "plan (error bars: 95% CI)", handles)
    return ax


def true_value(row: dict) -> str:
    """A KPI's true value with its unit, read from what the KPI divides.

    A ratio of two counts (conversions per session, orders per cart) is a rate, shown as a
    percentage; a sum of event values divided by a count is a value per visitor, session or
    order, shown as an amount of event value per unit of the denominator.

    Parameters
    ----------
    row : dict
        One of the record's ``kpis`` rows (``truth``, ``numerator``, ``denominator``).

    Returns
    -------
    str
        ``"2.5%"``, ``"84.79 per order completed"``, the bare number when the row does not
        say what it divides, or ``"-"`` when the truth is unknown.
    """
    truth = row.get("truth")
    if not finite(truth):
        return "-"
    numerator = str(row.get("numerator") or "")
    denominator = str(row.get("denominator") or "")
    if numerator.startswith("value:"):
        per = denominator.removeprefix("value:").replace("sessions", "session")
        per = per.replace("visitors", "visitor")
        return f"{truth:,.2f} per {plain(per.replace('_', ' '))}"
    if numerator and denominator:
        return percent(truth, 2)
    return f"{truth:.3g}"  # an older record that does not say what the KPI divides
