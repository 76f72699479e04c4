"""Synthetic logs with known loss: a simulated site's arrived copies, plus the truth, as Parquet.

``trackloss run ... --export-events DIR`` simulates the run's first replication again with an
:class:`EventExport` attached to the engine (the same seeds, so the same counts) and writes:

- ``copies.parquet``: one row per copy that reached the collector for the exported plan, with
  the columns ``trackloss estimate`` reads (``event_key``, ``path``, ``event``, ``time``,
  ``visitor``) and the visitor's ``device``, ``browser``, ``os``, ``country`` and ``channel``.
  Each path's first copy of an event is written; copies that arrived again (duplicates) are not,
  because the model keeps how many came, not when;
- ``truth.parquet``: one row per true event (bots excluded), with its blocker too;
- ``export.json``: the scenario, plan, seed and sampling rate.

Rows are written a row group at a time, so memory stays bounded whatever the population. With a
sampling rate below 1 only visitors whose hashed id falls below it are kept (no random numbers
are drawn, so the simulation is untouched).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.engine import Replication
from simulator.model.population import layout_of
from simulator.model.tally_buffer import POSITION, TallyBuffer
from simulator.replications.files import write_json_atomic
from simulator.replications.runner import plan_tasks

EPOCH = np.datetime64("2026-01-01T00:00:00", "ms")
"""Simulated time 0, as a calendar time (the logs carry timestamps, as real ones do)."""
ROW_GROUP = 1 << 20
"""Rows buffered before a row group is written."""
SHARD_BITS = 40
"""Visitor ids and event keys of shard ``s`` start at ``s << SHARD_BITS``."""
COPY_DIMENSIONS = ("device", "browser", "os", "country", "channel")
TRUTH_DIMENSIONS = (*COPY_DIMENSIONS, "blocker")
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def require_pyarrow() -> Any:
    """Import pyarrow, or raise ImportError naming the extra that provides it."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "event export and estimation need pyarrow: pip install 'trackloss[estimate]'"
        ) from error
    return pyarrow


def default_plan(scenario: Scenario) -> str:
    """The first plan that sends some event on both paths (dual), else the first plan."""
    for plan in scenario.plans:
        if any(plan.path_of(e) == "dual" for e in scenario.events):
            return plan.name
    return scenario.plans[0].name


def sampled(visitor: np.ndarray, rate: float) -> np.ndarray:
    """Whether each visitor id is in the sample (a hash of the id below ``rate``)."""
    if rate >= 1.0:
        return np.ones(visitor.size, bool)
    h = (visitor.astype(np.uint64) * GOLDEN) >> np.uint64(32)
    return h < np.uint64(int(rate * 2**32))


class _Table:
    """One Parquet file written a row group at a time."""

    def __init__(self, path: Path, names: tuple[str, ...]) -> None:
        self.path, self.names = path, names
        self.parts: list[dict[str, Any]] = []
        self.rows, self.total, self.writer = 0, 0, None

    def add(self, columns: dict[str, Any]) -> None:
        n = len(columns["event_key"])
        if n:
            self.parts.append(columns)
            self.rows += n
            if self.rows >= ROW_GROUP:
                self.flush()

    def flush(self) -> None:
        pa = require_pyarrow()
        if not self.parts and self.writer is not None:
            return
        cols = {}
        for name in self.names:
            pieces = [p[name] for p in self.parts]
            cols[name] = pa.concat_arrays(pieces) if pieces else pa.array([], pa.string())
        table = pa.table(cols) if self.parts else None
        if self.writer is None and table is not None:
            self.writer = pa.parquet.ParquetWriter(self.path, table.schema)
        if table is not None:
            self.writer.write_table(table)
            self.total += table.num_rows
        self.parts, self.rows = [], 0

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()


