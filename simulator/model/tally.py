"""Counters of what happened and what arrived: the only output of a replication.

A :class:`Tally` is a float array indexed by plan x event type x cell x measure, where a cell
is one combination of visitor attributes (segment, country, channel, blocker kind, human or
bot). Its size depends on the scenario, never on the number of simulated events, and two
tallies of the same layout merge by addition, so replications, shards and cluster workers
combine the same way.

Every visitor also belongs to one of :data:`GROUPS` random groups, a fixed hash of the
visitor's index (no random draw, so counts do not depend on it). A tally keeps, beside its
counts, the totals and the marginals of every group: visitors are independent of each other
while a visitor's events are not, so the spread between groups measures the sampling error of
one replication honestly (:mod:`simulator.stats.intervals`). Their size depends on the layout's
categories, not on its cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

CAUSES = (
    "blocked",
    "unload",
    "network",
    "queue_full",
    "retries_exhausted",
    "process_exit",
    "never_returned",
    "no_javascript",
    "withheld",
)
"""Why a true event never arrived; ``withheld`` means the plan respected the user's opt-out."""

CHOICE_CAUSES = ("withheld",)
"""Loss causes that are the visitor's choice, respected by the plan."""
FAULT_CAUSES = tuple(c for c in CAUSES if c not in CHOICE_CAUSES)
"""Loss causes that are failures of the tracking, whatever the plan's mode."""

MEASURES = (
    "truth",
    "delivered",
    "delivered_context",
    "duplicates",
    "bots",
    *(f"lost_{c}" for c in CAUSES),
    "pending",
    "anonymous",
    "value_truth",
    "value_delivered",
    "value_duplicates",
    "value_sq_truth",
    "value_sq_delivered",
)
"""Per-cell counters. ``delivered`` counts distinct true events that arrived at least once;
``duplicates`` extra copies the collector kept; ``bots`` bot events it kept; ``pending`` true
events still in a queue or store when the run ended; ``anonymous`` opted-out events counted
without identity; ``value_*`` sums (and sums of squares) of event values."""

M = {name: i for i, name in enumerate(MEASURES)}
Index = int | np.ndarray
"""An index, or an integer array of them (layout arithmetic works on both)."""
DIMENSIONS = (
    "segment", "device", "browser", "os", "country", "channel", "blocker", "traffic",
)  # fmt: skip
SEGMENT_DIMENSIONS = ("device", "browser", "os")
"""Dimensions that follow from the segment: a segment has one device, browser and OS."""
GROUPS = 10
"""Random groups of visitors counted apart; intervals of one replication have GROUPS - 1
degrees of freedom. More groups narrow those intervals a little and cost memory: the run's
counting buffer holds a copy of the counts per group."""
_GOLDEN = 0x9E3779B97F4A7C15


def group_of(identity: Index) -> Index:
    """The group of a visitor (or of any counted identity): a fixed hash, no random draw.

    Parameters
    ----------
    identity : int or numpy.ndarray
        Non-negative visitor indices.

    Returns
    -------
    int or numpy.ndarray
        Group indices in ``0 .. GROUPS - 1``; consecutive indices are spread over the groups
        (Fibonacci hashing, §8 of docs/sources.md), so shards by user ranges keep the groups even.
    """
    mixed = (np.asarray(identity, dtype=np.uint64) * np.uint64(_GOLDEN)) >> np.uint64(32)
    out = (mixed % np.uint64(GROUPS)).astype(np.int64)
    return int(out) if np.ndim(out) == 0 else out


