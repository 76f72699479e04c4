"""The client path: what the browser library does with a page's events, decided by arithmetic.

For each page the library loads (or is blocked, or never loads before the visitor leaves), queues
events, batches them, and sends requests with the configured transport. A request's bytes are
written once the page's connection is open (at once when it is warm; see
:mod:`simulator.model.client.connection`) and reach the collector one upload latency later; an
``xhr``/``fetch`` request not yet written when a navigation or a close tears the page down is
cancelled (a request racing an unload is settled by comparing times, never by simpy events), whereas
``fetch_keepalive`` and ``beacon`` survive it but share a 64 KiB in-flight quota. Failed requests
are retried with backoff while the page lives. At the end of the page the page-hide handler may or
may not fire; if it does, what is still queued is flushed with the unload transport. A
``local_storage`` retry store persists unacknowledged events and resends them on the visitor's next
page (a duplicate when the cancelled request had in fact arrived). A page that only goes to the
background (the last page of a mobile visit, when the app is switched away) is not torn down: its
requests in flight complete, but what still waits in the batch queue goes out only if the handler
runs.

Everything here is plain Python on one page at a time: no simpy process or event per request.
The engine settles every library on arrays (:mod:`simulator.model.client.arrays`,
:mod:`~simulator.model.client.keepalive_arrays`, :mod:`~simulator.model.client.batch_arrays`),
which tests check against this path; through :mod:`simulator.model.client.paged` it settles
again, in sequence, the pages the arrays cannot race (a retried batch, the keepalive quota).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np

from simulator.config.scenario import Scenario
from simulator.config.tracking import SURVIVES_UNLOAD
from simulator.model.collector import Collector, Message
from simulator.model.outages import Outages
from simulator.model.pages import BACKGROUND, Page
from simulator.model.population import Visitor, layout_of
from simulator.model.streams import Draws, Streams, Uniforms
from simulator.model.tally_buffer import TallyBuffer

INF = float("inf")


class ClientPath:
    """Settles the client copies of every event on a page.

    Parameters
    ----------
    scenario : Scenario
        Gives the client settings and each event type's size and request class.
    collector : Collector
        Where settled messages go.
    outages : Outages
        Collector outages (requests sent during one fail).
    streams : Streams
        Uses the ``script``, ``network`` and ``unload`` streams.
    log : callable, optional
        Called as ``log(what, msg, time)`` for every step (for exact-log tests and debugging).
    """

    def __init__(
        self,
        scenario: Scenario,
        collector: Collector,
        outages: Outages,
        streams: Streams,
        log: Callable | None = None,
    ) -> None:
        cfg = scenario.client
        self.cfg = cfg
        self.collector = collector
        self.outages = outages
        self.log = log
        self.script = Draws(cfg.script_load_seconds, streams.rng("script"))
        net = streams.rng("network")
        self.upload = Draws(cfg.upload_latency_seconds, net)
        self.response = Draws(cfg.response_latency_seconds, net)
        self.net_u = Uniforms(net)
        self.unload_u = Uniforms(streams.rng("unload"))
        # Where a request's variates come from: drawn here, or recorded ones in a replay.
        self.request_variates: Callable[[list, float], tuple[float, float, float]] = self._drawn
        self.bytes = [e.bytes for e in scenario.events]
        self.ads = [e.request_class == "ads" for e in scenario.events]
        self.transport = cfg.transport
        self.failure_probability = cfg.failure_probability
        self.unload_transport = cfg.resolved_unload_transport
        con = cfg.connection
        # A beacon on a connection of its own pays the handshake's round trips (2 L each).
        self.beacon_handshake = 2.0 * con.handshake_round_trips * con.beacon_own_connection
        self.retry = r = cfg.retry
        self.store_kind = r.store
        self.persist_on_add = r.persist == "on_add"
        self.max_attempts = r.max_attempts
        self.max_items = r.max_items
        self.requests = 0

    # -- outcomes -----------------------------------------------------------------------
    def _settle(self, msg: Message, cause: str | None) -> None:
        if self.log is not None:
            self.log("settle:" + (cause if not msg.arrivals else "delivered"), msg, None)
        self.collector.client_settled(msg, msg.arrivals, None if msg.arrivals else cause)

    def _delay(self, attempts: int) -> float:
        return self.retry.retry_delay(attempts)

    def _drawn(self, msgs: list, at: float) -> tuple[float, float, float]:
        """A request's upload latency, response latency and failure uniform, in that order."""
        d = self.upload
        up = d.buffer.pop() if d.buffer else d()
        d = self.response
        back = d.buffer.pop() if d.buffer else d()
        d = self.net_u
        return up, back, d.buffer.pop() if d.buffer else d()

    # -- one page -----------------------------------------------------------------------
    def page(self, visitor: Visitor, t0: float, page: Page, live: list) -> None:
        """Settle (or persist) the client copies of one page's events.

        Parameters
        ----------
        visitor : Visitor
            Whose page it is (blocker flags, handler reliability, retry store).
        t0 : float
            Absolute time the page starts.
        page : Page
            Dwell time and how the page ends.
        live : list of tuple
            ``(offset_seconds, Message)`` for events made on this page, sorted by offset.
        """
        if not visitor.javascript:
            for _, msg in live:
                self._settle(msg, "no_javascript")
            return
        dwell = page.dwell
        load = self.script()
        # A blocker stops the tag (or the ad pixel) whatever the visitor does next, so it is the
        # cause for a blocked visitor even on a page left before the tag would have loaded.
        ads, sendable = self.ads, []
        for offset, msg in live:
            if visitor.blocked_ads if ads[msg.event] else visitor.blocked:
                self._settle(msg, "blocked")
            else:
                sendable.append((offset, msg))
        if load >= dwell:
            # The visitor left before the tag loaded: the stub's queue dies with the page.
            for _, msg in sendable:
                self._settle(msg, "unload")
            return
        heap: list = []
        seq = 0
        for msg in visitor.store:
            seq += 1
            heap.append((load, seq, msg))
        visitor.store = []
        for offset, msg in sendable:
            seq += 1
            heap.append((offset if offset > load else load, seq, msg))
        if not heap:
            return
        heapq.heapify(heap)
        state = _PageState(self, visitor, t0, page, load, heap, seq)
        state.run()
        state.unload()


