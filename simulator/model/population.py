"""Visitors: attributes drawn per segment in vectorised blocks, and their arrival times.

Each human visitor gets a segment (device, browser and operating system), a country, an
acquisition channel and a blocker kind. Which filter lists the blocker runs, and so what it
does to each request class, is drawn once per visitor (simulator/model/filter_engine.py), so a
visitor whose blocker blocks the vendor's domain loses every page's events, as in reality.
Blocker adoption differs by segment and so may behaviour: that correlation turns loss into bias.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.filter_engine import blocking_table
from simulator.model.tally import Layout

ANALYTICS_OPT_OUT = ("extension_privacy", "browser_builtin", "dns")
"""Blocker kinds whose lists target analytics: their users have said no to tracking."""


class Visitor:
    """One human visitor (or bot) and the state the simulation keeps for them."""

    __slots__ = (
        "index",
        "segment",
        "cell",
        "instance",
        "javascript",
        "blocked",
        "blocked_ads",
        "blocked_beacon",
        "opted_out",
        "context_forwarded",
        "handler_p",
        "keepalive",
        "store",
        "active_day",
    )

    def __init__(self) -> None:
        self.store: list = []
        self.active_day = -1

    @classmethod
    def make(
        cls,
        *,
        handler_p: float = 1.0,
        keepalive: bool = True,
        javascript: bool = True,
        blocked: bool = False,
        blocked_ads: bool = False,
        blocked_beacon: bool = False,
        opted_out: bool = False,
        cell: int = 0,
        segment: int = 0,
        instance: int = 0,
    ) -> Visitor:
        """Build one visitor by hand (to drive the client path on synthetic pages).

        Parameters
        ----------
        handler_p : float
            Probability that the page-hide handler runs.
        keepalive : bool
            The browser honours fetch keepalive (else such a request is a plain fetch).
        javascript, blocked, blocked_ads, blocked_beacon, opted_out : bool
            JavaScript on; the blocker blocks analytics, ads, ``sendBeacon``; opted out.
        cell, segment, instance : int
            Tally cell, segment and server instance indices.

        Returns
        -------
        Visitor
        """
        v = cls()
        v.index, v.segment, v.cell, v.instance = 0, segment, cell, instance
        v.javascript = javascript
        v.blocked, v.blocked_ads, v.blocked_beacon = blocked, blocked_ads, blocked_beacon
        v.opted_out = opted_out
        v.context_forwarded = javascript
        v.handler_p = handler_p
        v.keepalive = keepalive
        return v


@dataclass(slots=True)
class VisitorColumns:
    """Visitors as parallel arrays, one entry per visitor (see :class:`Visitor`)."""

    index: np.ndarray
    segment: np.ndarray
    cell: np.ndarray
    instance: np.ndarray
    javascript: np.ndarray
    blocked: np.ndarray
    blocked_ads: np.ndarray
    blocked_beacon: np.ndarray
    opted_out: np.ndarray
    context_forwarded: np.ndarray
    handler_p: np.ndarray
    keepalive: np.ndarray
    blocker: np.ndarray  # blocker kind (layout index)
    lists_u: np.ndarray  # the uniform that picks which of its kind's lists the blocker runs

    def take(self, rows: np.ndarray) -> VisitorColumns:
        """The visitors at ``rows`` (an index or boolean array)."""
        return VisitorColumns(*(getattr(self, f)[rows] for f in self.__slots__))

    @staticmethod
    def concat(parts: list[VisitorColumns]) -> VisitorColumns:
        """Stack several column sets into one."""
        return VisitorColumns(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in VisitorColumns.__slots__)
        )


def layout_of(scenario: Scenario) -> Layout:
    """Build the tally layout (plans, events, categories) of a scenario."""
    pop = scenario.population
    countries = sorted({c for s in pop.segments for c in s.countries})
    return Layout(
        plans=tuple(p.name for p in scenario.plans),
        events=tuple(e.name for e in scenario.events),
        segments=tuple(s.name for s in pop.segments),
        segment_device=tuple(s.device for s in pop.segments),
        segment_browser=tuple(s.browser for s in pop.segments),
        segment_os=tuple(s.operating_system for s in pop.segments),
        countries=tuple(countries),
        channels=tuple(pop.channels),
        blockers=("none", "extension_default", "extension_privacy", "browser_builtin", "dns"),
    )


def arrival_blocks(
    n: int, horizon: float, rng: np.random.Generator, block: int = 4096
) -> Iterator[np.ndarray]:
    """Yield ``n`` sorted uniform arrival times on ``[0, horizon)``, ``block`` at a time.

    Uses the sequential construction of uniform order statistics: given the ``k``-th smallest
    ``x``, the next is ``x + (1 - x) * (1 - U ** (1 / (n - k)))``. Computed in log space per
    block, so memory does not grow with ``n``.
    """
    log_rest = 0.0  # log(1 - x_k)
    done = 0
    while done < n:
        m = min(block, n - done)
        remaining = n - done - np.arange(m)
        steps = np.log(rng.random(m)) / remaining
        logs = log_rest + np.cumsum(steps)
        log_rest = float(logs[-1])
        yield -np.expm1(logs) * horizon
        done += m


def arrival_times(
    n: int, horizon: float, rng: np.random.Generator, block: int = 4096
) -> Iterator[float]:
    """The times of :func:`arrival_blocks` one by one, as Python floats."""
    for times in arrival_blocks(n, horizon, rng, block):
        yield from times.tolist()


class PopulationSampler:
    """Draws visitors block by block.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    layout : Layout
        The tally layout (gives category indices).
    rng : numpy.random.Generator
        The ``population`` stream.
    blocking_rng : numpy.random.Generator
        The ``blocking`` stream (what each visitor's blocker blocks).
    """

    def __init__(
        self,
        scenario: Scenario,
        layout: Layout,
        rng: np.random.Generator,
        blocking_rng: np.random.Generator,
    ) -> None:
        self.scenario = scenario
        self.layout = layout
        self.rng = rng
        self.blocking_rng = blocking_rng
        pop = scenario.population
        self.segment_p = np.array([s.share for s in pop.segments])
        # Per segment, (country index, blocker categories, shares) for countries with their own mix.
        self.country_blockers = [
            [
                (
                    layout_index(layout.countries, country),
                    np.array([layout_index(layout.blockers, k) for k in mix]),
                    np.array(list(mix.values())),
                )
                for country, mix in seg.blockers_by_country.items()
            ]
            for seg in pop.segments
        ]
        self.mixes = []
        for seg in pop.segments:
            self.mixes.append(
                tuple(
                    (np.array([layout_index(cats, k) for k in mix]), np.array(list(mix.values())))
                    for cats, mix in (
                        (layout.countries, seg.countries),
                        (layout.channels, seg.channels),
                        (layout.blockers, seg.blockers),
                    )
                )
            )
        client = scenario.client
        self.blocking = blocking_table(client, layout.blockers)
        self.opt_out_kind = np.array([b in ANALYTICS_OPT_OUT for b in layout.blockers])
        self.handler_p = [
            client.handler_fire_probability(s.device, s.browser) for s in pop.segments
        ]
        self.no_keepalive = np.array([s.share_without_keepalive() for s in pop.segments])
        self.instances = scenario.server.instances
        self.next_index = 0

    def _segments(
        self, n: int, rng: np.random.Generator, mixes: int
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Draw ``n`` visitors' segments, then their first ``mixes`` mixes segment by segment.

        The mixes are country, channel and blocker, in that order.
        """
        seg = rng.choice(len(self.segment_p), size=n, p=self.segment_p)
        out = [np.empty(n, dtype=np.int64) for _ in range(mixes)]
        for s, segment_mixes in enumerate(self.mixes):
            idx = np.flatnonzero(seg == s)
            for column, (cats, p) in zip(out, segment_mixes[:mixes], strict=True):
                column[idx] = cats[rng.choice(len(p), size=idx.size, p=p)]
            if mixes == 3:  # a country's own blocker mix replaces the segment's for its visitors
                for country, cats, p in self.country_blockers[s]:
                    sub = idx[out[0][idx] == country]
                    out[2][sub] = cats[rng.choice(len(p), size=sub.size, p=p)]
        return seg, out

    def columns(self, n: int) -> VisitorColumns:
        """Draw ``n`` human visitors as arrays (the engine's form)."""
        rng, brng = self.rng, self.blocking_rng
        seg, (country, channel, blocker) = self._segments(n, rng, 3)
        js = rng.random(n) >= self.scenario.population.javascript_disabled
        u = brng.random((2, n))
        # Which of its kind's list combinations each visitor's blocker runs, and so what it
        # blocks (columns of simulator.model.filter_engine.COLUMNS).
        blocked, ads, beacon, forward_blocked, vendor = self.blocking.draw(blocker, u[0]).T
        # A visitor has opted out when their blocker targets analytics and would block the
        # vendor's domain: the choice is theirs whatever destination the site uses.
        opted_out = self.opt_out_kind[blocker] & vendor
        instance = rng.integers(0, self.instances, size=n)
        out = self._columns(
            seg, country, channel, blocker, js, blocked, ads, beacon, ~forward_blocked,
            opted_out, instance, bot=False,
        )  # fmt: skip
        out.keepalive = u[1] >= self.no_keepalive[seg]  # the browser version honours keepalive
        out.blocker, out.lists_u = blocker, u[0]
        return out

    def bot_columns(self, n: int, rng: np.random.Generator) -> VisitorColumns:
        """Draw ``n`` bots as arrays (no JavaScript, no blocker, direct traffic)."""
        seg, (country,) = self._segments(n, rng, 1)
        zeros = np.zeros(n, dtype=np.int64)
        direct = self.layout.channels.index("direct") if "direct" in self.layout.channels else 0
        false = np.zeros(n, dtype=bool)
        instance = rng.integers(0, self.instances, size=n)
        return self._columns(
            seg, country, zeros + direct, zeros, false, false, false, false, false, false,
            instance, bot=True,
        )  # fmt: skip

    def draw(self, n: int) -> list[Visitor]:
        """Draw ``n`` human visitors."""
        return self._visitors(self.columns(n))

    def draw_bots(self, n: int, rng: np.random.Generator) -> list[Visitor]:
        """Draw ``n`` bot visitors (no JavaScript, no blocker, direct traffic)."""
        return self._visitors(self.bot_columns(n, rng))

    def _columns(
        self, seg, country, channel, blocker, js, blocked, ads, beacon, forwarded, opted_out,
        instance, bot: bool,
    ) -> VisitorColumns:  # fmt: skip
        cell = self.layout.cell(seg, country, channel, blocker, int(bot))  # works on arrays
        n = seg.size
        first = self.next_index
        self.next_index += n
        return VisitorColumns(
            index=np.arange(first, first + n, dtype=np.int64),
            segment=seg,
            cell=cell,
            instance=instance,
            javascript=js,
            blocked=blocked,
            blocked_ads=ads,
            blocked_beacon=beacon,
            opted_out=opted_out,
            context_forwarded=js & forwarded,
            handler_p=np.asarray(self.handler_p)[seg],
            keepalive=np.ones(n, dtype=bool),
            blocker=blocker,
            lists_u=np.zeros(n),
        )

    def _visitors(self, c: VisitorColumns) -> list[Visitor]:
        out = []
        for row in zip(
            c.index.tolist(),
            c.segment.tolist(),
            c.cell.tolist(),
            c.instance.tolist(),
            c.javascript.tolist(),
            c.blocked.tolist(),
            c.blocked_ads.tolist(),
            c.blocked_beacon.tolist(),
            c.opted_out.tolist(),
            c.context_forwarded.tolist(),
            c.handler_p.tolist(),
            c.keepalive.tolist(),
            strict=True,
        ):
            v = Visitor()
            (v.index, v.segment, v.cell, v.instance, v.javascript, v.blocked, v.blocked_ads,
             v.blocked_beacon, v.opted_out, v.context_forwarded, v.handler_p,
             v.keepalive) = row  # fmt: skip
            out.append(v)
        return out


def layout_index(categories: tuple[str, ...], key: str) -> int:
    """Index of ``key`` in a layout's category tuple."""
    return categories.index(key)