@dataclass(frozen=True)
class Layout:
    """The axes of a tally: plans, event types and the categories of every dimension."""

    plans: tuple[str, ...]
    events: tuple[str, ...]
    segments: tuple[str, ...]
    segment_device: tuple[str, ...]
    segment_browser: tuple[str, ...]
    segment_os: tuple[str, ...]
    countries: tuple[str, ...]
    channels: tuple[str, ...]
    blockers: tuple[str, ...]
    traffic: tuple[str, ...] = ("human", "bot")
    _cells: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grid = np.indices(
            (len(self.segments), len(self.countries), len(self.channels), len(self.blockers), 2)
        ).reshape(5, -1)
        object.__setattr__(self, "_cells", grid)

    @property
    def n_cells(self) -> int:
        """Number of attribute combinations."""
        return self._cells.shape[1]

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """Shape of the counts array: plans, events, cells, measures."""
        return (len(self.plans), len(self.events), self.n_cells, len(MEASURES))

    def cell(
        self, segment: Index, country: Index, channel: Index, blocker: Index, bot: Index
    ) -> Index:
        """Index of the cell with these attribute indices (ints, or numpy arrays of them)."""
        nc, nch, nb = len(self.countries), len(self.channels), len(self.blockers)
        return (((segment * nc + country) * nch + channel) * nb + blocker) * 2 + bot

    def categories(self, dimension: str) -> tuple[str, ...]:
        """Category labels of ``dimension`` (one of :data:`DIMENSIONS`)."""
        return {
            "segment": self.segments,
            "device": tuple(sorted(set(self.segment_device))),
            "browser": tuple(sorted(set(self.segment_browser))),
            "os": tuple(sorted(set(self.segment_os))),
            "country": self.countries,
            "channel": self.channels,
            "blocker": self.blockers,
            "traffic": self.traffic,
        }[dimension]

    def segment_category(self, dimension: str) -> np.ndarray:
        """For every segment, the index of its category of ``dimension`` (device, browser, os)."""
        labels = getattr(self, f"segment_{dimension}")
        cats = self.categories(dimension)
        return np.array([cats.index(x) for x in labels], dtype=np.int64)

    def cell_category(self, dimension: str) -> np.ndarray:
        """For every cell, the index of its category in ``categories(dimension)``."""
        seg, country, channel, blocker, bot = self._cells
        if dimension in SEGMENT_DIMENSIONS:
            return self.segment_category(dimension)[seg]
        return {
            "segment": seg,
            "country": country,
            "channel": channel,
            "blocker": blocker,
            "traffic": bot,
        }[dimension]


