"""One replication = one simpy Environment; a run = replications on spawned seeds.

Processes: an arrival process that brings visitors in over the horizon (their attributes drawn
in vectorised blocks), a bot process, one nightly process per offsite job, and the server path's
drain process; a returning visitor waits on a timeout whose callback starts the next visit. A
visit is handled in a single step: its pages and events are drawn, every true event is counted
(once: all plans see the same truth), client copies are settled page by page by
:class:`~simulator.client.ClientPath`, and server copies are handed to the plan's server
instances with their timestamps.

Every plan observes the same visitors, pages and client fates (common random numbers); only the
server pipelines are per plan, because each plan loads its servers differently.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from functools import partial

import numpy as np
import simpy

from simulator import client_fates
from simulator.block_engine import BlockReplication
from simulator.client import ClientPath
from simulator.collector import (
    ANONYMOUS,
    LOST,
    TRUTH,
    VALUE_SQ_TRUTH,
    VALUE_TRUTH,
    Collector,
    Message,
)
from simulator.population import PopulationSampler, Visitor, arrival_times, layout_of
from simulator.routing import EventRouting, routing, shared_client_routes
from simulator.run_result import RunResult
from simulator.scenario import Scenario
from simulator.server import BOT, DUAL, SERVER, Outages, ServerPath
from simulator.streams import Draws, Streams, Uniforms
from simulator.tally import Tally, TallyBuffer
from simulator.visits import VisitGenerator

DAY = 86400.0
BOT_PAGE_SECONDS = 2.0  # assumption: bots fetch pages in quick succession
WITHHELD = LOST["withheld"]


class Replication:
    """Builds and runs one replication.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    seed : numpy.random.SeedSequence
        This replication's seed sequence.
    client_log : callable, optional
        Passed to :class:`~simulator.client.ClientPath` (exact-log tests).
    """

    def __init__(self, scenario: Scenario, seed: np.random.SeedSequence, client_log=None) -> None:
        self.scenario = scenario
        self.layout = layout_of(scenario)
        self.streams = streams = Streams(seed)
        self.horizon = scenario.simulation.horizon_hours * 3600.0
        self.end = self.horizon + scenario.simulation.drain_hours * 3600.0
        self.env = simpy.Environment()
        self.buffer = TallyBuffer(self.layout)
        col = scenario.collector
        self.collector = Collector(self.buffer, col.dedupe, col.dedupe_window_hours * 3600.0)
        self.outages = Outages(col, self.end, streams.rng("outages"))
        self.server = ServerPath(
            self.env,
            scenario.server,
            len(scenario.plans),
            self.collector,
            self.outages,
            streams.rng("server"),
            self.end,
        )
        self.client = ClientPath(scenario, self.collector, self.outages, streams, client_log)
        self.population = PopulationSampler(
            scenario, self.layout, streams.rng("population"), streams.rng("blocking")
        )
        self.visits = VisitGenerator(scenario, streams.rng("behaviour"))
        self.routes = routing(scenario)
        self.event_offsets = [self.buffer.offset(e, 0) for e in range(len(scenario.events))]
        self.client_routes = shared_client_routes(scenario)
        self.active: dict[int, dict[tuple[int, bool], int]] = {}  # day -> (cell, opted out)
        self.counts = {
            "users": 0,
            "visits": 0,
            "pages": 0,
            "events": 0,
            "bot_visits": 0,
            "offsite_events": 0,
        }

    # -- visitors ---------------------------------------------------------------------
    def _arrivals(self):
        env, pop = self.env, self.population
        n = self.scenario.population.users
        block: list[Visitor] = []
        for t in arrival_times(n, self.horizon, self.streams.rng("arrivals")):
            if not block:
                block = pop.draw(min(4096, n - self.counts["users"]))
                block.reverse()
            v = block.pop()
            self.counts["users"] += 1
            if t > env.now:
                yield env.timeout(t - env.now)
            self._visit_and_return(v)

    def _visit_and_return(self, v: Visitor) -> None:
        duration = self.visit(v)
        gap = self.visits.returns(v.segment)
        if gap is None:
            self._empty_store(v, "never_returned")
        elif self.env.now + duration + gap >= self.horizon:
            # They come back after the horizon: what they stored would arrive too late.
            self._empty_store(v, "pending")
        else:
            # A timeout with a callback, not a process per visitor: a pending return costs a
            # few hundred bytes, and many visitors wait days between visits.
            self.env.timeout(duration + gap).callbacks.append(partial(self._return, v))

    def _return(self, v: Visitor, _timeout: simpy.Event) -> None:
        self._visit_and_return(v)

    def _empty_store(self, v: Visitor, cause: str) -> None:
        for msg in v.store:
            self.collector.client_settled(msg, msg.arrivals, None if msg.arrivals else cause)
        v.store = []

    def visit(self, v: Visitor) -> float:
        """Simulate one visit starting now; return its duration in seconds."""
        now = self.env.now
        pages = self.visits.visit(v.segment, first=v.active_day < 0)
        counts = self.counts
        counts["visits"] += 1
        counts["pages"] += len(pages)
        day = int(now // DAY)
        if v.active_day != day:
            v.active_day = day
            per_day = self.active.setdefault(day, {})
            key = (v.cell, v.opted_out)
            per_day[key] = per_day.get(key, 0) + 1
        inst = v.instance
        cell_off = v.cell * self.buffer.n_measures
        event_off = self.event_offsets
        push, routes = self.server.push, self.routes
        shared = self.buffer.shared
        for page in pages:
            t0 = now + page.start
            live = []
            for offset_s, e, value in page.events:
                t = t0 + offset_s
                off = event_off[e] + cell_off
                shared[off + TRUTH] += 1.0  # every plan sees the same truth: count it once
                if value:
                    shared[off + VALUE_TRUTH] += value
                    shared[off + VALUE_SQ_TRUTH] += value * value
                r = routes[e]
                if v.opted_out and r.respecting:
                    for p in r.respecting:
                        self._withhold(p, off, r)
                    if r.browser_opted_out:
                        msg = Message(
                            e,
                            off,
                            value,
                            r.shared_client,
                            dict.fromkeys(r.open_dual) if r.open_dual else None,
                        )
                        live.append((offset_s, msg))
                    servers, duals = r.open_server, r.open_dual
                else:
                    if r.browser:
                        msg = Message(
                            e,
                            off,
                            value,
                            r.shared_client,
                            dict.fromkeys(r.dual) if r.dual else None,
                            r.own_client,
                        )
                        live.append((offset_s, msg))
                    servers, duals = r.server, r.dual
                for p, hybrid in servers:
                    push(p, inst, t, SERVER, off, value, None, hybrid and v.context_forwarded)
                for p in duals:
                    push(p, inst, t, DUAL, off, value, msg, False)
            counts["events"] += len(page.events)
            self.client.page(v, t0, page, live)
        last = pages[-1]
        return last.start + last.dwell

    def _withhold(self, p: int, off: int, r: EventRouting, n: int = 1) -> None:
        """A respecting plan sends nothing for an opted-out visitor (maybe an anonymous count)."""
        self.collector.count(p, off, WITHHELD, n)
        if p in r.anonymous:
            self.collector.count(p, off, ANONYMOUS, n)

    # -- bots and offsite jobs ---------------------------------------------------------
    def _bots(self):
        sc = self.scenario
        bots = sc.population.bots
        if bots.share <= 0:
            return
        rng = self.streams.rng("bots")
        visits_per_user = sum(
            s.share / (1.0 - min(sc.behaviour_of(s).return_probability, 0.99))
            for s in sc.population.segments
        )
        n = int(rng.poisson(bots.share / (1 - bots.share) * sc.population.users * visits_per_user))
        pages = Draws(bots.pages_per_visit, rng)
        u = Uniforms(rng)
        # Events the server sees a bot make: per page, or once per visit for session starts and
        # first visits (a bot keeps no cookie, so every visit is a new visitor).
        once = ("session_start", "first_visit")
        per_page = [i for i, e in enumerate(sc.events) if e.bots and e.kind not in once]
        per_visit = [i for i, e in enumerate(sc.events) if e.bots and e.kind in once]
        visitors: list[Visitor] = []
        env = self.env
        for t in arrival_times(n, self.horizon, rng):
            if not visitors:
                visitors = self.population.draw_bots(min(4096, n), rng)
            v = visitors.pop()
            if t > env.now:
                yield env.timeout(t - env.now)
            self.counts["bot_visits"] += 1
            if u() < bots.filtered:
                continue
            for k in range(max(1, int(pages()))):
                at = env.now + k * BOT_PAGE_SECONDS
                for e in per_visit + per_page if k == 0 else per_page:
                    r = self.routes[e]
                    off = self.buffer.offset(e, v.cell)
                    for p, _ in r.server:
                        self.server.push(p, v.instance, at, BOT, off, 0.0, None, False)
                    for p in r.dual:
                        self.server.push(p, v.instance, at, BOT, off, 0.0, None, False)

    def _offsite(self, e: int):
        """Nightly job: one run per simulated day for the visitors active that day."""
        ev = self.scenario.events[e]
        duration = ev.job_minutes * 60.0
        rng = self.streams.rng("offsite")
        env = self.env
        days = int(np.ceil(self.horizon / DAY))
        for day in range(days):
            at = (day + 1) * DAY + ev.job_hour * 3600.0
            if at >= self.end:
                return
            yield env.timeout(at - env.now)
            active = self.active.get(day, {})
            r = self.routes[e]
            whole = int(ev.per_active_user)
            groups, delays = [], []
            for g, ((cell, opted_out), users) in enumerate(sorted(active.items())):
                n = users * whole + int(rng.binomial(users, ev.per_active_user - whole))
                groups.append((self.buffer.offset(e, cell), opted_out))
                delays.append(np.column_stack((rng.uniform(0, duration, n),
                                               np.full(n, g))))  # fmt: skip
            if not delays:
                continue
            job = np.concatenate(delays)
            job = job[np.argsort(job[:, 0], kind="stable")]
            # Emit the job second by second and let the server catch up in between, so that a
            # burst as large as the site's audience never sits in memory at once.
            for second in range(math.ceil(duration)):
                lo, hi = np.searchsorted(job[:, 0], [second, second + 1])
                # Truth and withheld copies are counted in bulk per group, only sends one by one.
                sizes = np.bincount(job[lo:hi, 1].astype(np.int64), minlength=len(groups))
                for (off, opted_out), n in zip(groups, sizes.tolist(), strict=True):
                    if n:
                        self.counts["offsite_events"] += n
                        self.collector.truth(off, 0.0, n)
                        for p in r.respecting if opted_out else ():
                            self._withhold(p, off, r, n)
                for delay, g in job[lo:hi].tolist():
                    off, opted_out = groups[int(g)]
                    for p, _ in r.open_server if opted_out else r.server:
                        self.server.push(p, 0, at + delay, SERVER, off, 0.0, None, False)
                yield env.timeout(at + second + 1 - env.now)
                self.server.catch_up(env.now)

    # -- run ---------------------------------------------------------------------------
    def _report_progress(self, progress: Callable[[float], None], every: float):
        while True:
            yield self.env.timeout(every)
            progress(min(1.0, self.env.now / self.end))

    def run(self, progress: Callable[[float], None] | None = None) -> tuple[Tally, dict]:
        """Simulate until the horizon plus drain; return the tally and run counts.

        Parameters
        ----------
        progress : callable, optional
            Called with the simulated fraction done (0-1), a hundred times per run.
        """
        env = self.env
        if progress is not None:
            env.process(self._report_progress(progress, self.end / 100.0))
        env.process(self._arrivals())
        env.process(self._bots())
        for e, ev in enumerate(self.scenario.events):
            if ev.kind == "offsite":
                env.process(self._offsite(e))
        env.run(until=self.end)
        self.server.settle_pending()
        meta = dict(self.counts)
        meta.update(
            client_requests=self.client.requests,
            server_uploads=self.server.uploads,
            outage_seconds=self.outages.downtime(),
        )
        return self.buffer.to_tally(self.client_routes), meta


ENGINES = ("auto", "blocks", "events")


def simulate(
    scenario: Scenario,
    seed: np.random.SeedSequence,
    progress: Callable[[float], None] | None = None,
    engine: str = "auto",
) -> tuple[Tally, dict]:
    """Run one replication.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    seed : numpy.random.SeedSequence
        The replication's seed.
    progress : callable, optional
        Called with the simulated fraction done (for progress bars on long single runs).
    engine : {"auto", "blocks", "events"}
        ``blocks``: visits handled in numpy blocks (:mod:`simulator.block_engine`), for
        client libraries that send one xhr/fetch request per event; ``events``: this module's
        event-by-event engine, for any library; ``auto`` (default): blocks when it applies.
        Both model the same mechanisms and agree in distribution, not draw for draw.

    Returns
    -------
    tuple of (Tally, dict)
        The counts and what was simulated (users, visits, pages, events, ...).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    blocks = client_fates.applies(scenario)
    if engine == "blocks" and not blocks:
        raise ValueError("the block engine needs a client sending one xhr/fetch request per event")
    old = gc.get_threshold()
    gc.set_threshold(100_000, 50, 1000)  # many short-lived small objects; few cycles
    try:
        if blocks and engine != "events":
            return BlockReplication(scenario, seed).run(progress)
        return Replication(scenario, seed).run(progress)
    finally:
        gc.set_threshold(*old)


def run(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    progress: bool = False,
) -> RunResult:
    """Run every replication of a scenario in this process, one after the other.

    :func:`simulator.runner.run` does the same on several cores or a cluster, with the same
    results.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    replications : int, optional
        Overrides ``simulation.replications``.
    seed : int, optional
        Overrides ``simulation.seed`` (the root of every replication's stream).
    progress : bool
        Show a progress bar.

    Returns
    -------
    RunResult
        One tally per replication, in replication order.
    """
    from simulator.runner import run as run_tasks  # the runner builds on this module

    return run_tasks(
        scenario, replications, seed, workers=1, executor="serial", shards=1, progress=progress
    )