class EventExport:
    """A :class:`~simulator.model.copy_sink.CopySink` writing one plan's copies and the truth.

    Parameters
    ----------
    scenario : Scenario
        The simulated scenario.
    folder : Path
        Where ``copies.parquet`` and ``truth.parquet`` go (created if needed).
    plan : str
        The plan whose copies are written.
    sample : float
        Share of visitors kept, in (0, 1].
    """

    def __init__(self, scenario: Scenario, folder: Path, plan: str, sample: float = 1.0) -> None:
        self.pa = require_pyarrow()
        folder.mkdir(parents=True, exist_ok=True)
        names = [p.name for p in scenario.plans]
        self.plan, self.sample = names.index(plan), sample
        self.buffer = TallyBuffer(layout_of(scenario))
        layout = self.buffer.layout
        self.events = self.pa.array(layout.events, self.pa.string())
        self.dims = {
            d: (layout.cell_category(d), self.pa.array(layout.categories(d), self.pa.string()))
            for d in TRUTH_DIMENSIONS
        }
        self.copies = _Table(
            folder / "copies.parquet",
            ("event_key", "path", "event", "time", "visitor", *COPY_DIMENSIONS),
        )
        self.truths = _Table(
            folder / "truth.parquet", ("event_key", "event", "time", "visitor", *TRUTH_DIMENSIONS)
        )
        self.shard = 0

    def _columns(self, key, visitor, off, t, dims) -> dict[str, Any]:
        pa, b = self.pa, self.buffer
        keep = sampled(visitor, self.sample)
        key, visitor, off, t = key[keep], visitor[keep], off[keep], t[keep]
        unit = (off & POSITION) // b.n_measures  # offsets carry the visitor's group above
        event, cell = unit // b.n_cells, unit % b.n_cells
        shift = np.int64(self.shard) << SHARD_BITS
        ms = (np.asarray(t) * 1000.0).astype(np.int64) + EPOCH.astype(np.int64)
        out = {
            "event_key": pa.array(key + shift),
            "event": pa.DictionaryArray.from_arrays(pa.array(event.astype(np.int32)), self.events),
            "time": pa.array(ms, pa.timestamp("ms", tz="UTC")),
            "visitor": pa.array(visitor + shift),
        }
        for d in dims:
            idx, labels = self.dims[d]
            out[d] = pa.DictionaryArray.from_arrays(pa.array(idx[cell].astype(np.int32)), labels)
        return out

    def truth(self, key: np.ndarray, visitor: np.ndarray, off: np.ndarray, t: np.ndarray) -> None:
        """Write true events (see :class:`~simulator.model.copy_sink.CopySink`)."""
        self.truths.add(self._columns(key, visitor, off, t, TRUTH_DIMENSIONS))

    def arrived(self, plan, key, visitor, off, t, plans=None) -> None:
        """Write the exported plan's arrived copies (see the sink protocol)."""
        if plan < 0:
            mine = (np.asarray(plans) >> self.plan & 1).astype(bool)
            path = "client"
        elif plan == self.plan:
            mine, path = slice(None), "server"
        else:
            return
        cols = self._columns(key[mine], visitor[mine], off[mine], t[mine], COPY_DIMENSIONS)
        n = len(cols["event_key"])
        cols["path"] = self.pa.DictionaryArray.from_arrays(
            self.pa.array(np.zeros(n, np.int32)), self.pa.array([path])
        )
        self.copies.add(cols)

    def close(self) -> tuple[int, int]:
        """Write what is buffered and close the files; return (copies, true events) written."""
        self.copies.close()
        self.truths.close()
        return self.copies.total, self.truths.total


def export_events(
    scenario: Scenario,
    folder: Path,
    plan: str | None = None,
    sample: float = 1.0,
    shards: int | None = None,
) -> dict[str, Any]:
    """Simulate the scenario's first replication and write its copies and truth to ``folder``.

    Parameters
    ----------
    scenario : Scenario
        The scenario (its ``simulation.seed`` fixes the run).
    folder : Path
        The output folder.
    plan : str, optional
        The plan to export (default: :func:`default_plan`).
    sample : float
        Share of visitors kept, in (0, 1].
    shards : int, optional
        Shards per replication, as given to the run (the same cut gives the same counts).

    Returns
    -------
    dict
        What was written (also saved as ``export.json``).
    """
    plan = plan or default_plan(scenario)
    sink = EventExport(scenario, folder, plan, sample)
    tallies = []
    for task in plan_tasks(scenario, shards):
        if task.replication != 0:
            break
        sink.shard = task.shard
        tallies.append(Replication(task.scenario, task.seed, sink=sink).run()[0])
    copies, truths = sink.close()
    meta = {
        "scenario": scenario.name,
        "seed": scenario.simulation.seed,
        "replication": 0,
        "plan": plan,
        "sample": sample,
        "copies": copies,
        "true_events": truths,
        "files": ["copies.parquet", "truth.parquet"],
    }
    write_json_atomic(folder / "export.json", meta)
    meta["tallies"] = tallies
    return meta


__all__ = ["EventExport", "default_plan", "export_events", "require_pyarrow", "sampled"]
