"""Counting during a run: flat counters that also note every amount by group of visitors.

A :class:`TallyBuffer` holds the flat arrays the engine adds to, many counts at a time
(:mod:`simulator.model.outcome_counts`); at the end of a run it is frozen into a
:class:`~simulator.model.tally.Tally`. Every offset carries the visitor's random group
(:func:`~simulator.model.tally.group_of`) above bit :data:`GROUP_SHIFT`, and the
:class:`Counters` add each amount to small per-group totals too, whose size depends on the
layout's categories, never on the number of events.
"""

from __future__ import annotations

import numpy as np

from simulator.model.tally import (
    GROUPS,
    MEASURES,
    SEGMENT_DIMENSIONS,
    Index,
    Layout,
    M,
    Tally,
    group_of,
)

ATTRIBUTES = ("segment", "country", "channel", "blocker", "traffic")
"""The attribute axes of a cell, in :meth:`Layout.cell` order; device, browser and OS follow
from the segment."""
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
KEPT_MEASURES = [M[m] for m in GROUPED]
"""The measures of :data:`GROUPED`, by their index in :data:`MEASURES`."""
KEPT = np.full(len(MEASURES), -1)
KEPT[KEPT_MEASURES] = np.arange(len(GROUPED))
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
    group_step: int
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
        # Kept as keys into ``grouped`` (column times the measures kept), to save a product
        # per count.
        first = (rows + a[None]).ravel()
        out.first = first * len(GROUPED)
        out.second = ((rows + b[None]).ravel() - first) * len(GROUPED)
        out.span, out.n_measures = plans * n_events * sum(joint), n_measures
        out.group_step = out.span * len(GROUPED)
        out.single = ([], [])
        out.grouped = np.zeros(GROUPS * out.span * len(GROUPED))
        return out

    def note(self, offsets: np.ndarray, amount: np.ndarray | float) -> None:
        """Add ``amount``, already added at ``offsets``, to the totals of the offsets' groups."""
        # Floor division by a scalar is several times as fast as np.divmod on integers.
        position = offsets & POSITION
        where = position // self.n_measures
        measure = position - where * self.n_measures
        kept = KEPT[measure]
        use = kept >= 0
        if not use.all():
            where, kept, offsets = where[use], kept[use], offsets[use]
            amount = amount[use] if np.ndim(amount) else amount
        first, second = self._keys(where, offsets)
        self._add(first + kept, second, amount)

    def keys(self, base: np.ndarray, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where events at flat offsets ``base`` (measure 0, group bits included) are noted.

        ``position`` is ``base & POSITION``, which the caller has already. Returns each event's
        key of measure 0 in the first joint block and in the second; :meth:`note_keys` adds a
        measure to both.
        """
        first, second = self._keys(position // self.n_measures, base)
        second += first
        return first, second

    def note_keys(
        self, first: np.ndarray, second: np.ndarray, measure: int, amount: np.ndarray | float
    ) -> None:
        """Note ``amount`` of one ``measure`` at keys from :meth:`keys`, as :meth:`note` does.

        The amounts go through a view of the totals that starts at the kept measure's place, so
        no key is computed per measure.
        """
        kept = KEPT[measure]
        if kept >= 0:
            totals = self.grouped[kept:]
            np.add.at(totals, first, amount)
            np.add.at(totals, second, amount)

    def _keys(self, where: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`keys` of the cells ``where`` (offset // measures), groups from ``offsets``."""
        return self.first[where] + (offsets >> GROUP_SHIFT) * self.group_step, self.second[where]

    def _add(self, keys: np.ndarray, second: np.ndarray, amount: np.ndarray | float) -> None:
        """Add ``amount`` at ``keys`` (first block) and ``keys + second`` (second); reuses keys."""
        np.add.at(self.grouped, keys, amount)
        keys += second
        np.add.at(self.grouped, keys, amount)

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
        self.spent = False  # frozen into a tally (to_tally), which took its counts over

    def offset(
        self, event: Index, cell: Index, identity: Index | None = None, at: Index | None = None
    ) -> Index:
        """Flat offset of measure 0 for this event and cell within one plan (ints or arrays).

        ``identity`` is the index of the visitor the events belong to (the same for all of a
        visitor's events); without it the events count in group 0. With ``at``, the events'
        visitors are ``identity[at]``: each visitor's group is then found once, not once per
        event.
        """
        base = (event * self.n_cells + cell) * self.n_measures
        if identity is None:
            return base
        bits = group_of(identity) << GROUP_SHIFT
        return base + (bits if at is None else bits[at])

    def to_tally(self, client_routes: np.ndarray) -> Tally:
        """Freeze the buffer into a :class:`Tally`; the buffer is spent (count nothing more).

        The tally takes the plans' counts over without a copy, and the counts shared by every
        plan are added only to the (event, cell) rows they touch: most of a large layout is
        never touched, and a pass over all of it costs what a small run's counting does.

        Parameters
        ----------
        client_routes : numpy.ndarray
            Boolean (plans, events): whether the plan sends the event on the client path only.
        """
        if self.spent:
            raise RuntimeError("a tally buffer is frozen once: its counts now belong to the tally")
        self.spent = True
        layout = self.layout
        shape = layout.shape
        # The plain array the counters view (made by Counters.zeros), so that the tally does not
        # keep the counters' group totals alive.
        arr = self.data.base.reshape(shape)
        per_row = (shape[0], shape[1] * shape[2], shape[3])
        shared = np.asarray(self.shared).reshape(per_row[1:])
        touched = np.flatnonzero(shared.any(axis=1))
        arr.reshape(per_row)[:, touched] += shared[touched]
        client = np.asarray(self.client).reshape(shape[1:])
        # Only the (plan, event) pairs on the client path take its counts: added in place, with
        # no product the size of the whole layout.
        takes = list(zip(*np.nonzero(client_routes), strict=True))
        client_touched = client.any(axis=2)
        for plan, event in takes:
            cells = np.flatnonzero(client_touched[event])
            arr[plan, event, cells] += client[event, cells]
        for counters in (self.data, self.shared, self.client):
            counters.fold()
        joint = joint_sizes(layout)
        gshape = (GROUPS, shape[0], shape[1], sum(joint), len(GROUPED))
        grouped = self.data.grouped.reshape(gshape) + self.shared.grouped.reshape(
            (GROUPS, 1, *gshape[2:])
        )
        client_grouped = self.client.grouped.reshape((GROUPS, *gshape[2:]))
        for plan, event in takes:
            grouped[:, plan, event] += client_grouped[:, event]
        lead = gshape[:3]
        sbt = grouped[:, :, :, : joint[0]].reshape(
            *lead, len(layout.segments), len(layout.blockers), 2, len(GROUPED)
        )
        cc = grouped[:, :, :, joint[0] :].reshape(
            *lead, len(layout.countries), len(layout.channels), len(GROUPED)
        )
        kept = {
            "segment": sbt.sum(axis=(4, 5)),
            "blocker": sbt.sum(axis=(3, 5)),
            "traffic": sbt.sum(axis=(3, 4)),
            "country": cc.sum(axis=4),
            "channel": cc.sum(axis=3),
        }
        kept["totals"] = kept["segment"].sum(axis=3)
        for dim in SEGMENT_DIMENSIONS:  # each segment's counts go to its category
            hot = np.eye(len(layout.categories(dim)))[layout.segment_category(dim)]
            kept[dim] = np.einsum("gpesm,sc->gpecm", kept["segment"], hot)
        # Summed over the kept measures only, then laid out with every measure (the others 0).
        groups = {}
        for name, sums in kept.items():
            groups[name] = np.zeros((*sums.shape[:-1], len(MEASURES)))
            groups[name][..., KEPT_MEASURES] = sums
        return Tally(layout, arr, groups)
