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
DIMENSIONS = ("segment", "device", "browser", "country", "channel", "blocker", "traffic")
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
            "country": self.countries,
            "channel": self.channels,
            "blocker": self.blockers,
            "traffic": self.traffic,
        }[dimension]

    def cell_category(self, dimension: str) -> np.ndarray:
        """For every cell, the index of its category in ``categories(dimension)``."""
        seg, country, channel, blocker, bot = self._cells
        if dimension in ("device", "browser"):
            labels = self.segment_device if dimension == "device" else self.segment_browser
            cats = self.categories(dimension)
            per_segment = np.array([cats.index(x) for x in labels])
            return per_segment[seg]
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
        out = {}
        for dimension in dimensions:
            idx = self.layout.cell_category(dimension)
            sums = np.zeros((len(self.layout.categories(dimension)), plans, events, measures))
            for category in range(len(sums)):
                # Summing over the outer axis adds the cells one after another in cell order:
                # the additions of np.add.at, in its order, so the bytes are the same.
                cells = by_cell[idx == category]
                if len(cells):
                    sums[category] = cells.sum(axis=0)
            out[dimension] = np.ascontiguousarray(np.moveaxis(sums, 0, 2))
        return out

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


ATTRIBUTES = ("segment", "country", "channel", "blocker", "traffic")
"""The attribute axes of a cell, in :meth:`Layout.cell` order; device and browser follow from
the segment."""
GROUP_SHIFT = 40
"""Flat offsets carry the visitor's group above this bit (far above any buffer's size)."""
POSITION = (1 << GROUP_SHIFT) - 1
GROUPED = (
    "truth",
    "delivered",
    "delivered_context",
    "duplicates",
    "bots",
    "anonymous",
    "lost_withheld",
    "value_truth",
    "value_delivered",
    "value_duplicates",
)
"""Measures kept per group: those the figures with intervals are made of (not the loss causes
or the sums of squares)."""
KEPT = np.full(len(MEASURES), -1)
KEPT[[M[m] for m in GROUPED]] = np.arange(len(GROUPED))
FLUSH_AT = 1 << 12
"""Counts added one at a time (:meth:`Counters.add`) that are noted together."""


class Counters(np.ndarray):
    """A flat counts array that also notes what was added to it, by group of visitors.

    :func:`simulator.model.outcome_counts.count` adds to the array at the offsets' positions
    (``offset & POSITION``) and hands the offsets, group bits included, to :meth:`note`, which
    adds the same amounts to small per-group totals by attribute (``grouped``): the array
    itself stays the size of the layout, and nothing grows with the run.
    """

    first: np.ndarray
    second: np.ndarray
    span: int
    n_measures: int
    single: tuple[list[int], list[float]]
    grouped: np.ndarray

    @classmethod
    def zeros(cls, size: int, layout: Layout, plans: int) -> Counters:
        """Zeroed counters for ``plans`` plans (1 for the plan-independent arrays)."""
        out = np.zeros(size).view(cls)
        n_events, n_cells, n_measures = layout.shape[1:]
        seg, country, channel, blocker, bot = layout._cells
        joint = joint_sizes(layout)
        # Per (plan, event, cell): its column in the grouped totals, in each of the two joint
        # blocks (segment x blocker x traffic, then country x channel).
        rows = np.arange(plans * n_events)[:, None] * sum(joint)
        a = (seg * len(layout.blockers) + blocker) * 2 + bot
        b = joint[0] + country * len(layout.channels) + channel
        out.first = (rows + a[None]).ravel()
        out.second = (rows + b[None]).ravel() - out.first
        out.span, out.n_measures = plans * n_events * sum(joint), n_measures
        out.single = ([], [])
        out.grouped = np.zeros(GROUPS * out.span * len(GROUPED))
        return out

    def note(self, offsets: np.ndarray, amount: np.ndarray | float) -> None:
        """Add ``amount``, already added at ``offsets``, to the totals of the offsets' groups."""
        where, measure = np.divmod(offsets & POSITION, self.n_measures)
        kept = KEPT[measure]
        use = kept >= 0
        if not use.all():
            where, kept, offsets = where[use], kept[use], offsets[use]
            amount = amount[use] if np.ndim(amount) else amount
        keys = (self.first[where] + (offsets >> GROUP_SHIFT) * self.span) * len(GROUPED) + kept
        np.add.at(self.grouped, keys, amount)
        np.add.at(self.grouped, keys + self.second[where] * len(GROUPED), amount)

    def add(self, offset: int, amount: float) -> None:
        """Add one amount at one offset (group bits included) and note it."""
        self[offset & POSITION] += amount
        offsets, amounts = self.single
        offsets.append(offset)
        amounts.append(amount)
        if len(offsets) >= FLUSH_AT:
            self.fold()

    def fold(self) -> None:
        """Note the amounts added one at a time so far (:meth:`add`)."""
        offsets, amounts = self.single
        if offsets:
            self.single = ([], [])
            self.note(np.array(offsets, dtype=np.int64), np.array(amounts))


