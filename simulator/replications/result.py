"""What a run returns: what the statistics read of every replication, and their merged tally.

A :class:`RunResult` is the common currency of the runner
(:func:`simulator.replications.runner.run`), the statistics, the experiments and the reports;
:func:`simulator.outputs.frames.to_frame` turns one into tidy tables. The scenario it holds records
the run's replications and root seed (:func:`with_overrides`), so a result can always be re-run.

A replication's full tally (plans x events x cells x measures, megabytes for a rich scenario) is
reduced as soon as it is complete to a :class:`ReplicationTally`: its totals and its marginal over
every dimension (all the statistics read per replication), deflated. Only the merged tally of
the whole run is kept cell by cell, so memory barely grows with the number of replications.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.tally import DIMENSIONS, Layout, Tally


class ReplicationTally:
    """One replication's counts summed over cells, and within every category of every dimension.

    It answers :meth:`totals` and :meth:`marginal` exactly as the full :class:`Tally` it was made
    from, for every measure the tally has. The arrays are kept deflated (:mod:`zlib`, lossless):
    counters are mostly zeros and whole numbers, so a replication of the baseline scenario costs
    about 8 kB instead of 190 kB as arrays, or 10 MB as the full cell grid.

    Parameters
    ----------
    layout : Layout
        The axes of the tally it summarises.
    totals : numpy.ndarray
        Shape (plans, events, measures).
    marginals : dict of str to numpy.ndarray
        For each of :data:`~simulator.model.tally.DIMENSIONS`, shape (plans, events, categories,
        measures).
    groups : dict of str to numpy.ndarray, optional
        The tally's per-group totals and marginals (:attr:`Tally.groups`), which give the
        intervals of a single replication.
    """

    __slots__ = ("_packed", "layout")

    def __init__(
        self,
        layout: Layout,
        totals: np.ndarray,
        marginals: dict[str, np.ndarray],
        groups: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.layout = layout
        arrays = [(TOTALS, totals), *marginals.items()]
        arrays += [(GROUP + k, a) for k, a in (groups or {}).items()]
        self._packed = {name: _Packed.of(a) for name, a in arrays}

    @classmethod
    def of(cls, tally: Tally) -> ReplicationTally:
        """Summarise a full tally.

        Parameters
        ----------
        tally : Tally
            One replication's tally (shards already added).

        Returns
        -------
        ReplicationTally
            Its totals and its marginal over every dimension.
        """
        marginals = tally.marginals(DIMENSIONS)
        return cls(tally.layout, tally.totals(), marginals, tally.groups)

    def totals(self) -> np.ndarray:
        """Counts summed over cells: shape (plans, events, measures); a fresh array."""
        return self._packed[TOTALS].unpack()

    def marginal(self, dimension: str) -> np.ndarray:
        """Counts summed within each category of ``dimension``; a fresh array.

        Parameters
        ----------
        dimension : str
            One of :data:`~simulator.model.tally.DIMENSIONS`.

        Returns
        -------
        numpy.ndarray
            Shape (plans, events, categories, measures).
        """
        return self._packed[dimension].unpack()

    def group_totals(self) -> np.ndarray | None:
        """:meth:`totals` of each random group of visitors (see :meth:`Tally.group_totals`)."""
        packed = self._packed.get(GROUP + "totals")
        return None if packed is None else packed.unpack()

    def group_marginal(self, dimension: str) -> np.ndarray | None:
        """:meth:`marginal` of each random group of visitors (see :meth:`Tally.group_marginal`)."""
        packed = self._packed.get(GROUP + dimension)
        return None if packed is None else packed.unpack()

    @property
    def nbytes(self) -> int:
        """Bytes held for the arrays (what a replication costs the run's memory)."""
        return sum(len(p.data) for p in self._packed.values())


TOTALS = "totals"
"""Key of the totals among a :class:`ReplicationTally`'s arrays (no dimension has this name)."""
GROUP = "group:"
"""Prefix of the keys of the per-group arrays (see :attr:`Tally.groups`)."""


@dataclass(frozen=True)
class _Packed:
    """A float array deflated losslessly: its bytes, shape and type."""

    data: bytes
    shape: tuple[int, ...]
    dtype: str

    @classmethod
    def of(cls, array: np.ndarray) -> _Packed:
        # Level 1: ~25x smaller on counters, at ~100 MB/s; higher levels gain little here.
        data = zlib.compress(np.ascontiguousarray(array).tobytes(), 1)
        return cls(data, array.shape, array.dtype.str)

    def unpack(self) -> np.ndarray:
        flat = np.frombuffer(zlib.decompress(self.data), dtype=self.dtype)
        return flat.reshape(self.shape).copy()  # writable, like the arrays a Tally returns


@dataclass
class RunResult:
    """What every replication of a scenario gave, with what produced it.

    Attributes
    ----------
    scenario : Scenario
        The scenario, with the run's replications and seed recorded.
    tallies : list of ReplicationTally
        One per replication, in replication order: totals and marginals.
    metas : list of dict
        Run counts of every replication (users, visits, events...).
    wall_seconds : float
        Elapsed time of the run.
    total : Tally or None
        All replications merged cell by cell (a sum of counts, in replication order); set by
        the runner, ``None`` for a result made by hand from some replications of a run (the
        statistics read only ``tallies``).
    extra : dict
        Run facts such as ``shards``.
    """

    scenario: Scenario
    tallies: list[ReplicationTally]
    metas: list[dict]
    wall_seconds: float
    total: Tally | None = None
    extra: dict = field(default_factory=dict)


def with_overrides(scenario: Scenario, replications: int | None, seed: int | None) -> Scenario:
    """Return the scenario with the run's replications and seed recorded in it."""
    sim = scenario.simulation.model_copy(
        update={k: v for k, v in (("replications", replications), ("seed", seed)) if v is not None}
    )
    return scenario.model_copy(update={"simulation": sim})
