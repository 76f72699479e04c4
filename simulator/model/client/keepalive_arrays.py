"""Client fates in numpy blocks for one request per event with any transport, keepalive included.

:class:`KeepaliveClient` settles a library that sends every event in its own request (batch size
one) when the transport or the page-hide transport is ``fetch_keepalive`` or ``beacon``
(:mod:`~simulator.model.client.transports`). It works as
:class:`~simulator.model.client.arrays.OneRequestClient` does, page by page only through the
retry store, with what the surviving transports add:

* a keepalive request is not cancelled by the unload, so its arrival does not race the page's
  end; in a browser that ignores keepalive it is a plain ``fetch``;
* a beacon is fire and forget (settled at once, never retried) and is stopped by a blocker's
  ``$ping`` rules; the page-hide flush goes out in one request per page with the page-hide
  transport;
* the 64 KiB in-flight quota, shared by the keepalive and beacon requests of a page, couples
  the requests of that page. It never binds on a page whose messages weigh no more than the quota
  (:func:`~simulator.model.client.transports.quota_bound`), and on such a page the requests are
  independent given the page, as on arrays.

Pages whose bound is met before the walk starts (what they make, plus all the store could carry
into them) are raced on arrays at once. The others are raced too, ahead of the walk over visit
positions, as if the store carried nothing into them and as if the quota did not exist,
recording every variate drawn. When the walk reaches a page the store did carry into, that
page's race is voided and it is raced again with what was carried in: whether the store carries
into a page depends only on the pages before it, so its fresh variates bias nothing. For the
other pages, interval stabbing finds the few where the bytes in flight overran the quota; only
those are settled again, exactly and in sequence, by the page-by-page path on the same variates
(:mod:`~simulator.model.client.optimistic_race`); on every other page the race is what the
sequential path would have done with those variates, so nothing is biased. A race hands its
variates to its messages in row order, whatever order the store carried them in, so which
message gets which draw does not depend on which earlier pages were settled again.
"""

from __future__ import annotations

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.client.arrays import EMPTY
from simulator.model.client.optimistic_race import Ahead, OptimisticRaceClient
from simulator.model.client.settler import (
    DELIVERED_STATUS,
    NO_CAUSE,
    MessageState,
    Pages,
    distinct_pages,
    page_groups,
)
from simulator.model.client.transports import (
    BEACON,
    KEEPALIVE,
    PLAIN,
    quota_bound,
    request_kind,
    uses_quota,
    written_before_teardown,
)
from simulator.model.collector import LOST
from simulator.model.outages import Outages
from simulator.model.streams import Streams


