"""A window's visits and bot visits, as arrays: truth, routing, client fates, server copies.

:class:`VisitBatch` is the engine's per-window work. For a batch of visits it draws the
pages and true events, counts the truth once (every plan sees the same visitors), withholds
the copies that respecting plans owe an opted-out visitor, settles the browser copies with the
settler :func:`~simulator.model.client.choice.settler_kind` picks (together with what the
visitors' retry stores carried in from their previous visits), counts their outcomes, keeps in
the store what is left at the end of a visit for the visitor's return, and hands every server
copy to the server queues. Bots only ever reach the server path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.client.choice import settler_kind
from simulator.model.client.settler import DELIVERED_STATUS, Pages, Settler
from simulator.model.client_variants import client_variants
from simulator.model.collector import ANONYMOUS, LOST, TRUTH, VALUE_SQ_TRUTH, VALUE_TRUTH
from simulator.model.copies import BOT, SERVER, Column, Stored, dual_payload, payload
from simulator.model.copy_sink import CopySink
from simulator.model.dual_waits import DualWaits
from simulator.model.outages import Outages
from simulator.model.outcome_counts import count_measures, delivered, lost
from simulator.model.pages import BACKGROUND
from simulator.model.population import PopulationSampler, VisitorColumns, arrival_blocks
from simulator.model.route_tables import RouteTables
from simulator.model.routing import shared_client_routes
from simulator.model.server import ServerQueues
from simulator.model.streams import Streams
from simulator.model.tally_buffer import TallyBuffer
from simulator.model.visits import VisitBlocks

DAY = 86400.0
BOT_PAGE_SECONDS = 2.0  # assumption: bots fetch pages in quick succession
UNSETTLED = -3


class VisitBatch:
    """The per-window work of :class:`~simulator.model.engine.Replication`.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    streams : Streams
        Uses the ``behaviour`` and ``bots`` streams (and the client's, see its class).
    buffer : TallyBuffer
        Where counts go (truth once, then each plan's outcomes).
    routes : RouteTables
        Which plans carry each event type on which path.
    server : ServerQueues
        The server queues that server copies are handed to, stamped with their times.
    waits : DualWaits
        Dual events whose browser copy is still unsettled.
    population : PopulationSampler
        Draws the bots' attributes.
    outages : Outages
        Collector outages (browser requests sent during one fail).
    counts : dict
        What was simulated (visits, pages, events, bot visits), incremented in place.
    note_active : callable
        Called with the cells, opt-out flags and days of the visitors active in a visit.
    horizon : float
        End of arrivals in seconds; a return after it is ``pending``.
    paged : bool
        Settle client copies page by page whatever the library (the array settlers'
        reference, for tests).
    sink : CopySink, optional
        Told every true event and every browser copy that arrived (an event export); it
        draws no random numbers, so the run is the same with or without it.
    """

    def __init__(
        self,
        scenario: Scenario,
        streams: Streams,
        *,
        buffer: TallyBuffer,
        routes: RouteTables,
        server: ServerQueues,
        waits: DualWaits,
        population: PopulationSampler,
        outages: Outages,
        counts: dict[str, int],
        note_active: Callable[[np.ndarray, np.ndarray, np.ndarray], None],
        horizon: float,
        paged: bool = False,
        sink: CopySink | None = None,
    ) -> None:
        self.scenario = sc = scenario
        self.sink, self.next_key = sink, 0
        self.shared_plans = (shared_client_routes(sc) << np.arange(len(sc.plans))[:, None]).sum(0)
        self.buffer, self.routes, self.server, self.waits = buffer, routes, server, waits
        self.population, self.counts, self.note_active = population, counts, note_active
        self.horizon = horizon
        # How a browser copy counts, by its route: one value when every route the browser sends
        # on has the same (then nothing is gathered per copy).
        self.copy_routing = {
            name: _by_route(getattr(routes, name), routes.client)
            for name in ("shared", "own", "dual")
        }
        # Plans that send some visit event from the server (a nightly job's are sent apart).
        visit = np.tile([e.kind != "offsite" for e in sc.events], 2)
        self.server_plans = np.flatnonzero(routes.server[visit].any(axis=0)).tolist()
        self.visit_blocks = VisitBlocks(sc, streams.rng("behaviour"))
        self.client: Settler = settler_kind(sc, paged)(sc, outages, streams)
        self.store: Stored | None = None
        self.variants = client_variants(sc, outages, streams, population.layout.blockers, paged)
        self.own_plans = tuple(sorted({*routes.own_plans, *(v.plan for v in self.variants)}))
        self.bot_rng = streams.rng("bots")
        once = ("session_start", "first_visit")
        self.bot_per_page = [i for i, e in enumerate(sc.events) if e.bots and e.kind not in once]
        self.bot_per_visit = [i for i, e in enumerate(sc.events) if e.bots and e.kind in once]

    # -- visits ----------------------------------------------------------------------------
    def visits(
        self, vis: VisitorColumns, start: np.ndarray, first: np.ndarray, active: np.ndarray
    ) -> tuple[np.ndarray, VisitorColumns, np.ndarray]:
        """Simulate one visit per visitor; return who comes back before the horizon, and when.

        Parameters
        ----------
        vis : VisitorColumns
            The visitors.
        start : numpy.ndarray
            When each visit starts.
        first : numpy.ndarray
            Whether it is the visitor's first visit.
        active : numpy.ndarray
            The last day each visitor was active (-1 for none).

        Returns
        -------
        tuple
            Return times, the returning visitors, and the day of the visit just made.
        """
        routes, n_events = self.routes, len(self.scenario.events)
        vb = self.visit_blocks.draw(vis.segment, first)
        self.counts["visits"] += start.size
        self.counts["pages"] += vb.page_dwell.size
        self.counts["events"] += vb.event_type.size
        day = (start // DAY).astype(np.int64)
        fresh = active != day
        self.note_active(vis.cell[fresh], vis.opted_out[fresh].astype(np.int64), day[fresh])
        pages = self._pages(vis, start, vb)
        ep, e, value = vb.event_page, vb.event_type, vb.event_value
        ev = vb.page_visit[ep]  # each event's visit
        off = self.buffer.offset(e, vis.cell[ev], vis.index, at=ev)
        t = pages.t0[ep] + vb.event_offset
        priced = value != 0
        v = value[priced]
        count_measures(self.buffer.shared, off, [  # once: every plan sees the same visitors
            (None, [(TRUTH, 1.0)]),
            (priced, [(VALUE_TRUTH, v), (VALUE_SQ_TRUTH, v**2)]),
        ])  # fmt: skip
        route = vis.opted_out[ev] * n_events + e
        if routes.respecting:
            self.withhold(off, routes.withheld[route])
        key = self._keys(e.size)
        if self.sink is not None:
            self.sink.truth(key, vis.index[ev], off, t)

        gaps = self.visit_blocks.return_gaps(vis.segment)
        back = start + vb.duration + gaps
        never = np.isinf(gaps)
        late = ~never & (back >= self.horizon)
        instance = vis.instance[ev]

        def columns(m: np.ndarray | None, **routing: Column) -> dict:  # for Stored.made
            # Only an event export reads a copy's key (-1: none, as for a nightly job's events).
            keys = (key, m) if self.sink is not None else -1
            return dict(visitor=(vis.index, _rows(ev, m)), e=(e, m), off=(off, m),
                        value=(value, m), ref=-1, key=keys, seq=(t, m), **routing)  # fmt: skip

        sent = routes.client[route]
        m = None if sent.all() else np.flatnonzero(sent)  # None: every event, taken whole
        routing = self.copy_routing
        if any(np.ndim(c) for c in routing.values()):
            rm = _rows(route, m)
            routing = {k: (c, rm) if np.ndim(c) else c for k, c in routing.items()}
        new = columns(m, **routing)
        self._browser_copies(vis, vb, pages, m, new, never, late, _rows(instance, m))
        for v in self.variants:
            m = np.flatnonzero(v.events[e])
            own = columns(m, shared=False, own=1 << v.plan, dual=0)
            own_pages = self._pages(vis, start, vb, v.blocking.draw(vis.blocker, vis.lists_u))
            self._browser_copies(vis, vb, own_pages, m, own, never, late, instance[m], v)

        ids = self.sink is not None
        for p in self.server_plans:
            s = np.flatnonzero(routes.server[route, p])
            if s.size:
                ctx = False  # only a hybrid route forwards the browser's context
                if p in routes.hybrid_plans:
                    ctx = routes.hybrid[route[s], p] & vis.context_forwarded[ev[s]]
                who = (key[s], vis.index[ev[s]]) if ids else (-1, -1)
                load = payload(SERVER, off[s], value[s], ctx, *who, ids)
                self.server.push(p, instance[s], t[s], load)
        ret = ~never & ~late
        return back[ret], vis.take(ret), day[ret]

    @staticmethod
    def _pages(vis: VisitorColumns, start: np.ndarray, vb, blocking=None) -> Pages:
        """The block's pages with what the client path needs to know about them.

        ``blocking`` gives a plan's own blocking columns per visitor (see ``filter_engine``).
        """
        pv = vb.page_visit
        if blocking is None:
            blocked, ads, beacon = vis.blocked, vis.blocked_ads, vis.blocked_beacon
        else:
            blocked, ads, beacon = blocking[:, 0], blocking[:, 1], blocking[:, 2]
        position = np.arange(pv.size) - vb.first_page[pv]
        return Pages(
            t0=start[pv] + vb.page_start,
            dwell=vb.page_dwell,
            end=vb.page_end,
            cancels=vb.page_end != BACKGROUND,
            javascript=vis.javascript[pv],
            handler_p=vis.handler_p[pv],
            position=position,
            last=position == vb.n_pages[pv] - 1,
            blocked=blocked[pv],
            blocked_ads=ads[pv],
            blocked_beacon=beacon[pv],
            keepalive=vis.keepalive[pv],
        )

    def _browser_copies(
        self, vis, vb, pages, made, new, never, late, instance, variant=None
    ) -> None:
        """Settle these visits' browser copies with what the stores carried in; count them.

        ``new`` are the columns (:meth:`Stored.made`) of the copies of the block's events
        ``made`` (indices, or None for all; made by visitors on server ``instance``); ``never``
        and ``late`` mark visits after which the visitor never returns, or returns after the
        horizon. ``variant`` is a plan with its own client settings, whose copies these are (the
        shared client path's when ``None``).
        """
        holder = self if variant is None else variant
        page = vb.event_page.copy() if made is None else vb.event_page[made]
        n_new = page.size
        taken = self._take_store(vis.index, holder)
        msgs = Stored.made(None if taken is None else taken[0], **new)
        carried = np.arange(msgs.size) >= n_new
        if taken is not None:
            page = np.concatenate([page, vb.first_page[taken[1]]])
        offset = np.zeros(msgs.size)
        offset[:n_new] = _rows(vb.event_offset, made)
        rows, status, out_rows, out_page = holder.client.settle(
            pages, msgs.state, page, offset, msgs.e, carried
        )
        # What is left in a store at the end of a visit waits for the visitor's return.
        out_visit = vb.page_visit[out_page]
        for mask, cause in ((never[out_visit], "never_returned"), (late[out_visit], "pending")):
            r = out_rows[mask]
            rows = np.concatenate([rows, r])
            status = np.concatenate(
                [status, np.where(msgs.state.n[r] > 0, DELIVERED_STATUS, LOST[cause])]
            )
        kept = out_rows[~(never | late)[out_visit]]
        self._count_client(msgs, rows, status, new["shared"])
        if self.sink is not None:
            self._arrived(msgs, rows[status == DELIVERED_STATUS])
        self._send_duals(msgs, n_new, rows, status, instance)
        if kept.size:
            stored = msgs.take(kept)
            holder.store = stored if holder.store is None else Stored.concat([holder.store, stored])

    def _keys(self, n: int) -> np.ndarray:
        """Keys of ``n`` new events: shared by all the copies of one event."""
        key = np.arange(self.next_key, self.next_key + n, dtype=np.int64)
        self.next_key += n
        return key

    def _arrived(self, msgs: Stored, ok: np.ndarray) -> None:
        """Tell the sink the browser copies that arrived, with the plans that take each."""
        shared = np.where(msgs.shared[ok], self.shared_plans[msgs.e[ok]], 0)
        plans = shared | msgs.own[ok] | msgs.dual[ok]
        self.sink.arrived(-1, msgs.key[ok], msgs.visitor[ok], msgs.off[ok], msgs.state.first[ok],
                          plans)  # fmt: skip

    @staticmethod
    def _take_store(visitors: np.ndarray, holder) -> tuple[Stored, np.ndarray] | None:
        """Take the messages of ``visitors`` out of ``holder``'s store, in store order.

        Returns them with each one's visitor as an index into ``visitors``, or None if the
        store holds none. ``visitors`` are distinct, so each stored message's visitor is found
        by one search in them, where ``np.isin`` sorts both arrays together (and, through
        ``np.unique``, imports ``numpy.ma`` on its first call).
        """
        if holder.store is None or not visitors.size:
            return None
        order = np.argsort(visitors)
        stored = holder.store.visitor
        at = order[np.minimum(np.searchsorted(visitors, stored, sorter=order), visitors.size - 1)]
        mine = visitors[at] == stored
        if not mine.any():
            return None
        came = holder.store.take(mine)
        holder.store = holder.store.take(~mine) if (~mine).any() else None
        return came, at[mine]

    def _count_client(
        self, msgs: Stored, rows: np.ndarray, status: np.ndarray, shared: Column
    ) -> None:
        """Count settled browser copies for the plans that take the client-path outcome.

        ``shared`` is the column the copies were made with (:meth:`Stored.made`): one value
        when every copy's outcome is, or is not, shared by the plans on the client path.
        """
        ok = status == DELIVERED_STATUS
        dups = msgs.state.duplicates(self.scenario.collector.dedupe)
        targets = []  # (counts, the plan's offset, which of ``rows``: None for all)
        if isinstance(shared, tuple):
            targets.append((self.buffer.client, 0, msgs.shared[rows]))
        elif shared:
            targets.append((self.buffer.client, 0, None))
        if self.own_plans:
            own = msgs.own[rows]
        for p in self.own_plans:
            mine = (own >> p & 1).astype(bool)
            targets.append((self.buffer.data, p * self.buffer.plan_stride, mine))
        for data, plan, mask in targets:
            # Each column is gathered for the copies counted (rows keep their order).
            d = ok if mask is None else mask & ok
            r = rows[d]
            delivered(data, msgs.off[r] + plan if plan else msgs.off[r], msgs.value[r], True,
                      dups[r])  # fmt: skip
            gone = ~ok if mask is None else mask & ~ok
            r = rows[gone]
            lost(data, msgs.off[r] + plan if plan else msgs.off[r], status[gone])
        if not len(self.waits):  # a copy still to join has an event waiting there
            return
        refs = msgs.ref[rows]
        w = refs >= 0
        if w.any():
            st = msgs.state
            r = rows[w]
            self.waits.client_settled(refs[w], st.first[r], st.n[r], st.late[r], status[w])

    def _send_duals(self, msgs: Stored, n_new: int, rows, status, instance) -> None:
        """Server copies of this visit's dual events, with the browser copy's outcome.

        Each leaves when its event was made: its message's creation time (``seq``).
        """
        dual = msgs.dual[:n_new]
        d = np.flatnonzero(dual)
        if not d.size:
            return
        outcome = np.full(msgs.size, UNSETTLED, np.int64)
        outcome[rows] = status
        waiting = d[outcome[d] == UNSETTLED]
        if waiting.size:
            msgs.ref[waiting] = self.waits.open(msgs.off[waiting], msgs.value[waiting],
                                               dual[waiting])  # fmt: skip
        st = msgs.state
        plans = self.routes.dual_plans
        for p in plans:
            s = d if len(plans) == 1 else d[(dual[d] >> p & 1).astype(bool)]
            if s.size:
                load = dual_payload(msgs, s, outcome, self.sink is not None)
                self.server.push(p, instance[s], st.seq[s], load)

    def withhold(self, off: np.ndarray, mask: np.ndarray) -> None:
        """Respecting plans send nothing for opted-out visitors (maybe an anonymous count)."""
        if not mask.any():
            return
        o = off[mask]
        for p in self.routes.respecting:
            count_measures(
                self.buffer.data,
                p * self.buffer.plan_stride + o,
                [(None, [(LOST["withheld"], 1.0)])],
            )
        for p in self.routes.anonymous:
            count_measures(
                self.buffer.data, p * self.buffer.plan_stride + o, [(None, [(ANONYMOUS, 1.0)])]
            )

    # -- bots --------------------------------------------------------------------------------
    def bot_arrivals(self) -> dict | None:
        """Draw the number of bot visits; their arrival times come block by block."""
        sc = self.scenario
        bots = sc.population.bots
        if bots.share <= 0:
            return None
        visits_per_user = sum(
            s.share / (1.0 - min(sc.behaviour_of(s).return_probability, 0.99))
            for s in sc.population.segments
        )
        mean = bots.share / (1 - bots.share) * sc.population.users * visits_per_user
        n = int(self.bot_rng.poisson(mean))
        blocks = arrival_blocks(n, self.horizon, self.bot_rng)
        return {"blocks": blocks, "waiting": np.zeros(0)}

    def bots(self, state: dict | None, until: float) -> None:
        """Bot visits arriving before ``until``: their page events reach the server only."""
        if state is None:
            return
        times = state["waiting"]
        while not times.size or times[-1] < until:
            more = next(state["blocks"], None)
            if more is None:
                break
            times = np.concatenate([times, more])
        cut = np.searchsorted(times, until)
        times, state["waiting"] = times[:cut], times[cut:]
        rng = self.bot_rng
        bots = self.scenario.population.bots
        self.counts["bot_visits"] += times.size
        cols = self.population.bot_columns(times.size, rng)
        keep = rng.random(times.size) >= bots.filtered
        n_pages = np.maximum(1, bots.pages_per_visit.sample(rng, times.size).astype(np.int64))
        n_pages, times = n_pages[keep], times[keep]
        visit = np.repeat(np.flatnonzero(keep), n_pages)
        k = np.arange(visit.size) - np.repeat(np.cumsum(n_pages) - n_pages, n_pages)
        at = np.repeat(times, n_pages) + k * BOT_PAGE_SECONDS
        kinds = [(e, slice(None)) for e in self.bot_per_page]
        kinds += [(e, k == 0) for e in self.bot_per_visit]
        keys = [self._keys(visit[where].size) for _, where in kinds]
        routes, ids = self.routes, self.sink is not None
        events = {}  # per kind of event, found once for every plan that sends it
        for p in range(routes.n_plans):
            mine = []
            for i, ((e, where), key) in enumerate(zip(kinds, keys, strict=True)):
                if routes.server[e, p] or routes.dual[e] >> p & 1:
                    if i not in events:
                        v = visit[where]
                        off = self.buffer.offset(e, cols.cell[v], cols.index[v])
                        events[i] = (off, at[where], cols.instance[v], key, cols.index[v])
                    mine.append(events[i])
            if mine:
                off, t, instance, key, visitor = (
                    np.concatenate(c) for c in zip(*mine, strict=True)
                )
                load = payload(BOT, off, key=key, visitor=visitor, ids=ids)
                self.server.push(p, instance, t, load)


def _rows(x: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """``x[rows]``, or ``x`` itself (not a copy) when ``rows`` is None: every row, in order."""
    return x if rows is None else x[rows]


def _by_route(column: np.ndarray, sent: np.ndarray) -> np.ndarray | np.generic:
    """``column`` of the route table, or its one value if every route in ``sent`` has the same."""
    values = column[sent]
    if values.size and (values == values[0]).all():
        return values[0]
    return column
