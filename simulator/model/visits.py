"""Visits: sessions of page views with dwell times, and the true events each page produces.

A visit is a run of pages. Every page ends in a navigation (the old page unloads), a tab
close, or the app going to the background (mobile); the last page does not navigate. Event
types are placed on pages by their kind: a session start on the first page (and a first visit
on the first page of a visitor's first visit), page views at load, UI events uniformly or
just before a navigation (the click that navigates), funnel steps on the visit's last pages
with the order on the very last, sign-ups once per visit.

:class:`VisitBlocks` draws thousands of visits in one call: pages and events are flat arrays
indexed by visit and by page, and every variate comes from one vectorised numpy call per
segment (or per group of segments sharing a distribution) and per event type, all from the
``behaviour`` stream. tests/support/reference_visits.py holds the same model drawn visit by visit;
tests/model/test_visit_blocks.py checks that both give the same distributions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config.distributions import Distribution
from simulator.config.scenario import Scenario
from simulator.model.pages import BACKGROUND, CLOSE, NAVIGATE

# At most this many events of one type on one page (a guard against absurd rates).
POISSON_CAP = 1000


@dataclass(slots=True)
class VisitBlock:
    """Arrays describing n visits, their pages and their events.

    Attributes
    ----------
    first_page : numpy.ndarray
        int64 ``(n_visits,)``: index of the visit's first page in the page arrays.
    n_pages : numpy.ndarray
        int64 ``(n_visits,)``: pages in the visit (at least 1).
    duration : numpy.ndarray
        float64 ``(n_visits,)``: the last page's start plus its dwell.
    page_visit : numpy.ndarray
        int64 ``(n_pages,)``: visit index; a visit's pages are contiguous and in order.
    page_start : numpy.ndarray
        float64 ``(n_pages,)``: seconds since the visit began.
    page_dwell : numpy.ndarray
        float64 ``(n_pages,)``: seconds until the page ends.
    page_end : numpy.ndarray
        int8 ``(n_pages,)``: ``NAVIGATE``, ``CLOSE`` or ``BACKGROUND``
        (:mod:`simulator.model.pages`).
    event_page : numpy.ndarray
        int64 ``(n_events,)``: page index (into the page arrays).
    event_type : numpy.ndarray
        int64 ``(n_events,)``: index into ``scenario.events``.
    event_offset : numpy.ndarray
        float64 ``(n_events,)``: seconds since the page began.
    event_value : numpy.ndarray
        float64 ``(n_events,)``: order value, or 0.0 for events without one.

    Notes
    -----
    Events are not sorted, neither by page nor by offset.
    """

    first_page: np.ndarray
    n_pages: np.ndarray
    duration: np.ndarray
    page_visit: np.ndarray
    page_start: np.ndarray
    page_dwell: np.ndarray
    page_end: np.ndarray
    event_page: np.ndarray
    event_type: np.ndarray
    event_offset: np.ndarray
    event_value: np.ndarray


class _Sampler:
    """One distribution per segment, grouped so segments sharing a distribution draw together.

    Parameters
    ----------
    dists : list of Distribution
        The distribution of each segment, in segment order.
    """

    def __init__(self, dists: list[Distribution]) -> None:
        self.unique: list[Distribution] = []
        group = []
        for d in dists:
            # Equality, not hashing: an empirical distribution holds lists.
            found = next((g for g, u in enumerate(self.unique) if u == d), None)
            if found is None:
                found = len(self.unique)
                self.unique.append(d)
            group.append(found)
        self.group = np.asarray(group, dtype=np.int64)

    def sample(self, rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
        """Draw one variate for each entry of ``segment``, from that segment's distribution.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        segment : numpy.ndarray
            Segment index of each variate.

        Returns
        -------
        numpy.ndarray
            float64 array shaped like ``segment``.
        """
        if len(self.unique) == 1:
            return np.asarray(self.unique[0].sample(rng, segment.size), dtype=np.float64)
        group = self.group[segment]
        out = np.empty(segment.size, dtype=np.float64)
        for g, dist in enumerate(self.unique):
            where = np.flatnonzero(group == g)
            if where.size:
                out[where] = dist.sample(rng, where.size)
        return out


class VisitBlocks:
    """Draws blocks of visits for visitors of every segment.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    rng : numpy.random.Generator
        The ``behaviour`` stream.
    """

    def __init__(self, scenario: Scenario, rng: np.random.Generator) -> None:
        self.rng = rng
        events = scenario.events
        steps = len(scenario.funnel_events)
        behaviours = [scenario.behaviour_of(s) for s in scenario.population.segments]
        self.pages = _Sampler([b.pages_per_visit for b in behaviours])
        self.dwell = _Sampler([b.dwell_seconds for b in behaviours])
        self.gap_hours = _Sampler([b.return_gap_hours for b in behaviours])
        self.order_value = _Sampler([b.order_value for b in behaviours])
        self.time_to_unload = _Sampler([b.time_to_unload_seconds for b in behaviours])
        self.return_probability = np.array([b.return_probability for b in behaviours])
        self.p_background = np.array([b.last_page_exit.get("background", 0.0) for b in behaviours])
        self.signup_probability = np.array([b.signup_probability for b in behaviours])
        self.ui_rate = np.array([b.ui_events_per_page for b in behaviours], dtype=np.float64)
        # Step probabilities, one row per segment; a missing step can never be passed.
        self.funnel = np.zeros((len(behaviours), steps))
        for s, b in enumerate(behaviours):
            probabilities = list(b.funnel)[:steps]
            self.funnel[s, : len(probabilities)] = probabilities
        self.session_starts = [i for i, e in enumerate(events) if e.kind == "session_start"]
        self.first_visits = [i for i, e in enumerate(events) if e.kind == "first_visit"]
        self.page_views = [i for i, e in enumerate(events) if e.kind == "page_view"]
        self.per_page = [
            (i, e.resolved_timing, e.per_page)
            for i, e in enumerate(events)
            if e.kind in ("ui", "client_only")
        ]
        self.funnel_events = [
            (i, e.resolved_timing) for i, e in enumerate(events) if e.kind == "funnel"
        ]
        self.signups = [(i, e.resolved_timing) for i, e in enumerate(events) if e.kind == "signup"]
        self.has_value = [e.has_value for e in events]

    def _before_unload(self, page: np.ndarray, dwell: np.ndarray, seg: np.ndarray) -> np.ndarray:
        """Offsets of clicks that navigate: ``time_to_unload`` before the page ends, at least 0."""
        return np.maximum(0.0, dwell[page] - self.time_to_unload.sample(self.rng, seg[page]))

    def _offsets(
        self,
        timing: str,
        page: np.ndarray,
        dwell: np.ndarray,
        end: np.ndarray,
        seg: np.ndarray,
    ) -> np.ndarray:
        """Offsets of events of one ``timing`` placed on ``page``.

        ``load`` is 0; ``before_unload`` on a navigating page is ``time_to_unload`` before the
        page ends; anything else (``uniform``, or ``before_unload`` on a last page) is uniform
        over the dwell.
        """
        if timing == "load":
            return np.zeros(page.size)
        offset = self.rng.random(page.size) * dwell[page]
        if timing == "before_unload":
            navigate = np.flatnonzero(end[page] == NAVIGATE)
            offset[navigate] = self._before_unload(page[navigate], dwell, seg)
        return offset

    def _values(self, event: int, page: np.ndarray, seg: np.ndarray) -> np.ndarray:
        """Order values of ``event`` on ``page`` (zeros unless the event has a value)."""
        if self.has_value[event]:
            return self.order_value.sample(self.rng, seg[page])
        return np.zeros(page.size)

    def draw(self, segment: np.ndarray, first: np.ndarray) -> VisitBlock:
        """Draw one visit for each visitor: their segment, and whether it is their first visit.

        Parameters
        ----------
        segment : numpy.ndarray
            int ``(n_visits,)``: index of each visitor's segment in ``scenario.population``.
        first : numpy.ndarray
            bool ``(n_visits,)``: whether the visit is its visitor's first (adds ``first_visit``
            events on its first page).

        Returns
        -------
        VisitBlock
            The visits, their pages and their true events.
        """
        rng = self.rng
        segment = np.asarray(segment, dtype=np.int64)
        first = np.asarray(first, dtype=bool)
        n_visits = segment.size
        # Funnel depth: leading steps passed, each with its segment's probability.
        passed = rng.random((n_visits, self.funnel.shape[1])) < self.funnel[segment]
        reached = np.logical_and.accumulate(passed, axis=1).sum(axis=1, dtype=np.int64)
        n_pages = np.trunc(self.pages.sample(rng, segment)).astype(np.int64)
        n_pages = np.maximum(np.maximum(n_pages, reached), 1)
        first_page = np.zeros(n_visits, dtype=np.int64)
        np.cumsum(n_pages[:-1], out=first_page[1:])
        last_page = first_page + n_pages - 1
        total = int(n_pages.sum())

        page_visit = np.repeat(np.arange(n_visits, dtype=np.int64), n_pages)
        seg = segment[page_visit]  # segment of each page
        dwell = self.dwell.sample(rng, seg)
        # Start = dwell before the page within its visit: a running sum over the block, less
        # the running sum at the visit's first page.
        before = np.zeros(total + 1)
        np.cumsum(dwell, out=before[1:])
        page_start = before[:-1] - before[first_page][page_visit]
        duration = page_start[last_page] + dwell[last_page]
        end = np.full(total, NAVIGATE, dtype=np.int8)
        background = rng.random(n_visits) < self.p_background[segment]
        end[last_page] = np.where(background, BACKGROUND, CLOSE)

        pages: list[np.ndarray] = []
        types: list[np.ndarray] = []
        offsets: list[np.ndarray] = []
        values: list[np.ndarray] = []

        def add(
            event: int,
            page: np.ndarray,
            offset: np.ndarray | None = None,
            value: np.ndarray | None = None,
        ) -> None:
            pages.append(page)
            types.append(np.full(page.size, event, dtype=np.int64))
            offsets.append(np.zeros(page.size) if offset is None else offset)
            values.append(np.zeros(page.size) if value is None else value)

        all_pages = np.arange(total, dtype=np.int64)
        for i in self.session_starts:
            add(i, first_page)
        for i in self.first_visits:
            add(i, first_page[first])
        for i in self.page_views:
            add(i, all_pages)
        for i, timing, rate in self.per_page:
            rates = self.ui_rate[seg] if rate is None else np.full(total, float(rate))
            if timing == "before_unload":
                chance = np.minimum(1.0, rates)
                page = np.flatnonzero((end == NAVIGATE) & (rng.random(total) < chance))
                add(i, page, self._before_unload(page, dwell, seg))
                continue
            counts = np.minimum(rng.poisson(rates), POISSON_CAP)
            page = np.repeat(all_pages, counts)
            add(i, page, self._offsets(timing, page, dwell, end, seg))
        for step, (i, timing) in enumerate(self.funnel_events):
            visits = np.flatnonzero(reached > step)
            # Step s of a visit reaching r steps is on page n - r + s: the order on the last.
            page = last_page[visits] - reached[visits] + 1 + step
            add(i, page, self._offsets(timing, page, dwell, end, seg), self._values(i, page, seg))
        for i, timing in self.signups:
            visits = np.flatnonzero(rng.random(n_visits) < self.signup_probability[segment])
            page = first_page[visits] + rng.integers(0, n_pages[visits])
            add(i, page, self._offsets(timing, page, dwell, end, seg), self._values(i, page, seg))

        def joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)

        return VisitBlock(
            first_page=first_page,
            n_pages=n_pages,
            duration=duration,
            page_visit=page_visit,
            page_start=page_start,
            page_dwell=dwell,
            page_end=end,
            event_page=joined(pages, np.int64),
            event_type=joined(types, np.int64),
            event_offset=joined(offsets, np.float64),
            event_value=joined(values, np.float64),
        )

    def return_gaps(self, segment: np.ndarray) -> np.ndarray:
        """Seconds until each visitor's next visit; np.inf where they never return.

        Parameters
        ----------
        segment : numpy.ndarray
            int ``(n_visitors,)``: index of each visitor's segment.

        Returns
        -------
        numpy.ndarray
            float64 ``(n_visitors,)``: the gap in seconds, or ``inf``.
        """
        segment = np.asarray(segment, dtype=np.int64)
        gaps = np.full(segment.size, np.inf)
        back = np.flatnonzero(self.rng.random(segment.size) < self.return_probability[segment])
        gaps[back] = self.gap_hours.sample(self.rng, segment[back]) * 3600.0
        return gaps
