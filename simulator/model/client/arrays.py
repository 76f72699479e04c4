"""Client fates in numpy blocks, for libraries that send one xhr/fetch request per event.

When the browser library sends every event in its own ``xhr`` or ``fetch`` request (batch size
one; Segment analytics-next's standard mode), the fates of two events on a page are
independent given the page: its start, dwell time, how it ends, when the tag loaded and whether
the page-hide handler ran. So a whole block of pages is settled with array arithmetic, exactly
as :class:`~simulator.model.client.page.ClientPath` settles one page (the general path, which the
tests keep as the reference):

* a blocked visitor's events are ``blocked``; on a page left before the tag loads, ``unload``;
* each request's bytes are written once the page's connection is open (at once when it is warm:
  :mod:`simulator.model.client.connection`) and arrive one upload latency later; a navigation or
  a close cancels a request not yet written when the page is torn down (a page that only goes
  to the background lets every request complete); the page sees the answer only if it comes
  before the teardown; a failure (or a collector outage) seen before the page ends is retried
  after a backoff, in rounds, up to ``max_attempts``;
* at the end of the page the handler may run; if it does, the retries still waiting go out in
  one request with the unload transport; what is in flight or waiting is then persisted to the
  ``local_storage`` store, or settled;
* the store is resent at the next page's load (a duplicate when the cancelled request had in
  fact arrived) and carried to the visitor's next visit; beyond ``max_items`` the oldest events
  are dropped (``queue_full``).

Pages interact only through the store, so they are visited in order of their position in the
visit, and only the few events that are stored take part in that loop. Each round of the race (a
send of every message due, then its retries) runs in the compiled request race
(:mod:`simulator.model.client.request_race`) where it was built, else in numpy passes; both take
the round's variates in the same order and settle alike, to the last bit.
"""

from __future__ import annotations

import bisect

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.client.connection import with_connections
from simulator.model.client.settler import (
    DELIVERED_STATUS,
    NO_CAUSE,
    MessageState,
    Pages,
    page_groups,
    position_order,
    settled_groups,
)
from simulator.model.collector import LOST
from simulator.model.compiled import built
from simulator.model.outages import Outages
from simulator.model.streams import Streams

request_race = built(
    "simulator.model.client.request_race",
    ("request_race.pyx", "arrivals.pxd", "../sorted_times.pxd"),
    "the request race",
    "racing each round on arrays instead",
)

EMPTY = np.zeros(0, np.int64)
"""No rows (never written to)."""
UNSENT_CAUSES = ("no_javascript", "blocked", "unload")
"""Why a message is never sent, in order of precedence: no JavaScript runs, a blocker stops the
request, or the page is left before the tag loads."""


