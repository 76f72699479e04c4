"""Sweep folders: read one result record per point and find which settings were swept.

``trackloss sweep`` writes one result file per point; every record echoes its full scenario and
the point's swept values, so the swept parameters (and the paths linked into one axis by
``--vary-linked``) are found from the records themselves, whatever the file names.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simulator.outputs.plots.records import RecordError, check_record

Points = Sequence[tuple[Any, dict]]
"""Sweep points: the swept value and the result record at that value."""

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
        Pairs sorted by value (categories such as transports stay in the sweep's order); a
        dict keyed by ``"path=value, ..."`` when another parameter varies independently. Paths
        that move together with the x axis (``--vary-linked``) split nothing: see
        :func:`linked_parameters`.

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
    linked = [k for k in varying if k != x and moves_with(varying[k], varying[x])]
    others: list[str] = []
    for k in varying:
        # A path linked to x, or to a series path already kept, adds nothing to the labels.
        if k == x or k in linked:
            continue
        if not any(moves_with(varying[k], varying[j]) for j in others):
            others.append(k)
    groups: dict[str, list[tuple[Any, dict]]] = {}
    for i, record in enumerate(records):
        label = ", ".join(f"{k}={varying[k][i]}" for k in others)
        groups.setdefault(label, []).append((varying[x][i], record))
    for pairs in groups.values():
        if all(numeric(value) for value, _ in pairs):
            pairs.sort(key=lambda pair: pair[0])
    return groups[""] if not others else groups


def moves_with(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """Whether two swept paths' values determine each other point by point (a linked axis).

    Parameters
    ----------
    a, b : sequence
        Each point's value at the two paths, in the same point order.
    """
    pairs = {
        (json.dumps(u, sort_keys=True), json.dumps(v, sort_keys=True))
        for u, v in zip(a, b, strict=True)
    }
    return len(pairs) == len({u for u, _ in pairs}) == len({v for _, v in pairs})


def linked_parameters(records: Sequence[dict], parameter: str) -> dict[str, list[Any]]:
    """Swept paths that move together with ``parameter`` (one linked axis), and their values.

    Parameters
    ----------
    records : sequence of dict
        Result records of the sweep's points.
    parameter : str
        The x axis's path.

    Returns
    -------
    dict
        Path -> its distinct values in the order of ``parameter``'s values; empty when
        ``parameter`` moves alone.
    """
    varying = swept_parameters(records)
    if parameter not in varying:
        return {}
    xs = varying[parameter]
    out = {}
    for path, values in varying.items():
        if path != parameter and moves_with(values, xs):
            pairs = dict(zip(map(json.dumps, xs), values, strict=True))
            order = sorted(pairs, key=lambda v: _sort_key(json.loads(v)))
            out[path] = [pairs[v] for v in order]
    return out


def x_parameter(varying: Mapping[str, list[Any]]) -> str:
    """The swept path for the x axis: numeric before not, then most distinct values, then first.

    Parameters
    ----------
    varying : mapping
        Swept path -> each point's value (:func:`swept_parameters`).
    """
    return max(
        varying,
        key=lambda k: (all(numeric(v) for v in varying[k]), len(set(map(str, varying[k])))),
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


def numeric(v: Any) -> bool:
    """Whether a swept value is a finite number (not a bool): it goes on a numeric axis."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _sort_key(v: Any) -> tuple:
    return (0, v, "") if numeric(v) else (1, 0, str(v))
