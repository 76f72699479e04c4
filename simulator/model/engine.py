"""One replication = one simpy Environment; a run = replications on spawned seeds.

simpy drives time. One process walks the visitors' arrivals window by window (a window holds
``WINDOW_USERS`` new visitors and every return due before the next window). At a window's start
it draws all the window's visits at once (:mod:`simulator.model.visits`), counts their true
events once (every plan sees the same visitors: common random numbers), settles the browser
copies (:mod:`simulator.model.window`) and hands the server copies, stamped with their times, to
the server queues (:mod:`simulator.model.server`). The queues are replayed up to "now" at
every window start, every simulated hour and as a nightly job emits, which is exact because
every event before "now" has been handed over by then. Returns falling inside the window are
drawn in further rounds, so a visitor's visits are always settled in order and the retry store
carries over. Bots and nightly jobs work on arrays too.

Browser copies are settled on arrays whatever the library: one xhr/fetch request per event
(:mod:`simulator.model.client.arrays`), one request per event with a keepalive or beacon
transport (:mod:`simulator.model.client.keepalive_arrays`), or batches
(:mod:`simulator.model.client.batch_arrays`). The page-by-page path
(:mod:`simulator.model.client.paged`) is their reference, and they agree with it in
distribution (tests/model/test_client_paths.py, test_keepalive_arrays.py,
test_batch_arrays.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import simpy

from simulator.config.scenario import Scenario
from simulator.model.client.looped import LoopedClient
from simulator.model.collector import BOTS, LOST, TRUTH
from simulator.model.copies import BOT, DUAL, SERVER, payload, take_rows
from simulator.model.copy_sink import CopySink
from simulator.model.dual_waits import DualWaits
from simulator.model.outages import Outages
from simulator.model.outcome_counts import count_measures, delivered, join_dual, lost
from simulator.model.population import PopulationSampler, VisitorColumns, arrival_blocks, layout_of
from simulator.model.route_tables import RouteTables
from simulator.model.routing import shared_client_routes
from simulator.model.server import STATUS, ServerQueues
from simulator.model.streams import Streams
from simulator.model.tally import Tally
from simulator.model.tally_buffer import TallyBuffer
from simulator.model.window import VisitBatch

DAY = 86400.0
WINDOW_USERS = 8192
"""New visitors per window: bounds the memory of a window whatever the population."""
REPLAY_SECONDS = 3600.0
"""Simulated seconds between two replays of the server queues besides the window starts."""
OFFSITE_CHUNK_SECONDS = 60.0
"""A nightly job hands its events to the server a minute at a time (memory, not results)."""

SERVER_CAUSE = [None, *(LOST[s] for s in STATUS[1:])]
"""Loss cause (measure index) of each server status code but delivered."""


class Replication:
    """Builds and runs one replication.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    seed : numpy.random.SeedSequence
        This replication's seed sequence.
    paged : bool
        Settle browser copies page by page whatever the library (tests compare the two ways).
    sink : CopySink, optional
        Told every true event and every copy that arrived (an event export).
    """

    def __init__(
        self,
        scenario: Scenario,
        seed: np.random.SeedSequence,
        paged: bool = False,
        sink: CopySink | None = None,
    ) -> None:
        self.scenario = sc = scenario
        self.layout = layout_of(sc)
        self.streams = streams = Streams(seed)
        self.horizon = sc.simulation.horizon_hours * 3600.0
        self.end = self.horizon + sc.simulation.drain_hours * 3600.0
        self.env = simpy.Environment()
        self.buffer = buf = TallyBuffer(self.layout)
        self.stride, self.n_cells = buf.plan_stride, buf.n_cells
        col = sc.collector
        self.dedupe, self.window = col.dedupe, col.dedupe_window_hours * 3600.0
        self.outages = Outages(col, self.end, streams.rng("outages"))
        self.server = ServerQueues(
            sc.server, len(sc.plans), self.outages, streams.rng("server"), self.end, self._settled
        )
        self.routes = RouteTables(sc)
        self.waits = DualWaits(buf.data, self.stride, self.dedupe, self.window)
        self.population = PopulationSampler(
            sc, self.layout, streams.rng("population"), streams.rng("blocking")
        )
        self.active: dict[int, np.ndarray] = {}  # day -> active visitors per cell x opted out
        self.returns: list[tuple] = []  # (times, visitor columns, active day) waiting
        self.sink = sink
        self.counts = dict.fromkeys(
            ("users", "visits", "pages", "events", "bot_visits", "offsite_events"), 0
        )
        self.batch = VisitBatch(
            sc, streams, buffer=buf, routes=self.routes, server=self.server, waits=self.waits,
            population=self.population, outages=self.outages, counts=self.counts,
            note_active=self.note_active, horizon=self.horizon, paged=paged, sink=sink,
        )  # fmt: skip

    # -- visitors --------------------------------------------------------------------------
    def _visitors(self):
        env, n = self.env, self.scenario.population.users
        blocks = arrival_blocks(n, self.horizon, self.streams.rng("arrivals"), WINDOW_USERS)
        bots = self.batch.bot_arrivals()
        current = next(blocks, None)
        while current is not None:
            # A window covers [now, until): the first starts at 0, so bots arriving before the
            # first visitor are handed over in time; each later one at its first arrival.
            upcoming = next(blocks, None)
            self.server.catch_up(env.now)
            until = self.horizon if upcoming is None else float(upcoming[0])
            self.counts["users"] += current.size
            self._window(self.population.columns(current.size), current, until)
            self.batch.bots(bots, until)
            current = upcoming
            if current is not None and current[0] > env.now:
                yield env.timeout(current[0] - env.now)

    def _window(self, visitors, start: np.ndarray, until: float) -> None:
        """Visits starting before ``until``: the new visitors, the returns due, their returns."""
        active = np.full(start.size, -1, np.int64)
        first = np.ones(start.size, bool)
        due = self._due(until)
        if due is not None:
            visitors = VisitorColumns.concat([visitors, due[1]])
            start = np.concatenate([start, due[0]])
            active = np.concatenate([active, due[2]])
            first = np.concatenate([first, np.zeros(due[0].size, bool)])
        while start.size:
            back, returning, day = self.batch.visits(visitors, start, first, active)
            now = back < until
            if (~now).any():
                self.returns.append((back[~now], returning.take(~now), day[~now]))
            visitors, start, active = returning.take(now), back[now], day[now]
            first = np.zeros(start.size, bool)

    def _due(self, until: float) -> tuple | None:
        if not self.returns:
            return None
        times = np.concatenate([r[0] for r in self.returns])
        visitors = VisitorColumns.concat([r[1] for r in self.returns])
        days = np.concatenate([r[2] for r in self.returns])
        now = times < until
        self.returns = [(times[~now], visitors.take(~now), days[~now])] if (~now).any() else []
        return times[now], visitors.take(now), days[now]

    def note_active(self, cells: np.ndarray, opted_out: np.ndarray, days: np.ndarray) -> None:
        """Count visitors active on each day (for the nightly jobs)."""
        if not days.size:
            return
        width, first = 2 * self.n_cells, int(days.min())
        # One count over (day, cell, opted out) instead of a unique and a pass per day: a
        # window spans few days, and np.unique cost more than the whole count.
        span = (int(days.max()) - first + 1) * width
        key = (days - first) * width + cells * 2 + opted_out
        by_day = np.bincount(key, minlength=span).reshape(-1, width)
        for i in np.flatnonzero(by_day.any(axis=1)).tolist():
            self.active[first + i] = self.active.get(first + i, 0) + by_day[i]

    # -- server outcomes -------------------------------------------------------------------
    def _settled(self, plan: int, rows: np.ndarray, status: int, when: np.ndarray) -> None:
        base = plan * self.stride + rows["off"]
        kind = rows["kind"]
        data = self.buffer.data
        server, dual = kind == SERVER, kind == DUAL
        if status == 0:
            if server.any():  # (a dual plan sends none)
                # Only a hybrid route's server copies carry the browser's context.
                context = rows["context"][server] if plan in self.routes.hybrid_plans else False
                delivered(data, base[server], rows["value"][server], context)
            count_measures(data, base[kind == BOT], [(None, [(BOTS, 1.0)])])
            server_when, cause = when, 0
            if self.sink is not None:
                k = rows["key"] >= 0  # nightly jobs' events have no visitor: not exported
                self.sink.arrived(plan, rows["key"][k], rows["visitor"][k], rows["off"][k], when[k])
        else:
            cause = SERVER_CAUSE[status]
            lost(data, base[server], cause)
            server_when = np.full(when.shape, np.nan)
        if not dual.any():
            return
        waiting = dual & (rows["ref"] >= 0)
        if waiting.any():
            self.waits.server_settled(plan, rows["ref"][waiting], server_when[waiting], cause)
        d = dual & ~waiting
        if d.any():
            r = take_rows(rows, d)
            join_dual(data, base[d], r["value"], r["c_first"], r["c_n"], r["c_late"],
                      r["c_cause"], server_when[d], cause, self.dedupe, self.window)  # fmt: skip

    # -- nightly jobs ----------------------------------------------------------------------
    def _offsite(self, e: int):
        """Nightly job: one run per simulated day for the visitors active that day."""
        ev = self.scenario.events[e]
        duration = ev.job_minutes * 60.0
        rng = self.streams.rng("offsite")
        env, routes, n_events = self.env, self.routes, len(self.scenario.events)
        for day in range(int(np.ceil(self.horizon / DAY))):
            at = (day + 1) * DAY + ev.job_hour * 3600.0
            if at >= self.end:
                return
            yield env.timeout(at - env.now)
            active = self.active.get(day)
            if active is None:
                continue
            keys = np.flatnonzero(active)
            users = active[keys]
            whole = int(ev.per_active_user)
            left = users * whole + rng.binomial(users, ev.per_active_user - whole)
            # Emitted a chunk at a time, so a burst as large as the audience is never held at
            # once: each chunk takes its binomial share of what every group has left to send,
            # which spreads each group's events uniformly over the job.
            step = OFFSITE_CHUNK_SECONDS
            chunks = max(1, math.ceil(duration / step))
            for c in range(chunks):
                lo = c * step
                span = min(step, duration - lo)
                take = rng.binomial(left, 1.0 if c == chunks - 1 else span / (duration - lo))
                left -= take
                key = np.repeat(keys, take)
                self.counts["offsite_events"] += int(key.size)  # as the truth: when emitted
                delay = lo + rng.uniform(0.0, span, key.size)
                order = np.argsort(delay, kind="stable")
                key, delay = key[order], delay[order]
                route = key % 2 * n_events + e
                # The job's events are drawn per cell, not per visitor: each counts as its own.
                first = self.counts["offsite_events"] - key.size
                off = self.buffer.offset(e, key // 2, first + np.arange(key.size))
                count_measures(self.buffer.shared, off, [(None, [(TRUTH, 1.0)])])
                self.batch.withhold(off, routes.withheld[route])
                for p in range(routes.n_plans):
                    send = np.flatnonzero(routes.server[route, p])
                    load = payload(SERVER, off[send], ids=self.sink is not None)
                    self.server.push(p, 0, at + delay[send], load)
                yield env.timeout(max(0.0, at + lo + span - env.now))
                self.server.catch_up(env.now)

    # -- run ---------------------------------------------------------------------------
    def _replay(self, progress: Callable[[float], None] | None):
        while True:
            yield self.env.timeout(REPLAY_SECONDS)
            self.server.catch_up(self.env.now)
            if progress is not None:
                progress(min(1.0, self.env.now / self.end))

    def run(self, progress: Callable[[float], None] | None = None) -> tuple[Tally, dict]:
        """Simulate until the horizon plus drain; return the tally and run counts."""
        env = self.env
        env.process(self._replay(progress))
        env.process(self._visitors())
        for e, ev in enumerate(self.scenario.events):
            if ev.kind == "offsite":
                env.process(self._offsite(e))
        env.run(until=self.end)
        self.server.settle_pending()
        meta = dict(self.counts)
        clients = [self.batch.client, *(v.client for v in self.batch.variants)]
        meta.update(
            client_requests=sum(c.requests for c in clients),
            server_uploads=self.server.uploads,
            outage_seconds=self.outages.downtime(),
            # 1 if the compiled page loop settled some browser copies: with it, a seed gives
            # other (equally exact) results for those libraries than on arrays.
            client_page_loop=int(any(isinstance(c, LoopedClient) for c in clients)),
        )
        return self.buffer.to_tally(shared_client_routes(self.scenario)), meta


def simulate(
    scenario: Scenario,
    seed: np.random.SeedSequence,
    progress: Callable[[float], None] | None = None,
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

    Returns
    -------
    tuple of (Tally, dict)
        The counts and what was simulated (users, visits, pages, events, ...).
    """
    return Replication(scenario, seed).run(progress)
