"""Reference visits, one at a time: what :class:`VisitBlocks` is checked against.

The engine draws visits in numpy blocks (:mod:`simulator.model.visits`); this is the same
model written visit by visit, kept as the test suite's reference: both must give the same
distribution of pages, events and returns (tests/model/test_visit_blocks.py).

Event types are placed on pages by their kind: a session start on the first page (and a first
visit on the first page of a visitor's first visit), page views at load, UI events uniformly
or just before a navigation (the click that navigates), funnel steps on the visit's last pages
with the order on the very last, sign-ups once per visit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.config.scenario import Behaviour, Scenario
from simulator.model.pages import BACKGROUND, CLOSE, NAVIGATE
from simulator.model.streams import Draws, Uniforms


@dataclass(slots=True)
class VisitPage:
    """One page of a reference visit: start and dwell (seconds), how it ends, its events.

    ``events`` holds ``(offset_seconds, event_index, value)`` sorted by offset.
    """

    start: float
    dwell: float
    end: int
    events: list


class SegmentBehaviour:
    """Pre-built samplers for one segment's behaviour."""

    def __init__(self, behaviour: Behaviour, rng: np.random.Generator, funnel_steps: int) -> None:
        b = behaviour
        self.pages = Draws(b.pages_per_visit, rng)
        self.dwell = Draws(b.dwell_seconds, rng)
        self.gap_seconds = Draws(b.return_gap_hours, rng)
        self.order_value = Draws(b.order_value, rng)
        self.time_to_unload = Draws(b.time_to_unload_seconds, rng)
        self.return_probability = b.return_probability
        self.p_background = b.last_page_exit.get("background", 0.0)
        # One probability per declared funnel event (validation matches the lengths whenever
        # the scenario has funnel events; a scenario with none ignores the probabilities).
        self.funnel = list(b.funnel)[:funnel_steps]
        self.signup_probability = b.signup_probability
        self.ui_rate = b.ui_events_per_page


class VisitGenerator:
    """Makes visits for visitors of every segment.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    rng : numpy.random.Generator
        The ``behaviour`` stream.
    """

    def __init__(self, scenario: Scenario, rng: np.random.Generator) -> None:
        self.rng = rng
        self.uniform = Uniforms(rng)
        steps = len(scenario.funnel_events)
        self.segments = [
            SegmentBehaviour(scenario.behaviour_of(s), rng, steps)
            for s in scenario.population.segments
        ]
        events = scenario.events
        self.page_views = [i for i, e in enumerate(events) if e.kind == "page_view"]
        self.session_starts = [i for i, e in enumerate(events) if e.kind == "session_start"]
        self.first_visits = [i for i, e in enumerate(events) if e.kind == "first_visit"]
        self.per_page = []  # (index, timing, rate) for ui and client_only events
        for i, e in enumerate(events):
            if e.kind in ("ui", "client_only"):
                self.per_page.append((i, e.resolved_timing, e.per_page))
        self.funnel = [(i, e.resolved_timing) for i, e in enumerate(events) if e.kind == "funnel"]
        self.signups = [(i, e.resolved_timing) for i, e in enumerate(events) if e.kind == "signup"]
        self.has_value = [e.has_value for e in events]

    def _poisson(self, mean: float) -> int:
        """Poisson count by inversion on one uniform (cheap for the small means used here)."""
        if mean <= 0:
            return 0
        u = self.uniform()
        k, p = 0, math.exp(-mean)
        cdf = p
        while u > cdf and k < 1000:
            k += 1
            p *= mean / k
            cdf += p
        return k

    def _offset(self, timing: str, page: VisitPage, seg: SegmentBehaviour) -> float:
        if timing == "load":
            return 0.0
        if timing == "before_unload" and page.end == NAVIGATE:
            return max(0.0, page.dwell - seg.time_to_unload())
        return self.uniform() * page.dwell

    def visit(self, segment: int, first: bool = False) -> list[VisitPage]:
        """Draw one visit of a visitor from ``segment`` (``first``: their first visit)."""
        seg = self.segments[segment]
        u = self.uniform
        # Funnel: how far this visit goes; the order (last step) happens on the last page.
        reached = 0
        for p in seg.funnel:
            if u() >= p:
                break
            reached += 1
        n = max(int(seg.pages()), reached, 1)
        pages = []
        t = 0.0
        for k in range(n):
            dwell = seg.dwell()
            if k < n - 1:
                end = NAVIGATE
            else:
                end = BACKGROUND if u() < seg.p_background else CLOSE
            pages.append(VisitPage(t, dwell, end, []))
            t += dwell
        has_value = self.has_value
        for i in self.session_starts:
            pages[0].events.append((0.0, i, 0.0))
        if first:
            for i in self.first_visits:
                pages[0].events.append((0.0, i, 0.0))
        for page in pages:
            events = page.events
            for i in self.page_views:
                events.append((0.0, i, 0.0))
            for i, timing, rate in self.per_page:
                if timing == "before_unload":
                    chance = min(1.0, seg.ui_rate if rate is None else rate)
                    if page.end == NAVIGATE and u() < chance:
                        events.append((self._offset(timing, page, seg), i, 0.0))
                    continue
                for _ in range(self._poisson(seg.ui_rate if rate is None else rate)):
                    events.append((self._offset(timing, page, seg), i, 0.0))
        for step in range(reached):
            i, timing = self.funnel[step]
            page = pages[n - reached + step]
            value = seg.order_value() if has_value[i] else 0.0
            page.events.append((self._offset(timing, page, seg), i, value))
        for i, timing in self.signups:
            if u() < seg.signup_probability:
                page = pages[int(u() * n)]
                value = seg.order_value() if has_value[i] else 0.0
                page.events.append((self._offset(timing, page, seg), i, value))
        for page in pages:
            if len(page.events) > 1:
                page.events.sort()
        return pages

    def returns(self, segment: int) -> float | None:
        """Seconds until this visitor's next visit, or ``None`` if they never return."""
        seg = self.segments[segment]
        if self.uniform() >= seg.return_probability:
            return None
        return seg.gap_seconds() * 3600.0