class Tally:
    """Counts for one replication (or the sum of several).

    Parameters
    ----------
    layout : Layout
        The axes.
    counts : numpy.ndarray, optional
        Existing counts of shape ``layout.shape``; zeros when omitted.
    groups : dict of numpy.ndarray, optional
        The same counts per random group of visitors: ``"totals"`` of shape ``(GROUPS,
        plans, events, measures)`` and, per dimension, marginals of shape ``(GROUPS, plans,
        events, categories, measures)``. ``None`` when the counts were not kept by group.
    """

    def __init__(
        self,
        layout: Layout,
        counts: np.ndarray | None = None,
        groups: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.layout = layout
        if counts is None:
            counts = np.zeros(layout.shape)
        if counts.shape != layout.shape:
            raise ValueError(f"counts shape {counts.shape} does not match layout {layout.shape}")
        self.counts = counts
        self.groups = groups

    def __reduce__(self) -> tuple:
        """Pickle the counts by their nonzero entries, as a worker hands its tally back.

        Most cells of a layout never see an event (a replication of the baseline at 100k
        users fills 4% of its 10 MB of counts), and a worker's result travels through a pipe
        to the parent, or over the network to a Dask client, while the worker waits: the
        nonzero entries and their positions are about a twentieth of the bytes. Entries are
        kept by their bit patterns, so the unpickled tally is the same to the last bit
        (negative zeros and NaN included).
        """
        groups = None if self.groups is None else {k: _sparse(v) for k, v in self.groups.items()}
        return _from_sparse, (self.layout, _sparse(self.counts), groups)

    def __add__(self, other: Tally) -> Tally:
        if other.layout != self.layout:
            raise ValueError("cannot merge tallies with different layouts")
        groups = None
        if self.groups is not None and other.groups is not None:
            groups = {k: v + other.groups[k] for k, v in self.groups.items()}
        return Tally(self.layout, self.counts + other.counts, groups)

    def totals(self) -> np.ndarray:
        """Counts summed over cells: shape (plans, events, measures)."""
        return self.counts.sum(axis=2)

    def marginal(self, dimension: str) -> np.ndarray:
        """Counts summed within each category of ``dimension``.

        Returns
        -------
        numpy.ndarray
            Shape (plans, events, categories, measures).
        """
        return self.marginals((dimension,))[dimension]

    def marginals(self, dimensions: Sequence[str]) -> dict[str, np.ndarray]:
        """:meth:`marginal` of several dimensions, reading the counts once.

        Parameters
        ----------
        dimensions : sequence of str
            Dimensions of the layout.

        Returns
        -------
        dict of str to numpy.ndarray
            Each of shape (plans, events, categories, measures).
        """
        plans, events, _, measures = self.counts.shape
        by_cell = np.ascontiguousarray(np.moveaxis(self.counts, 2, 0))
        # Device, browser and OS add up whole segments: read the cells once, for the segments.
        derived = [d for d in dimensions if d in SEGMENT_DIMENSIONS]
        read = [d for d in dimensions if d not in SEGMENT_DIMENSIONS]
        if derived and "segment" not in read:
            read.append("segment")
        by_category = {}  # dimension -> (categories, plans, events, measures)
        for dimension in read:
            idx = self.layout.cell_category(dimension)
            sums = np.zeros((len(self.layout.categories(dimension)), plans, events, measures))
            for category in range(len(sums)):
                # Summing over the outer axis adds the cells one after another in cell order:
                # the additions of np.add.at, in its order, so the bytes are the same.
                cells = by_cell[idx == category]
                if len(cells):
                    sums[category] = cells.sum(axis=0)
            by_category[dimension] = sums
        for dimension in derived:
            sums = np.zeros((len(self.layout.categories(dimension)), plans, events, measures))
            for segment, category in enumerate(self.layout.segment_category(dimension)):
                sums[category] += by_category["segment"][segment]
            by_category[dimension] = sums
        return {d: np.ascontiguousarray(np.moveaxis(by_category[d], 0, 2)) for d in dimensions}

    def group_totals(self) -> np.ndarray | None:
        """:meth:`totals` of each random group of visitors.

        Returns
        -------
        numpy.ndarray or None
            Shape (GROUPS, plans, events, measures), summing to :meth:`totals` for the
            measures in :data:`GROUPED` (the others are zero); ``None`` when not kept.
        """
        return None if self.groups is None else self.groups["totals"]

    def group_marginal(self, dimension: str) -> np.ndarray | None:
        """:meth:`marginal` of each random group.

        Returns
        -------
        numpy.ndarray or None
            Shape (GROUPS, plans, events, categories, measures), measures as in
            :meth:`group_totals`; ``None`` when not kept.
        """
        return None if self.groups is None else self.groups[dimension]


def _sparse(array: np.ndarray) -> tuple:
    """An array as its shape, dtype, flat positions of nonzero bit patterns and their values."""
    flat = np.ascontiguousarray(array).reshape(-1)
    where = np.flatnonzero(flat.view(np.dtype(f"u{flat.itemsize}")))
    index = np.uint32 if flat.size <= np.iinfo(np.uint32).max else np.int64
    return array.shape, array.dtype, where.astype(index), flat[where]


def _dense(
    shape: tuple[int, ...], dtype: np.dtype, where: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """The array :func:`_sparse` describes."""
    out = np.zeros(shape, dtype)
    out.reshape(-1)[where] = values
    return out


def _from_sparse(layout: Layout, counts: tuple, groups: dict[str, tuple] | None) -> Tally:
    """Unpickle a :class:`Tally` (see :meth:`Tally.__reduce__`)."""
    dense = None if groups is None else {k: _dense(*v) for k, v in groups.items()}
    return Tally(layout, _dense(*counts), dense)
