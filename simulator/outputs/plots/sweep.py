"""Sweep curves: loss or a KPI's bias against a swept scenario parameter, one line per plan.

A sweep is a list of ``(value, record)`` pairs, one result record per value of the swept
parameter, or a dict ``{series label: [(value, record), ...]}`` when a second parameter (a
transport, say) splits the points into series.
:func:`~simulator.outputs.plots.sweep_folder.load_sweep` builds either from a folder of result
files (``trackloss sweep`` writes one per point).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from simulator.outputs.plots.records import (
    RecordError,
    check_record,
    choose,
    ci_errors,
    events_of,
    kpi_rows,
)
from simulator.outputs.plots.style import (
    LINESTYLES,
    group_offsets,
    legend_beside,
    new_axes,
    percent_axis,
    plain,
    series_style,
    title,
    words,
)
from simulator.outputs.plots.sweep_folder import Points, numeric

FILLS = ("full", "none", "left", "bottom", "right", "top")
"""Marker fills that tell series apart on a categorical axis (the plan sets colour and shape)."""


def sweep_curves(
    points: Points | Mapping[str, Points],
    ax: Axes | None = None,
    *,
    event: str | None = None,
    kpi: str | None = None,
    plans: list[str] | None = None,
    parameter: str = "swept parameter",
    linked: Mapping[str, Sequence[Any]] | None = None,
) -> Axes:
    """Loss of an event type (or a KPI's relative bias) against a swept parameter.

    Numeric values are placed on a numeric axis, one line per plan (and line style per series
    when ``points`` is a dict) with a shaded 95% interval band. Anything else (transport names)
    is a category: categories stay in the order given, and each plan is a dot with its 95%
    interval, side by side, never joined by a line. Plans are told apart by colour and marker,
    series by line style (or the marker's fill), each listed once in the legend.

    Parameters
    ----------
    points : list of (value, dict), or dict of str to such lists
        Sweep points: the swept value and the result record at that value.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    event : str, optional
        Event type whose loss is drawn (default: the first in the records).
    kpi : str, optional
        Draw this KPI's relative bias instead of a loss.
    plans : list of str, optional
        Plans to draw (default: all).
    parameter : str
        Label of the x axis (the swept setting, with its unit).
    linked : mapping, optional
        Other paths that move with the x axis (:func:`linked_parameters`), named with their
        first and last values in the legend's title.

    Returns
    -------
    matplotlib.axes.Axes
        Numeric: one line per (series, plan), labelled ``"plan"`` or ``"series: plan"``.
        Categorical: one error-bar container per (series, plan) with the same labels.
    """
    series = dict(points) if isinstance(points, Mapping) else {"": list(points)}
    series = {k: _ordered(v) for k, v in series.items()}
    if not any(series.values()):
        raise RecordError("a sweep needs at least one (value, record) point")
    first = next(p for pts in series.values() for p in pts)[1]
    check_record(first)
    all_plans = list(dict.fromkeys(r["plan"] for r in first["results"]))
    plans = plans or all_plans
    if kpi is None:
        event = choose(event, events_of(first), "event")
    else:
        choose(kpi, list(dict.fromkeys(r["name"] for r in kpi_rows(first))), "KPI")
    values = [v for pts in series.values() for v, _ in pts]
    categorical = not all(numeric(v) for v in values)
    categories = list(dict.fromkeys(str(v) for v in values))
    ax = new_axes(ax, (7.5, 4.5))
    n_lines = len(series) * len(plans)
    offsets, _ = group_offsets(n_lines, 0.7)
    for s, (label, pts) in enumerate(series.items()):
        for j, plan in enumerate(plans):
            style = series_style(all_plans.index(plan) if plan in all_plans else 0)
            xs, ys, cis = [], [], []
            for value, record in pts:
                y, ci = _metric(record, plan, event, kpi)
                if y is None:
                    continue
                xs.append(categories.index(str(value)) if categorical else value)
                ys.append(y)
                cis.append(ci)
            name = plain(f"{label}: {plan}" if label else plan)
            if categorical:
                shift = offsets[s * len(plans) + j]
                ax.errorbar(
                    [x + shift for x in xs],
                    ys,
                    yerr=ci_errors(ys, cis),
                    fmt=style["marker"],
                    color=style["color"],
                    fillstyle=FILLS[s % len(FILLS)],
                    markerfacecoloralt="white",
                    markeredgecolor="black",
                    markersize=6,
                    linestyle="none",
                    elinewidth=1.3,
                    capsize=3,
                    label=name,
                )
                continue
            ax.plot(
                xs,
                ys,
                color=style["color"],
                marker=style["marker"],
                linestyle=LINESTYLES[s % len(LINESTYLES)],
                label=name,
            )
            lo = [ci[0] if ci else y for y, ci in zip(ys, cis, strict=True)]
            hi = [ci[1] if ci else y for y, ci in zip(ys, cis, strict=True)]
            ax.fill_between(xs, lo, hi, color=style["color"], alpha=0.18, linewidth=0)
    if categorical:
        ax.set_xticks(range(len(categories)), [plain(c) for c in categories])
        ax.set_xlim(-0.6, len(categories) - 0.4)
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
    else:
        ax.grid(linewidth=0.4, alpha=0.5)
    ax.set_xlabel(plain(parameter))
    if kpi is None:
        ax.set_ylabel(f"{plain(event)} lost (% of true events)")
        title(ax, f"Loss of {plain(event)} across the sweep")
    else:
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_ylabel(f"{words(kpi)}: observed / true - 1 (%)")
        title(ax, f"Bias of {words(kpi)} across the sweep")
    percent_axis(ax)
    _sweep_legend(ax, plans, all_plans, list(series), categorical, linked or {})
    return ax


def _ordered(pairs: Points) -> list[tuple[Any, dict]]:
    """Numeric values sorted; categories (transports) in the order given."""
    pairs = list(pairs)
    if all(numeric(v) for v, _ in pairs):
        return sorted(pairs, key=lambda pair: pair[0])
    return pairs


def _sweep_legend(
    ax: Axes,
    plans: list[str],
    all_plans: list[str],
    series: list[str],
    categorical: bool,
    linked: Mapping[str, Sequence[Any]],
) -> None:
    """One entry per plan, then one per series (line style or hollow marker), beside the axes."""
    handles: list[Line2D] = []
    for plan in plans:
        style = series_style(all_plans.index(plan) if plan in all_plans else 0)
        handles.append(Line2D([], [], color=style["color"], marker=style["marker"],
                              markeredgecolor="black", linestyle="none" if categorical else "-",
                              label=plain(plan)))  # fmt: skip
    if len(series) > 1 or series[0]:
        keys = {label.partition("=")[0] for label in series}
        one_path = len(keys) == 1 and all(label.count("=") == 1 for label in series)
        header = f"{plain(keys.pop())}:" if one_path else " "
        handles.append(Line2D([], [], linestyle="none", label=header))
        for s, label in enumerate(series):
            text = plain(label.partition("=")[2] if one_path else label)
            if categorical:
                handle = Line2D([], [], color="0.3", marker="o", fillstyle=FILLS[s % len(FILLS)],
                                markerfacecoloralt="white", markeredgecolor="black",
                                linestyle="none", label=text)  # fmt: skip
            else:
                handle = Line2D([], [], color="0.3", linestyle=LINESTYLES[s % len(LINESTYLES)],
                                label=text)  # fmt: skip
            handles.append(handle)
    head = "plan (whiskers: 95% CI)" if categorical else "plan (bands: 95% CI)"
    for path, values in linked.items():
        head += f"\nx moves with {plain(path)}\n= {plain(values[0])} ... {plain(values[-1])}"
    legend_beside(ax, head, handles)


def _metric(record: dict, plan: str, event: str | None, kpi: str | None):
    """``(value, interval)`` of the drawn metric in one record, or ``(None, None)``."""
    if kpi is not None:
        for r in kpi_rows(record):
            if r["plan"] == plan and r["name"] == kpi:
                return r.get("relative_bias"), r.get("relative_bias_ci")
        return None, None
    for r in record["results"]:
        if r["plan"] == plan and r["event"] == event:
            return r["loss"], r["loss_ci"]
    return None, None
