"""Counters of what happened and what arrived: the only output of a replication.

A :class:`Tally` is a float array indexed by plan x event type x cell x measure, where a cell
is one combination of visitor attributes (segment, country, channel, blocker kind, human or
bot). Its size depends on the scenario, never on the number of simulated events, and two
tallies of the same layout merge by addition, so replications, shards and cluster workers
combine the same way.
"""

from __future__ import annotations

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
    """

    def __init__(self, layout: Layout, counts: np.ndarray | None = None) -> None:
        self.layout = layout
        if counts is None:
            counts = np.zeros(layout.shape)
        if counts.shape != layout.shape:
            raise ValueError(f"counts shape {counts.shape} does not match layout {layout.shape}")
        self.counts = counts

    def __add__(self, other: Tally) -> Tally:
        if other.layout != self.layout:
            raise ValueError("cannot merge tallies with different layouts")
        return Tally(self.layout, self.counts + other.counts)

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
        idx = self.layout.cell_category(dimension)
        k = len(self.layout.categories(dimension))
        out = np.zeros((self.counts.shape[0], self.counts.shape[1], k, self.counts.shape[3]))
        np.add.at(out, (slice(None), slice(None), idx), self.counts)
        return out


class TallyBuffer:
    """Flat counters filled during a run, turned into a :class:`Tally` at the end.

    The engine adds to them many at a time (:mod:`simulator.model.outcome_counts`). Flat offsets
    are ``plan * plan_stride + (event * n_cells + cell) * n_measures + measure``. Counts that
    are the same for every plan are written once: the truth (every plan sees the same
    visitors) into ``shared``, and the outcome of client copies into ``client`` (the client
    path behaves the same whichever plan routes an event through it); :meth:`to_tally` adds
    them to the plans they belong to.
    """

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        n_plans, self.n_events, self.n_cells, self.n_measures = layout.shape
        self.plan_stride = self.n_events * self.n_cells * self.n_measures
        # np.zeros maps zeroed pages lazily: a large layout costs nothing until it is touched.
        self.data = np.zeros(n_plans * self.plan_stride)
        self.shared = np.zeros(self.plan_stride)
        self.client = np.zeros(self.plan_stride)

    def offset(self, event: Index, cell: Index) -> Index:
        """Flat offset of measure 0 for this event and cell within one plan (ints or arrays)."""
        return (event * self.n_cells + cell) * self.n_measures

    def to_tally(self, client_routes: np.ndarray) -> Tally:
        """Freeze the buffer into a :class:`Tally` (copies the data).

        Parameters
        ----------
        client_routes : numpy.ndarray
            Boolean (plans, events): whether the plan sends the event on the client path only.
        """
        shape = self.layout.shape
        arr = self.data.reshape(shape) + self.shared.reshape(shape[1:])
        client = self.client.reshape(shape[1:])
        arr += client_routes[:, :, None, None] * client
        return Tally(self.layout, arr)
