"""Sweep curves: loss or a KPI's bias against a swept scenario parameter, one line per plan.

A sweep is a list of ``(value, record)`` pairs, one result record per value of the swept
parameter, or a dict ``{series label: [(value, record), ...]}`` when a second parameter (a
transport, say) splits the points into series. :func:`load_sweep` builds either from a folder of
result files (``trackloss sweep`` writes one per point): every record echoes its full scenario,
so the swept parameters are found by comparing the records' configs, whatever the file names.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes

from simulator.outputs.plots.records import RecordError, check_record, choose, events_of, kpi_rows
from simulator.outputs.plots.style import (
    LINESTYLES,
    legend_beside,
    new_axes,
    percent_axis,
    series_style,
)

Points = Sequence[tuple[Any, dict]]
IGNORED = ("name", "description", "simulation.seed")
"""Config paths never taken for the swept parameter unless named explicitly."""


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths (``client.transport``, ``population.segments[0].share``) of a config."""
    out: dict[str, Any] = {}
    if isinstance(config, Mapping):
        for key, value in config.items():
            part = f'"{key}"' if "." in str(key) else str(key)
            out.update(flatten(value, f"{prefix}.{part}" if prefix else part))
    elif isinstance(config, list):
        for i, value in enumerate(config):
            out.update(flatten(value, f"{prefix}[{i}]"))
    else:
        out[prefix] = config
    return out


def varying_parameters(records: Sequence[dict]) -> dict[str, list[Any]]:
    """Config paths whose value differs between records, with each record's value."""
    flats = [flatten((r.get("scenario") or {}).get("config") or {}) for r in records]
    paths = dict.fromkeys(p for f in flats for p in f)
    out = {}
    for path in paths:
        values = [f.get(path) for f in flats]
        if len({json.dumps(v, sort_keys=True) for v in values}) > 1:
            out[path] = values
    return out