class KeepaliveClient(OptimisticRaceClient):
    """Settles one request per event with surviving transports (see the module docstring).

    Parameters
    ----------
    scenario : Scenario
        Gives the client settings and each event type's payload size.
    outages : Outages
        Collector outages (requests sent during one fail).
    streams : Streams
        Uses the ``script``, ``network`` and ``unload`` streams.
    """

    def __init__(self, scenario: Scenario, outages: Outages, streams: Streams) -> None:
        super().__init__(scenario, outages, streams)
        self.transport = self.cfg.transport
        self.unload_transport = self.cfg.resolved_unload_transport
        self.nbytes = np.array([e.bytes for e in scenario.events], dtype=float)
        self.ahead: Ahead | None = None  # the block's pages raced ahead of the walk
        self.waits = np.zeros(0, bool)  # per page of the block: raced ahead

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
        pages = self._begin(pages)  # with its connection draws, which a replayed page keeps
        load = self.load
        self.offset, self.event = offset, event
        self._kinds(pages)
        self.quota_pages = uses_quota(self.kind, pages.blocked_beacon) | uses_quota(
            self.unload_kind, pages.blocked_beacon
        )
        rows, p = self._sendable(pages, np.flatnonzero(~carried), page, event)
        in_rows = np.flatnonzero(carried)
        present = np.concatenate([rows, in_rows])
        ready = np.maximum(offset[rows], load[p])
        # A beacon sent during a page that keeps within the quota is settled at once: only
        # other messages, those not due before the page ends and those carried in can be left
        # open for the next page there.
        leaves = (self.kind[p] != BEACON) | (ready >= pages.dwell[p])
        bound = quota_bound(
            pages, page[present], self.nbytes[event[present]], self.store_kind == "local_storage",
            np.concatenate([leaves, np.ones(in_rows.size, bool)]), self.quota,
        )  # fmt: skip
        now = ~self.quota_pages[p] | (bound[p] <= self.quota)
        inflight, unsent = self._race(s, rows[now], p[now], ready[now], True)
        # The others are raced now too, as if the store carried nothing into them; the walk
        # races again those it does carry into, and checks the rest (_settle_position).
        self.ahead = self._race_ahead(s, rows[~now], p[~now], ready[~now])
        self.waits = np.zeros(pages.position.size, bool)
        self.waits[p[~now]] = True
        ahead = pages.position[p[~now]]  # positions whose pages raced ahead are settled there
        out_rows, out_page = self._walk_store(s, inflight, unsent, in_rows, page[in_rows], ahead)
        return (*self._settled(s), out_rows, out_page)

    def _kinds(self, pages: Pages) -> None:
        """Each page's request kind for its events and for its page-hide flush."""
        self.kind = request_kind(self.transport, pages.keepalive)
        self.unload_kind = request_kind(self.unload_transport, pages.keepalive)

    def _settle_position(
        self, s: MessageState, k: int, rows: np.ndarray, page: np.ndarray, kept: tuple
    ) -> tuple[np.ndarray, np.ndarray]:
        """The pages at position ``k`` raced ahead: again if the store carries into them.

        See :meth:`simulator.model.client.arrays.OneRequestClient._settle_position`.
        """
        waiting = self.waits[page]  # carried into a page raced ahead: race it again
        if waiting.any():
            here = (rows[waiting], page[waiting], self.load[page[waiting]])
            stored = self._race_ahead_again(s, self.ahead, distinct_pages(here[1]), k, here)
            kept[0].append(stored[0])
            kept[1].append(stored[1])
            rows, page = rows[~waiting], page[~waiting]
        stored = self._settle_ahead(s, self.ahead, k)
        kept[0].append(stored[0])
        kept[1].append(stored[1])
        return rows, page

    def _race_pages(
        self, s: MessageState, rows: np.ndarray, page: np.ndarray, ready: np.ndarray
    ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        """Race one request per event, then page-hide; only the quota can make a page wrong."""
        fl, un = self._race(s, rows, page, ready)
        stored = self._page_end(
            s,
            np.concatenate([fl[0], un[0]]),
            np.concatenate([fl[1], un[1]]),
            np.arange(fl[0].size + un[0].size) >= fl[0].size,
        )
        return stored, EMPTY

    def _race(
        self,
        s: MessageState,
        rows: np.ndarray,
        page: np.ndarray,
        ready: np.ndarray,
        fresh: bool = False,
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """Send each message at ``ready`` with the page's transport; retry visible failures.

        ``fresh``: every message is new, as for
        :meth:`~simulator.model.client.arrays.OneRequestClient._race`. Returns ``(rows, page)``
        of the messages in flight at the end of the page and of those still waiting to be sent.
        """
        pg, cfg = self.pages, self.cfg
        if rows.size > 1 and (rows[1:] < rows[:-1]).any():
            # Draws go to messages in row order, not in the order the store carried them in.
            order = np.argsort(rows)
            rows, page, ready = rows[order], page[order], ready[order]
        inflight_r, inflight_p, unsent_r, unsent_p = [EMPTY], [EMPTY], [EMPTY], [EMPTY]
        sends = 0  # requests of each message so far on its page
        while rows.size:
            due = ready < pg.dwell[page]
            if not due.all():  # most are ready before their page ends
                unsent_r.append(rows[~due])
                unsent_p.append(page[~due])
                rows, page, ready = rows[due], page[due], ready[due]
            if not rows.size:
                break
            self._count_requests(page)
            self._attempt(s, rows, fresh)
            kind = self.kind[page]
            stopped = (kind == BEACON) & pg.blocked_beacon[page]
            if stopped.any():
                self._settle(rows[stopped], LOST["blocked"])
                rows, page, ready, kind = (x[~stopped] for x in (rows, page, ready, kind))
            n = rows.size
            dwell = pg.dwell[page]
            up, back, u = self.request_variates(n)
            t0 = pg.t0[page]
            beacon = kind == BEACON
            # Written once the connection is open; a beacon opens a connection of its own.
            written = np.where(beacon, ready + self.beacon_handshake * up,
                               np.maximum(ready, self.open_at[page]))  # fmt: skip
            arrive = written + up
            if self.recording is not None:
                self.recording.variates(rows, sends, up, back, u)
                q = beacon | (kind == KEEPALIVE)
                nbytes = self.nbytes[self.event[rows[q]]]
                self.recording.request(page[q], ready[q], arrive[q], nbytes)
            sends += 1
            failed = (u < cfg.failure_probability) | self.outages.down_at(t0 + ready)
            s.cause[rows[failed]] = LOST["network"]
            # Fire and forget: the library counts a queued beacon as sent and never retries.
            sent = beacon & ~failed
            self._arrive(s, rows[sent], (t0 + arrive)[sent], fresh)
            self._settle(rows[beacon], LOST["network"])
            early = arrive < dwell
            visible = ~beacon & failed & early
            exhausted = self._exhausted(s, rows, visible, fresh)
            self._settle(rows[exhausted], LOST["retries_exhausted"])
            retry = visible & ~exhausted
            if self.store_kind == "none":
                self._settle(rows[retry], LOST["network"])
                retry[:] = False
            ok = ~beacon & ~failed
            survives = kind == KEEPALIVE
            teardown = self.teardown[page]
            arrived = ok & (survives | written_before_teardown(pg, page, written, teardown))
            self._arrive(s, rows[arrived], (t0 + arrive)[arrived], fresh)
            acked = ok & (arrive + back < teardown)
            self._settle(rows[acked], DELIVERED_STATUS)
            flying = ~beacon & ((failed & ~early) | (ok & ~acked))
            inflight_r.append(rows[flying])
            inflight_p.append(page[flying])
            rows, page = rows[retry], page[retry]
            ready = arrive[retry] + self.retry.retry_delay(s.attempts[rows])
            fresh = False
        return (
            (np.concatenate(inflight_r), np.concatenate(inflight_p)),
            (np.concatenate(unsent_r), np.concatenate(unsent_p)),
        )

    def _page_end(
        self, s: MessageState, rows: np.ndarray, page: np.ndarray, unsent: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Page-hide: flush what waits with the page-hide transport, then persist or settle."""
        rows, page = self._flush(s, rows, page, unsent)
        # What is left is persisted or settled exactly as for a plain request.
        return super()._page_end(s, rows, page, np.zeros(rows.size, bool))

    def _flush(
        self, s: MessageState, rows: np.ndarray, page: np.ndarray, unsent: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Page-hide flush: what waits on a page whose handler runs goes in one request.

        Returns ``(rows, page)`` of the messages still open (in their order), for the store.
        """
        pg, cfg = self.pages, self.cfg
        flush = unsent & self.fires[page]
        if flush.any():
            # One request per page carries everything still queued (within the quota: the page
            # is within it whole).
            fl_pages, which = page_groups(page[flush])
            m = fl_pages.size
            self._count_requests(fl_pages)
            fr = rows[flush]
            s.attempts[fr] += 1
            # Every page-hide request of a block is a beacon, or none is.
            beacon = self.unload_transport == "beacon"
            up, back, u = self.request_variates(m)
            dwell = pg.dwell[fl_pages]
            at = pg.t0[fl_pages] + dwell
            # From page-hide to arrival: a beacon's own handshake, or the page's connection
            # (open, or still opening), then the upload.
            if beacon:
                written = dwell + self.beacon_handshake * up
            else:
                written = np.maximum(dwell, self.open_at[fl_pages])
            flush_up = written - dwell + up
            if self.recording is not None:
                self.recording.flush(fl_pages, up, back, u)
                q = uses_quota(self.unload_kind[fl_pages], pg.blocked_beacon[fl_pages])
                if q.any():
                    nbytes = np.bincount(which, weights=self.nbytes[self.event[fr]], minlength=m)
                    self.recording.request(fl_pages[q], dwell[q], (dwell + flush_up)[q], nbytes[q])
            failed = ((u < cfg.failure_probability) | self.outages.down_at(at))[which]
            s.cause[fr] = np.where(failed, LOST["network"], NO_CAUSE)
            if beacon:  # fire and forget, unless the visitor's blocker stops it
                stopped = pg.blocked_beacon[fl_pages][which]
                arrived = ~failed & ~stopped
            else:  # sent at page-hide, a plain request is written too late for a page torn down
                survives = (self.unload_kind[fl_pages] != PLAIN) | ~pg.cancels[fl_pages]
                arrived = ~failed & survives[which]
            self._arrive(s, fr[arrived], (at + flush_up)[which][arrived])
            if beacon:
                self._settle(fr[stopped], LOST["blocked"])
                self._settle(fr[~stopped], LOST["network"])
                rows, page = rows[~flush], page[~flush]
        return rows, page


__all__ = ["KeepaliveClient"]
