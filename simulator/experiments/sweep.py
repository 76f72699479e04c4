"""Sweeps: run a scenario over a grid of overrides, one result file per point, resumable.

Each ``--vary PATH=VALUES`` is an axis (``start:stop:count`` or a comma list, values read like
``--set``); the grid is their Cartesian product. Paths that must move together -- shares that
must sum to 1 -- form one *linked* axis whose values are zipped (``--vary-linked``); varying
one share alone gives invalid points, which are recorded as failed points, not fatal errors.

Every point uses the same root seed (the scenario's, or ``--seed``), so points are compared on
the same simulated visitors, as plans are (common random numbers), and a point's file holds
exactly what ``trackloss run SCENARIO --set ... --json`` gives, plus a ``sweep`` block.

Files are written atomically (a temporary file, then :func:`os.replace`) and checked when read
(they must parse and carry the point's key, a digest of everything that determines the result),
so an interrupted sweep -- Ctrl-C or ``kill -9`` -- loses only the points in flight, and
``resume=True`` recomputes exactly the points without a valid file.
"""

from __future__ import annotations

import hashlib
import json
import traceback
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from simulator.config.loading import ScenarioError, parse_scenario, read_scenario
from simulator.experiments.grid import Axis, grid
from simulator.experiments.sweep_points import PointRecord, SweepReport, summary_csv
from simulator.replications.executors import (
    Executor,
    OptionError,
    check_options,
    outcomes,
)
from simulator.replications.files import write_text_atomic
from simulator.replications.progress import progress_bar
from simulator.replications.result import with_overrides
from simulator.replications.runner import assemble, plan_tasks, simulate_task
from simulator.version import __version__

MANIFEST = "sweep.json"
SUMMARY = "summary.csv"


LOCK = ".sweep.lock"
"""Held (``flock``) by the sweep writing into a folder; the system frees it if the process dies."""


class SweepError(Exception):
    """A sweep that cannot start: its output folder holds another sweep, or is unusable."""