def load_sweep(
    folder: str | Path, parameter: str | None = None
) -> list[tuple[Any, dict]] | dict[str, list[tuple[Any, dict]]]:
    """Read a folder of result records as sweep points.

    Hidden files, temporary files and JSON files that are not result records (a failed point's
    error record, the sweep's manifest) are skipped. The swept parameters are read from each
    point's ``sweep.point`` block (``trackloss sweep``) or, failing that, found by comparing the
    records' scenario configs.

    Parameters
    ----------
    folder : str or pathlib.Path
        Folder holding one result JSON per sweep point.
    parameter : str, optional
        Dotted config path for the x axis; by default the numeric swept parameter with the most
        values. Any other swept parameter splits the points into series.

    Returns
    -------
    list of (value, dict), or dict of str to such lists
        Pairs sorted by value; a dict keyed by ``"path=value, ..."`` when several parameters vary.

    Raises
    ------
    RecordError
        If the folder is missing, holds no result records, or its records do not differ.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise RecordError(f"{folder}: no such folder (expected a sweep output folder)")
    records = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith(".") or ".tmp" in path.name:
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            check_record(record)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecordError):
            continue
        records.append(record)
    if not records:
        raise RecordError(f"{folder}: no result records (*.json written by run or sweep)")
    varying = swept_parameters(records)
    if parameter is not None:
        varying.setdefault(parameter, [_lookup(r, parameter) for r in records])
    if not varying:
        raise RecordError(f"{folder}: the records do not differ in any scenario setting")
    x = parameter or x_parameter(varying)
    others = [k for k in varying if k != x]
    groups: dict[str, list[tuple[Any, dict]]] = {}
    for i, record in enumerate(records):
        label = ", ".join(f"{k}={varying[k][i]}" for k in others)
        groups.setdefault(label, []).append((varying[x][i], record))
    for pairs in groups.values():
        pairs.sort(key=lambda pair: _sort_key(pair[0]))
    return groups[""] if not others else groups


def x_parameter(varying: Mapping[str, list[Any]]) -> str:
    """The swept path for the x axis: numeric before not, then most distinct values, then first.

    Parameters
    ----------
    varying : mapping
        Swept path -> each point's value (:func:`swept_parameters`).
    """
    return max(
        varying,
        key=lambda k: (all(_numeric(v) for v in varying[k]), len(set(map(str, varying[k])))),
    )


def swept_parameters(records: Sequence[dict]) -> dict[str, list[Any]]:
    """Swept paths and each record's value at them.

    From ``trackloss sweep``'s per-point ``sweep.point`` block when every record has one (paths
    in ``--vary`` order), else from the records' configs (see :func:`varying_parameters`).

    Parameters
    ----------
    records : sequence of dict
        Result records of the sweep's points.

    Returns
    -------
    dict
        Path -> list of values, one per record, for the paths whose value differs.
    """
    points = [(r.get("sweep") or {}).get("point") for r in records]
    if all(isinstance(p, dict) and p for p in points):
        paths = dict.fromkeys(k for p in points for k in p)
        found = {k: [p.get(k) for p in points] for k in paths}
        return {k: v for k, v in found.items() if len({json.dumps(x) for x in v}) > 1}
    return {k: v for k, v in varying_parameters(records).items() if k not in IGNORED}


def _lookup(record: dict, path: str) -> Any:
    flat = flatten((record.get("scenario") or {}).get("config") or {})
    if path not in flat:
        raise RecordError(f"parameter {path!r} is not a scenario setting of the records")
    return flat[path]


def _numeric(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _sort_key(v: Any) -> tuple:
    return (0, v, "") if _numeric(v) else (1, 0, str(v))


def sweep_curves(
    points: Points | Mapping[str, Points],
    ax: Axes | None = None,
    *,
    event: str | None = None,
    kpi: str | None = None,
    plans: list[str] | None = None,
    parameter: str = "swept parameter",
) -> Axes:
    """Loss of an event type (or a KPI's relative bias) against a swept parameter.

    One line per plan (and per series when ``points`` is a dict), with a shaded 95% interval
    band. Numeric values are placed on a numeric axis; anything else (transport names) on
    evenly spaced categories in the order given.

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

    Returns
    -------
    matplotlib.axes.Axes
        One line per (series, plan), labelled ``"plan"`` or ``"series: plan"``.
    """
    series = dict(points) if isinstance(points, Mapping) else {"": list(points)}
    series = {k: sorted(v, key=lambda pair: _sort_key(pair[0])) for k, v in series.items()}
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
    categorical = not all(_numeric(v) for v in values)
    categories = list(dict.fromkeys(str(v) for v in values))
    ax = new_axes(ax, (7.5, 4.5))
    for s, (label, pts) in enumerate(series.items()):
        for plan in plans:
            style = series_style(all_plans.index(plan) if plan in all_plans else 0)
            xs, ys, lo, hi = [], [], [], []
            for value, record in pts:
                y, ci = _metric(record, plan, event, kpi)
                if y is None:
                    continue
                xs.append(categories.index(str(value)) if categorical else value)
                ys.append(y)
                lo.append(ci[0] if ci else y)
                hi.append(ci[1] if ci else y)
            name = f"{label}: {plan}" if label else plan
            ax.plot(
                xs,
                ys,
                color=style["color"],
                marker=style["marker"],
                linestyle=LINESTYLES[s % len(LINESTYLES)],
                label=name,
            )
            ax.fill_between(xs, lo, hi, color=style["color"], alpha=0.18, linewidth=0)
    if categorical:
        ax.set_xticks(range(len(categories)), categories)
    ax.set_xlabel(parameter)
    if kpi is None:
        ax.set_ylabel(f"{event} lost (% of true events)")
        ax.set_title(f"Loss of {event} across the sweep")
    else:
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_ylabel(f"{kpi}: observed / true - 1 (%)")
        ax.set_title(f"Bias of {kpi} across the sweep")
    percent_axis(ax)
    ax.grid(linewidth=0.4, alpha=0.5)
    legend_beside(ax, "plan (bands: 95% CI)")
    return ax


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