def joint_sizes(layout: Layout) -> tuple[int, int]:
    """Sizes of the two joint attribute blocks counted per group.

    They are segment x blocker x traffic, and country x channel: every dimension's marginal
    follows from one of them.
    """
    first = len(layout.segments) * len(layout.blockers) * 2
    return first, len(layout.countries) * len(layout.channels)


class TallyBuffer:
    """Flat counters filled during a run, turned into a :class:`Tally` at the end.

    The engine adds to them many at a time (:mod:`simulator.model.outcome_counts`). Flat offsets
    are ``plan * plan_stride + (event * n_cells + cell) * n_measures + measure``, plus the
    visitor's random group (:func:`group_of`) above bit :data:`GROUP_SHIFT`: every counting
    path carries the group along without knowing of it. Counts that are the same for every
    plan are written once: the truth (every plan sees the same visitors) into ``shared``, and
    the outcome of client copies into ``client`` (the client path behaves the same whichever
    plan routes an event through it); :meth:`to_tally` adds them to the plans they belong to.
    """

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        n_plans, self.n_events, self.n_cells, self.n_measures = layout.shape
        self.plan_stride = self.n_events * self.n_cells * self.n_measures
        # np.zeros maps zeroed pages lazily: a large layout costs nothing until it is touched.
        self.data = Counters.zeros(n_plans * self.plan_stride, layout, n_plans)
        self.shared = Counters.zeros(self.plan_stride, layout, 1)
        self.client = Counters.zeros(self.plan_stride, layout, 1)

    def offset(self, event: Index, cell: Index, identity: Index | None = None) -> Index:
        """Flat offset of measure 0 for this event and cell within one plan (ints or arrays).

        ``identity`` is the index of the visitor the events belong to (the same for all of a
        visitor's events); without it the events count in group 0.
        """
        base = (event * self.n_cells + cell) * self.n_measures
        if identity is None:
            return base
        return base + (group_of(identity) << GROUP_SHIFT)

    def to_tally(self, client_routes: np.ndarray) -> Tally:
        """Freeze the buffer into a :class:`Tally` (copies the data).

        Parameters
        ----------
        client_routes : numpy.ndarray
            Boolean (plans, events): whether the plan sends the event on the client path only.
        """
        layout = self.layout
        shape = layout.shape
        arr = np.asarray(self.data).reshape(shape) + np.asarray(self.shared).reshape(shape[1:])
        client = np.asarray(self.client).reshape(shape[1:])
        arr += client_routes[:, :, None, None] * client
        for counters in (self.data, self.shared, self.client):
            counters.fold()
        joint = joint_sizes(layout)
        gshape = (GROUPS, shape[0], shape[1], sum(joint), len(GROUPED))
        grouped = self.data.grouped.reshape(gshape) + self.shared.grouped.reshape(
            (GROUPS, 1, *gshape[2:])
        )
        grouped += client_routes[None, :, :, None, None] * self.client.grouped.reshape(
            (GROUPS, 1, *gshape[2:])
        )
        full = np.zeros((*gshape[:-1], len(MEASURES)))
        full[..., [M[m] for m in GROUPED]] = grouped
        lead = full.shape[:3]
        sbt = full[:, :, :, : joint[0]].reshape(
            *lead, len(layout.segments), len(layout.blockers), 2, len(MEASURES)
        )
        cc = full[:, :, :, joint[0] :].reshape(
            *lead, len(layout.countries), len(layout.channels), len(MEASURES)
        )
        groups = {
            "segment": sbt.sum(axis=(4, 5)),
            "blocker": sbt.sum(axis=(3, 5)),
            "traffic": sbt.sum(axis=(3, 4)),
            "country": cc.sum(axis=4),
            "channel": cc.sum(axis=3),
        }
        groups["totals"] = groups["segment"].sum(axis=3)
        segments = layout.cell_category("segment")
        for dim in ("device", "browser"):
            per_segment = np.zeros(len(layout.segments), dtype=np.int64)
            per_segment[segments] = layout.cell_category(dim)
            hot = np.eye(len(layout.categories(dim)))[per_segment]  # (segments, categories)
            groups[dim] = np.einsum("gpesm,sc->gpecm", groups["segment"], hot)
        return Tally(layout, arr, groups)