@contextmanager
def folder_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir``'s lock while a sweep checks the folder and writes into it.

    Two sweeps started on one folder could otherwise both find it free (or both resume) and
    overwrite each other's points. The lock is an advisory ``flock`` on :data:`LOCK`: the
    system releases it when the holder exits, even after ``kill -9``, so a killed sweep never
    blocks its own ``--resume``. Where ``flock`` does not exist (Windows) there is no lock.

    Raises
    ------
    SweepError
        If another process holds the lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks in the standard library
        yield
        return
    with open(out_dir / LOCK, "a", encoding="utf-8") as handle:  # stays empty: no new bytes
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SweepError(
                f"{out_dir} is in use by another sweep running now; wait for it to finish, "
                "or choose another folder"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def read_point(path: Path, key: str) -> dict | None:
    """Read a point file, or return ``None`` unless it is a complete record of this point.

    Parameters
    ----------
    path : pathlib.Path
        The point's result or error file.
    key : str
        The key the point must carry (see :func:`point_key`).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("sweep"), dict):
        return None
    if data["sweep"].get("key") != key or not ("results" in data or "error" in data):
        return None
    return data


def point_key(raw: dict, overrides: Sequence[str], extra: dict) -> str:
    """Digest of everything that determines a point's result (hex SHA-256).

    Parameters
    ----------
    raw : dict
        The scenario file as read (before overrides).
    overrides : sequence of str
        The ``--set`` overrides, then the point's own.
    extra : dict
        Run options that change results: replications, seed, shards.
    """
    blob = {"version": __version__, "scenario": raw, "overrides": list(overrides), **extra}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()


def _error_record(record: PointRecord, error: BaseException) -> dict:
    if isinstance(error, ScenarioError):
        detail = {
            "type": "ScenarioError",
            "message": "invalid scenario",
            "problems": error.problems,
        }
    else:
        detail = {
            "type": type(error).__name__,
            "message": str(error),
            "traceback": "".join(traceback.format_exception(error)),
        }
    return {"sweep": _sweep_block(record), "error": detail}


def _sweep_block(record: PointRecord) -> dict:
    return {
        "index": record.point.index,
        "name": record.name,
        "key": record.key,
        "point": record.point.values,
        "shards": record.tasks[-1].shard + 1 if record.tasks else None,
    }


def _same_sweep(old: dict | None, new: dict) -> bool:
    """Whether two manifests describe one sweep, whatever path named the scenario file.

    The point names already carry a digest of the file's content.
    """
    if not isinstance(old, dict):
        return False
    return {k: v for k, v in old.items() if k != "scenario"} == {
        k: v for k, v in new.items() if k != "scenario"
    }


def _prepare(out_dir: Path, manifest: dict, resume: bool) -> None:
    path = out_dir / MANIFEST
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        if not resume:
            raise SweepError(
                f"{out_dir} already holds a sweep; pass --resume to finish it, "
                "or choose another folder"
            )
        if not _same_sweep(old, json.loads(_dump(manifest))):
            raise SweepError(
                f"{out_dir} holds a different sweep (scenario, grid, seed, replications or "
                "shards differ); choose another folder"
            )
    for stale in out_dir.glob(".*.tmp"):  # temporary files of a killed run; never results
        stale.unlink(missing_ok=True)
    write_text_atomic(path, _dump(manifest))


def run_sweep(
    scenario_path: str | Path,
    axes: Sequence[Axis],
    out_dir: str | Path,
    overrides: Sequence[str] = (),
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    executor: Executor = "process",
    dask_address: str | None = None,
    shards: int | None = None,
    resume: bool = False,
    progress: bool | str = False,
) -> SweepReport:
    """Run every point of a grid and write one JSON file per point into ``out_dir``.

    Parameters
    ----------
    scenario_path : str or pathlib.Path
        The base scenario (TOML).
    axes : sequence of Axis
        The grid's axes (see :mod:`simulator.experiments.grid`).
    out_dir : str or pathlib.Path
        Folder for the point files, ``sweep.json`` (the grid) and ``summary.csv``.
    overrides : sequence of str
        ``--set`` overrides applied to every point before the point's own.
    replications, seed : int, optional
        Override the scenario's; every point uses the same root seed.
    workers, executor, dask_address, shards
        As in :func:`simulator.replications.runner.run`. All points' tasks share one pool.
    resume : bool
        Continue a sweep in ``out_dir``: points with a valid result file are not run again.
    progress : bool or "auto"
        Progress bar over tasks, with the number of finished points.

    Returns
    -------
    SweepReport
        Every point with its status and result record.

    Raises
    ------
    ScenarioError
        If the base scenario (with ``overrides``) is unreadable or invalid.
    SweepError
        If ``out_dir`` holds another sweep, or holds one and ``resume`` is false, or another
        sweep is writing into it now (see :func:`folder_lock`).
    """
    if dask_address is not None:
        executor = "dask"
    check_options(workers, executor, dask_address)
    out_dir = Path(out_dir)
    scenario_path, raw = read_scenario(scenario_path)
    base = parse_scenario(raw, overrides, source=str(scenario_path))
    options = {"replications": replications, "seed": seed, "shards": shards}
    points = grid(axes)
    width = max(3, len(str(len(points) - 1)))
    records = []
    for p in points:
        key = point_key(raw, [*overrides, *p.overrides], options)
        records.append(PointRecord(p, f"point-{p.index:0{width}d}-{p.slug}-{key[:8]}", key))
    manifest = {
        "scenario": str(scenario_path),
        "overrides": list(overrides),
        "axes": [{"paths": list(a.paths), "steps": [list(s) for s in a.steps]} for a in axes],
        **options,
        "points": [{"name": r.name, "point": r.point.values} for r in records],
    }
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SweepError(f"{out_dir}: cannot create the folder: {error.strerror}") from None
    with folder_lock(out_dir):  # checking the folder and writing into it is one step
        _prepare(out_dir, manifest, resume)
        for r in records:
            done = read_point(out_dir / f"{r.name}.json", r.key) if resume else None
            if done is not None:
                r.status, r.data = "ok", done
                continue
            try:
                sc = parse_scenario(
                    raw, [*overrides, *r.point.overrides], source=str(scenario_path)
                )
                r.scenario = with_overrides(sc, replications, seed)
                r.tasks = plan_tasks(r.scenario, shards)
            except (ScenarioError, OptionError) as error:
                _finish(out_dir, r, error=error)
        _execute(out_dir, records, workers, executor, dask_address, progress)
        report = SweepReport(out_dir, list(axes), records, base.name)
        write_text_atomic(out_dir / SUMMARY, summary_csv(report))
    return report


def _execute(
    out_dir: Path,
    records: list[PointRecord],
    workers: int | None,
    executor: Executor,
    dask_address: str | None,
    progress: bool | str,
) -> None:
    """Run the tasks of every pending point in one pool; write each point when it completes."""
    todo = [r for r in records if r.status == "pending"]
    items = [(r, j, t) for r in todo for j, t in enumerate(r.tasks)]
    if not items:  # everything done or failed validation: start no pool or cluster
        return
    got = {id(r): [None] * len(r.tasks) for r in todo}
    left = {id(r): len(r.tasks) for r in todo}
    errors: dict[int, BaseException] = {}
    finished = len(records) - len(todo)
    stream = outcomes(
        simulate_task,
        [t for _, _, t in items],
        workers=workers,
        executor=executor,
        dask_address=dask_address,
    )
    with closing(stream), progress_bar(len(items), "sweep", "task", progress) as bar:
        bar.set_postfix(points=f"{finished}/{len(records)}")
        for i, value, error in stream:
            r, j, _ = items[i]
            got[id(r)][j] = value
            if error is not None:
                errors.setdefault(id(r), error)
            left[id(r)] -= 1
            if left[id(r)] == 0:
                _finish(out_dir, r, got.pop(id(r)), errors.get(id(r)))
                finished += 1
                bar.set_postfix(points=f"{finished}/{len(records)}")
            bar.update()


def _finish(
    out_dir: Path, r: PointRecord, results: list | None = None, error: BaseException | None = None
) -> None:
    """Write a point's result file (and drop an old error file), or its error file."""
    ok_path, err_path = out_dir / f"{r.name}.json", out_dir / f"{r.name}.error.json"
    if error is not None:
        r.status, r.data = "error", _error_record(r, error)
        write_text_atomic(err_path, _dump(r.data))
        return
    from simulator.stats.summary import summarise

    data = summarise(assemble(r.scenario, r.tasks, results, 0.0))
    data["sweep"] = _sweep_block(r)
    r.status, r.data = "ok", data
    write_text_atomic(ok_path, _dump(data))
    err_path.unlink(missing_ok=True)


__all__ = [
    "LOCK",
    "PointRecord",
    "SweepError",
    "SweepReport",
    "folder_lock",
    "read_point",
    "run_sweep",
]
