"""A sweep as one tidy DataFrame: every point's table, with the settings it varied as columns.

:func:`sweep_frame` takes what :func:`simulator.experiments.sweep.run_sweep` returns, or the
folder a sweep wrote (``trackloss sweep -o DIR``), and stacks the same table of every point
(:data:`simulator.outputs.frames.TABLES`: loss, KPIs, composition...) under a ``point`` column
and one column per varied setting, named by its ``--set`` path. Points that failed or have not
run yet have no rows; their errors are in the sweep's ``summary.csv`` and ``.error.json`` files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from simulator.experiments.sweep import MANIFEST
from simulator.experiments.sweep_points import SweepReport
from simulator.outputs.frames import TABLES
from simulator.outputs.record_validation import InvalidRecord, read_record


def sweep_frame(sweep: SweepReport | str | Path, table: str = "loss") -> pd.DataFrame:
    """One table of every point of a sweep, stacked, with the varied settings as columns.

    Parameters
    ----------
    sweep : SweepReport, str or pathlib.Path
        What :func:`simulator.experiments.sweep.run_sweep` returned, or the sweep's folder.
    table : str
        Which table of each point, as in :func:`simulator.outputs.frames.to_frame`: ``loss``
        (the default), ``causes``, ``composition``, ``value``, ``attribution``, ``kpis``,
        ``comparisons`` or ``replications``.

    Returns
    -------
    pandas.DataFrame
        Columns ``point`` (the point's index in the grid), one per varied ``--set`` path (its
        value at the point), then the table's own columns; rows in point order.

    Raises
    ------
    ValueError
        For an unknown table, or a folder that holds no sweep (the message is one line naming
        the folder or file).

    Examples
    --------
    >>> import tempfile
    >>> import simulator as tl
    >>> from simulator.experiments.grid import parse_axis
    >>> axes = [parse_axis("client.transport=xhr,beacon")]
    >>> folder = tempfile.TemporaryDirectory()
    >>> report = tl.run_sweep("scenarios/baseline.toml", axes, folder.name,
    ...                       ["population.users=300"], replications=2, workers=1)
    >>> frame = tl.sweep_frame(report)
    >>> frame.columns[:4].tolist()
    ['point', 'client.transport', 'plan', 'event']
    >>> sorted(set(frame["client.transport"]))
    ['beacon', 'xhr']
    >>> folder.cleanup()
    """
    if table not in TABLES:
        raise ValueError(f"table must be one of {', '.join(TABLES)}, got {table!r}")
    if isinstance(sweep, SweepReport):
        paths = [p for axis in sweep.axes for p in axis.paths]
        points = [
            (r.point.index, r.point.values, r.data)
            for r in sorted(sweep.records, key=lambda r: r.point.index)
            if r.status == "ok"
        ]
    else:
        paths, points = _read_folder(Path(sweep))
    frames = []
    for index, values, record in points:
        frame = TABLES[table](record)
        settings = {"point": index, **{p: values.get(p) for p in paths}}
        for k, (column, value) in enumerate(settings.items()):
            frame.insert(k, column, [value] * len(frame))
        frames.append(frame)
    if not frames:
        columns = TABLES[table]({"results": []}).columns
        return pd.DataFrame(columns=["point", *paths, *columns])
    return pd.concat(frames, ignore_index=True)


def _read_folder(folder: Path) -> tuple[list[str], list[tuple[int, dict, dict]]]:
    """The varied paths and every finished point (index, values, record) of a sweep's folder."""
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        axes, listed = manifest["axes"], manifest["points"]
        paths = [p for axis in axes for p in axis["paths"]]
    except FileNotFoundError:
        raise ValueError(
            f"{folder}: no {MANIFEST} here (expected a folder written by trackloss sweep)"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{manifest_path}: not a sweep manifest ({error})") from None
    points = []
    for index, entry in enumerate(listed):
        path = folder / f"{entry['name']}.json"
        if not path.exists():
            continue  # failed (see its .error.json) or not run yet
        try:
            points.append((index, dict(entry["point"]), read_record(path)))
        except InvalidRecord as error:
            raise ValueError(str(error)) from None
    return paths, points


__all__ = ["sweep_frame"]