class OneRequestClient:
    """Settles the client copies of a block of pages (see the module docstring).

    Parameters
    ----------
    scenario : Scenario
        Gives the client settings.
    outages : Outages
        Collector outages (requests sent during one fail).
    streams : Streams
        Uses the ``script``, ``network``, ``unload`` and ``connection`` streams.
    """

    def __init__(self, scenario: Scenario, outages: Outages, streams: Streams) -> None:
        cfg = scenario.client
        self.cfg = cfg
        self.script_rng = streams.rng("script")
        self.net = streams.rng("network")
        self.unload_rng = streams.rng("unload")
        self.connection_rng = streams.rng("connection")
        con = cfg.connection
        # A beacon on a connection of its own pays the handshake's round trips (2 L each).
        self.beacon_handshake = 2.0 * con.handshake_round_trips * con.beacon_own_connection
        self.outages = outages
        self.outage_spans = (np.asarray(outages.starts, float), np.asarray(outages.ends, float))
        r = cfg.retry
        self.store_kind = r.store
        self.persist_on_add = r.persist == "on_add"
        self.max_attempts = r.max_attempts
        self.max_items = r.max_items
        self.retry = r
        self.window = scenario.collector.dedupe_window_hours * 3600.0
        self.dedupe = scenario.collector.dedupe
        self.ads = np.array([e.request_class == "ads" for e in scenario.events])
        self.requests = 0

    # -- helpers --------------------------------------------------------------------------

    def _arrive(
        self, s: MessageState, rows: np.ndarray, t: np.ndarray, first: bool = False
    ) -> None:
        """Record arrivals (rows distinct), earlier than one already recorded or not.

        ``first``: none of the messages has arrived before.

        A request in flight when its page ends may reach the collector after the same events,
        resent from the store on the next page, do. The earliest arrival is the first; a
        message's state keeps only its first arrival and how many came later than the dedupe
        window after it, so the arrivals within the window are taken at the first, as the
        page-by-page path takes them when a message is carried in.
        """
        if first:
            s.n[rows] = 1
            s.first[rows] = t
            return
        n = s.n[rows]
        s.n[rows] = n + 1
        seen = n > 0
        if not seen.any():  # the common case: every message's first arrival
            s.first[rows] = t
            return
        s.first[rows[~seen]] = t[~seen]
        rows, t, n = rows[seen], t[seen], n[seen]
        first, late = s.first[rows], s.late[rows]
        earlier = t < first
        s.late[rows] = np.where(earlier, np.where(first - t > self.window, n, late),
                                late + (t - first > self.window))  # fmt: skip
        s.first[rows] = np.minimum(first, t)

    def _attempt(self, s: MessageState, rows: np.ndarray, fresh: bool = False) -> None:
        """A request of ``rows`` goes out: one more attempt each, with no failure yet.

        ``fresh``: the messages are new (never sent, never failed), so nothing is read.
        """
        if fresh:
            s.attempts[rows] = 1
        else:
            s.attempts[rows] += 1
            s.cause[rows] = NO_CAUSE

    def _exhausted(
        self, s: MessageState, rows: np.ndarray, visible: np.ndarray, fresh: bool = False
    ) -> np.ndarray:
        """Which of ``rows``, whose failure the page saw (``visible``), have no attempt left."""
        if fresh:  # a first attempt
            return visible & (self.max_attempts <= 1)
        return visible & (s.attempts[rows] >= self.max_attempts)

    def _settle(self, rows: np.ndarray, cause: int | np.ndarray) -> None:
        self._settled_rows.append(rows)
        self._settled_cause.append(cause)  # one code for the group (or one a row): expanded once

    def request_variates(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` requests' upload latencies, response latencies and failure uniforms.

        Drawn in this order for every request, whether or not its response is looked at, so
        that a request takes the same draws whichever settler sends it.
        """
        cfg = self.cfg
        up = cfg.upload_latency_seconds.sample(self.net, n)
        back = cfg.response_latency_seconds.sample(self.net, n)
        return up, back, self.net.random(n)

    def _settled_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """Every message settled in the block so far, and its cause (or delivered) code."""
        return settled_groups(self._settled_rows, self._settled_cause)

    def _settled(self, s: MessageState) -> tuple[np.ndarray, np.ndarray]:
        """The block's settled rows and their status: delivered where a copy arrived."""
        rows, status = self._settled_groups()
        status[s.n[rows] > 0] = DELIVERED_STATUS
        return rows, status

    def _begin(self, pages: Pages) -> Pages:
        """Draw each page's tag load, page-hide handler and connection; returns the pages."""
        self._settled_rows, self._settled_cause = [], []
        n_pages = pages.dwell.size
        load = self.cfg.script_load_seconds.sample(self.script_rng, n_pages)
        fires = self.unload_rng.random(n_pages) < pages.handler_p
        pages = with_connections(self.cfg, pages, self.connection_rng)
        self.open_at, self.teardown = load + pages.setup, pages.dwell + pages.linger
        self.live = pages.javascript & (load < pages.dwell)
        self.load, self.fires, self.pages = load, fires, pages
        return pages

    def _sendable(
        self, pages: Pages, rows: np.ndarray, page: np.ndarray, event: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Settle the new messages that are never sent; return the others' rows and pages.

        A message's fate here is its page's, for its request class: found per page first, so
        each message looks up one code instead of every page attribute. ``rows`` are sorted and
        distinct; the new messages come first in a block, so they are usually ``0 .. k - 1``,
        whose pages are read as they lie.
        """
        p = page[: rows.size] if not rows.size or rows[-1] == rows.size - 1 else page[rows]
        fate = self._unsent_fate(pages, pages.blocked)[p]
        if self.ads.any():
            ads = self.ads[event[rows]]
            fate[ads] = self._unsent_fate(pages, pages.blocked_ads)[p[ads]]
        for code, cause in enumerate(UNSENT_CAUSES, start=1):
            self._settle(rows[fate == code], LOST[cause])
        go = fate == 0
        return rows[go], p[go]

    def _unsent_fate(self, pages: Pages, blocked: np.ndarray) -> np.ndarray:
        """Per page: 0 if a message is sent, else where in :data:`UNSENT_CAUSES` it is lost (+1)."""
        fate = np.where(self.live, 0, 3).astype(np.int8)
        fate[blocked] = 2
        fate[~pages.javascript] = 1
        return fate

    # -- a block ----------------------------------------------------------------------------
    def settle(
        self,
        pages: Pages,
        s: MessageState,
        page: np.ndarray,
        offset: np.ndarray,
        event: np.ndarray,
        carried: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Settle a block's messages; see :meth:`simulator.model.client.settler.Settler.settle`."""
        pages = self._begin(pages)
        rows, p = self._sendable(pages, np.flatnonzero(~carried), page, event)
        inflight, unsent = self._race(s, rows, p, np.maximum(offset[rows], self.load[p]), True)
        in_rows = np.flatnonzero(carried)
        out_rows, out_page = self._walk_store(s, inflight, unsent, in_rows, page[in_rows])
        return (*self._settled(s), out_rows, out_page)

    def _walk_store(
        self,
        s: MessageState,
        inflight: tuple[np.ndarray, np.ndarray],
        unsent: tuple[np.ndarray, np.ndarray],
        in_rows: np.ndarray,
        in_page: np.ndarray,
        visit: np.ndarray = EMPTY,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Page-hide of every page, and the store carried from each page to the next.

        Pages interact only through the store, so pages are walked by their position in the
        visit with the few messages still open: those left in flight or waiting on the page
        (``inflight``, ``unsent``: rows and pages) and those the store carries in
        (``in_rows`` entering ``in_page``, a visit's first page). Positions with none are
        skipped, but for those in ``visit``, where :meth:`_settle_position` settles what a
        settler keeps for them. Returns the rows left in a store at the end of their visit, and
        the visit's last page.
        """
        pages, load = self.pages, self.load
        lo_rows = np.concatenate([inflight[0], unsent[0]])
        lo_page = np.concatenate([inflight[1], unsent[1]])
        lo_unsent = np.arange(lo_rows.size) >= inflight[0].size
        order = position_order(pages.position[lo_page])
        lo_rows, lo_page, lo_unsent = lo_rows[order], lo_page[order], lo_unsent[order]
        lo_pos = pages.position[lo_page]
        out = [EMPTY], [EMPTY]
        # Where there is something to do with nothing carried in: positions (distinct, sorted).
        stops = np.flatnonzero(np.bincount(np.concatenate([lo_pos, visit]))).tolist()
        k = 0
        while True:
            if not in_rows.size:  # nothing carried: on to the next position with work
                i = bisect.bisect_left(stops, k)
                if i == len(stops):
                    break
                k = stops[i]
            a, b = np.searchsorted(lo_pos, [k, k + 1])
            rows_k, page_k, unsent_k = lo_rows[a:b], lo_page[a:b], lo_unsent[a:b]
            stay = ~self.live[in_page]  # the tag never loaded: the store is left untouched
            kept = [in_rows[stay]], [in_page[stay]]
            go_rows, go_page = self._settle_position(s, k, in_rows[~stay], in_page[~stay], kept)
            if go_rows.size:
                fl, un = self._race(s, go_rows, go_page, load[go_page])
                rows_k = np.concatenate([rows_k, fl[0], un[0]])
                page_k = np.concatenate([page_k, fl[1], un[1]])
                unsent_k = np.concatenate([unsent_k, np.zeros(fl[0].size, bool),
                                           np.ones(un[0].size, bool)])  # fmt: skip
            stored, stored_page = self._page_end(s, rows_k, page_k, unsent_k)
            rows_k = np.concatenate([*kept[0], stored])
            page_k = np.concatenate([*kept[1], stored_page])
            in_rows, in_page = self._carry(rows_k, page_k, out)
            k += 1
        return np.concatenate(out[0]), np.concatenate(out[1])

    def _settle_position(
        self, s: MessageState, k: int, rows: np.ndarray, page: np.ndarray, kept: tuple
    ) -> tuple[np.ndarray, np.ndarray]:
        """What a settler does at visit position ``k`` before the store's messages race there.

        ``rows`` are the messages the store carries into ``page`` (at position ``k``, tag
        loaded). A settler that keeps pages of its own for the walk settles them here and
        appends their stores' ``(rows, page)`` to the lists ``kept``. Returns the carried
        messages left for the plain race: here, all of them.
        """
        return rows, page

    def _race(
        self,
        s: MessageState,
        rows: np.ndarray,
        page: np.ndarray,
        ready: np.ndarray,
        fresh: bool = False,
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """Send each message at ``ready`` and retry failures while the page lives.

        ``fresh``: every message is new (never sent, as :attr:`MessageState.UNSENT`), so its
        first round needs none of their state. Returns ``(rows, page)`` of the messages in
        flight at the end of the page and of those still waiting to be sent (a retry due after
        the page ended).
        """
        pg, cfg = self.pages, self.cfg
        inflight_r, inflight_p, unsent_r, unsent_p = [], [], [], []
        while rows.size:
            dwell = pg.dwell[page]
            due = ready < dwell
            if not due.all():  # most are ready before their page ends
                unsent_r.append(rows[~due])
                unsent_p.append(page[~due])
                rows, page, ready, dwell = rows[due], page[due], ready[due], dwell[due]
            n = rows.size
            if not n:
                break
            self.requests += n
            if request_race is not None:
                rows, page, ready = self._race_round(s, rows, page, ready, fresh, inflight_r,
                                                     inflight_p)  # fmt: skip
                fresh = False
                continue
            self._attempt(s, rows, fresh)
            up, back, u = self.request_variates(n)
            t0 = pg.t0[page]
            written = np.maximum(ready, self.open_at[page])
            arrive = written + up
            teardown = self.teardown[page]
            failed = (u < cfg.failure_probability) | self.outages.down_at(t0 + ready)
            early = arrive < dwell
            s.cause[rows[failed]] = LOST["network"]
            visible = failed & early
            exhausted = self._exhausted(s, rows, visible, fresh)
            self._settle(rows[exhausted], LOST["retries_exhausted"])
            retry = visible & ~exhausted
            if self.store_kind == "none":
                self._settle(rows[retry], LOST["network"])
                retry[:] = False
            ok = ~failed
            arrived = ok & ((written < teardown) | ~pg.cancels[page])
            self._arrive(s, rows[arrived], (t0 + arrive)[arrived], fresh)
            acked = ok & (arrive + back < teardown)
            self._settle(rows[acked], DELIVERED_STATUS)
            flying = (failed & ~early) | (ok & ~acked)
            inflight_r.append(rows[flying])
            inflight_p.append(page[flying])
            rows, page = rows[retry], page[retry]
            delay = self.retry.retry_delay(s.attempts[rows])
            ready = arrive[retry] + delay
            fresh = False
        return (
            (np.concatenate([EMPTY, *inflight_r]), np.concatenate([EMPTY, *inflight_p])),
            (np.concatenate([EMPTY, *unsent_r]), np.concatenate([EMPTY, *unsent_p])),
        )

    def _race_round(
        self,
        s: MessageState,
        rows: np.ndarray,
        page: np.ndarray,
        ready: np.ndarray,
        fresh: bool,
        inflight_r: list[np.ndarray],
        inflight_p: list[np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A round of :meth:`_race` in the compiled request race, on the round's variates.

        Settles and notes in flight what the round on arrays does, in the same order, and
        returns the messages to retry, their pages and when each is ready again.
        """
        pg, cfg = self.pages, self.cfg
        up, back, u = self.request_variates(rows.size)
        exhausted, dropped, acked, flying, flying_page, rows, page, arrive = (
            request_race.race_round(
                rows, page, ready, up, back, u, fresh, pg.dwell, pg.t0, self.open_at,
                self.teardown, pg.cancels.view(np.uint8), *self.outage_spans,
                cfg.failure_probability, self.max_attempts,
                self.store_kind != "none", self.window, s.attempts, s.cause, s.n, s.first,
                s.late, LOST["network"], NO_CAUSE,
            )
        )  # fmt: skip
        self._settle(exhausted, LOST["retries_exhausted"])
        if self.store_kind == "none":
            self._settle(dropped, LOST["network"])
        self._settle(acked, DELIVERED_STATUS)
        inflight_r.append(flying)
        inflight_p.append(flying_page)
        return rows, page, arrive + self.retry.retry_delay(s.attempts[rows])

    def _persist_or_settle(
        self, s: MessageState, rows: np.ndarray, page: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """What is left open at page-hide: stored if the store takes it, else settled.

        A message not stored is lost with its last failure, or to the unload if none. Returns
        the ``(rows, page)`` stored, in their order (before the store's cap).
        """
        if self.store_kind == "local_storage":
            persist = self.fires[page] | self.persist_on_add
        else:
            persist = np.zeros(rows.size, dtype=bool)
        keep = persist & (s.attempts[rows] < self.max_attempts)
        self._settle(rows[persist & ~keep], LOST["retries_exhausted"])
        gone = rows[~persist]
        cause = s.cause[gone]
        failed = cause != NO_CAUSE
        self._settle(gone[~failed], LOST["unload"])
        if failed.any():  # by cause code, ascending (a code is a small index)
            for code in np.flatnonzero(np.bincount(cause[failed])).tolist():
                self._settle(gone[cause == code], code)
        return rows[keep], page[keep]

    def _carry(
        self, rows: np.ndarray, page: np.ndarray, out: tuple[list, list]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The store at each page's end: kept in ``out`` at a visit's last page, else carried.

        Returns the ``(rows, page)`` carried into the next page of their visit.
        """
        end = self.pages.last[page]
        out[0].append(rows[end])
        out[1].append(page[end])
        return rows[~end], page[~end] + 1

    def _page_end(
        self, s: MessageState, rows: np.ndarray, page: np.ndarray, unsent: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Page-hide: flush what waits, then persist or settle what is left; returns the store."""
        pg, cfg = self.pages, self.cfg
        fires = self.fires[page]
        flush = unsent & fires
        if flush.any():
            # One request per page carries everything still queued, with the unload transport.
            fl_pages, which = page_groups(page[flush])
            m = fl_pages.size
            self.requests += m
            up, _, u = self.request_variates(m)
            at = pg.t0[fl_pages] + pg.dwell[fl_pages]
            failed = ((u < cfg.failure_probability) | self.outages.down_at(at))[which]
            fr = rows[flush]
            s.attempts[fr] += 1
            s.cause[fr] = np.where(failed, LOST["network"], NO_CAUSE)
            # It leaves at page-hide, so it survives only a page that is not torn down; its bytes
            # go once the page's connection is open.
            arrived = ~failed & ~pg.cancels[fl_pages][which]
            written = np.maximum(pg.dwell[fl_pages], self.open_at[fl_pages])
            self._arrive(s, fr[arrived], (pg.t0[fl_pages] + written + up)[which][arrived])
        rows, page = self._persist_or_settle(s, rows, page)
        if rows.size > self.max_items:
            counts = np.bincount(page)
            if counts.max() > self.max_items:
                # Oldest first out: rank each page's stored messages by creation time.
                order = np.lexsort((-s.seq[rows], page))
                rows, page = rows[order], page[order]
                start = np.searchsorted(page, page)
                over = (np.arange(rows.size) - start) >= self.max_items
                self._settle(rows[over], LOST["queue_full"])
                rows, page = rows[~over], page[~over]
        return rows, page