class _PageState:
    """Mutable state of one page while its requests race the unload."""

    __slots__ = (
        "path",
        "visitor",
        "t0",
        "dwell",
        "cancels",
        "open_at",
        "teardown",
        "heap",
        "seq",
        "inflight",
        "keepalive",
        "unsent",
    )

    def __init__(
        self,
        path: ClientPath,
        visitor: Visitor,
        t0: float,
        page: Page,
        load: float,
        heap: list,
        seq: int,
    ) -> None:
        self.path = path
        self.visitor = visitor
        self.t0 = t0
        self.dwell = page.dwell
        self.cancels = page.end != BACKGROUND
        self.open_at = load + page.setup  # requests wait for the connection to open
        self.teardown = page.dwell + page.linger
        self.heap = heap  # (ready offset, seq, message): waiting to be sent, retries included
        self.seq = seq
        self.unsent: list[Message] = []  # what is still unsent when the page ends
        self.inflight: list[Message] = []  # sent, not acknowledged when the page ends
        self.keepalive: list[tuple[float, int]] = []  # (arrival offset, bytes) for the quota

    def run(self) -> None:
        """Batch and send until the page ends."""
        path, heap, dwell = self.path, self.heap, self.dwell
        batch_size, interval = path.cfg.batch_size, path.cfg.flush_interval_seconds
        if batch_size == 1:  # one request per event, as soon as it is ready: no batch timer
            send, transport, pop = self.send, path.transport, heapq.heappop
            while heap and heap[0][0] < dwell:
                t, _, msg = pop(heap)
                send([msg], t, transport)
            self.unsent = [m for _, _, m in self.heap]
            return
        queue: list[Message] = []
        started = 0.0
        while heap or queue:
            t_next = heap[0][0] if heap else INF
            t_timer = started + interval if queue else INF
            if t_timer <= t_next:
                if t_timer >= dwell:
                    break
                self.send(queue, t_timer, path.transport)
                queue = []
                continue
            if t_next >= dwell:
                break
            t, _, msg = heapq.heappop(heap)
            if not queue:
                started = t
            queue.append(msg)
            if len(queue) >= batch_size:
                self.send(queue, t, path.transport)
                queue = []
        self.unsent = [m for _, _, m in heap] + queue

    def _quota_ok(self, at: float, nbytes: int) -> bool:
        busy = sum(b for arrival, b in self.keepalive if arrival > at)
        return busy + nbytes <= self.path.cfg.keepalive_quota_bytes

    def send(self, msgs: list[Message], s: float, transport: str) -> None:
        """Send one request carrying ``msgs`` at page offset ``s``."""
        path, dwell, log = self.path, self.dwell, self.path.log
        path.requests += 1
        for m in msgs:
            m.attempts += 1
            m.cause = None
            if log is not None:
                log("send:" + transport, m, s)
        if transport == "fetch_keepalive" and not self.visitor.keepalive:
            transport = "fetch"  # a browser version without keepalive sends a plain fetch
        if transport == "beacon" and self.visitor.blocked_beacon:
            for m in msgs:
                path._settle(m, "blocked")
            return
        survives = transport in SURVIVES_UNLOAD or not self.cancels
        if transport in SURVIVES_UNLOAD:
            nbytes = sum(path.bytes[m.event] for m in msgs)
            if not self._quota_ok(s, nbytes):
                # sendBeacon returns false / keepalive fetch rejects at once: detectable.
                self.failed(msgs, s, "unload" if s >= dwell else "network")
                return
        up, back, u = path.request_variates(msgs, s)
        if transport == "beacon" and path.beacon_handshake:
            written = s + path.beacon_handshake * up  # on a new connection of its own
        else:
            written = s if s > self.open_at else self.open_at
        arrive = written + up
        failed = u < path.failure_probability or (
            path.outages.starts and path.outages.down(self.t0 + s)
        )
        if transport in SURVIVES_UNLOAD:
            self.keepalive.append((arrive, nbytes))
        if transport == "beacon":
            # Fire and forget: the library counts a queued beacon as sent and never retries.
            for m in msgs:
                if not failed:
                    m.arrivals.append(self.t0 + arrive)
                path._settle(m, "network")
            return
        if failed:
            if arrive < dwell:
                self.failed(msgs, arrive, "network")
            else:
                for m in msgs:
                    m.cause = "network"
                self.inflight.extend(msgs)
            return
        # Written before the teardown, it arrives even after the page is gone; a page-hide send
        # is written at the teardown itself, too late.
        before = s < dwell and written < self.teardown
        if before or survives:
            for m in msgs:
                m.arrivals.append(self.t0 + arrive)
                if log is not None:
                    log("arrive", m, arrive)
        if before and arrive + back < self.teardown:
            for m in msgs:
                path._settle(m, None)
        else:
            self.inflight.extend(msgs)

    def failed(self, msgs: list[Message], at: float, cause: str) -> None:
        """A request failed visibly at page offset ``at``: retry or give up."""
        path = self.path
        for m in msgs:
            m.cause = cause
            if m.attempts >= path.max_attempts:
                path._settle(m, "retries_exhausted")
            elif path.store_kind == "none":
                path._settle(m, cause)
            else:
                self.seq += 1
                heapq.heappush(self.heap, (at + path._delay(m.attempts), self.seq, m))

    def unload(self) -> None:
        """The page ends: page-hide flush, cancellation, persistence."""
        path, visitor = self.path, self.visitor
        unsent = self.unsent
        fires = path.unload_u() < visitor.handler_p
        if path.log is not None:
            path.log("pagehide" if fires else "no-handler", None, self.dwell)
        if fires and unsent:
            self.heap = []
            self._flush(unsent)
            # Requests the quota rejected at page-hide wait for a retry that never comes.
            unsent = [m for _, _, m in self.heap]
        leftover = self.inflight + unsent
        if not leftover:
            return
        persist = path.store_kind == "local_storage" and (fires or path.persist_on_add)
        for m in leftover:
            if m.client_done:
                continue
            if persist and m.attempts < path.max_attempts:
                visitor.store.append(m)
            elif persist:
                path._settle(m, "retries_exhausted")
            else:
                path._settle(m, m.cause or "unload")
        store = visitor.store
        if len(store) > path.max_items:
            store.sort(key=lambda m: m.made)  # the oldest events go first (stable for ties)
            while len(store) > path.max_items:
                path._settle(store.pop(0), "queue_full")

    def _flush(self, msgs: list[Message]) -> None:
        """Send what is queued at page-hide with the unload transport, within the quota."""
        path, at = self.path, self.dwell
        transport = path.unload_transport
        if transport == "fetch_keepalive" and not self.visitor.keepalive:
            transport = "fetch"
        if transport not in SURVIVES_UNLOAD:
            self.send(msgs, at, transport)
            return
        quota = path.cfg.keepalive_quota_bytes
        chunk: list[Message] = []
        size = 0
        for m in msgs:
            b = path.bytes[m.event]
            if chunk and size + b > quota:
                self.send(chunk, at, transport)
                chunk, size = [], 0
            chunk.append(m)
            size += b
        if chunk:
            self.send(chunk, at, transport)


def standalone(
    scenario: Scenario, seed: np.random.SeedSequence, log: Callable | None = None
) -> tuple[ClientPath, TallyBuffer]:
    """A client path with its own collector and tally, to drive synthetic pages through.

    Parameters
    ----------
    scenario : Scenario
        Gives the client and collector settings.
    seed : numpy.random.SeedSequence
        Seeds the path's streams (and its collector outages).
    log : callable, optional
        See :class:`ClientPath`.

    Returns
    -------
    tuple of (ClientPath, TallyBuffer)
        The path, and the buffer its collector counts into.
    """
    buffer = TallyBuffer(layout_of(scenario))
    col = scenario.collector
    collector = Collector(buffer, col.dedupe, col.dedupe_window_hours * 3600.0)
    streams = Streams(seed)
    end = (scenario.simulation.horizon_hours + scenario.simulation.drain_hours) * 3600.0
    outages = Outages(col, end, streams.rng("outages"))
    return ClientPath(scenario, collector, outages, streams, log), buffer
