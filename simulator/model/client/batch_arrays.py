"""Client fates in numpy blocks for batching libraries, with any transport.

:class:`BatchClient` settles a library that queues events and sends them in batches
(``batch_size`` > 1) as :class:`~simulator.model.client.page.ClientPath` does page by page,
but for every page of a visit position at once:

* each page's queue (the store's events at the tag's load, then the page's events as they are
  made) is cut into batches by size and timer (:func:`~simulator.model.client.batches.cut`);
* each batch that leaves before the page ends is one request: its latencies, failure and
  collector outage are drawn once, and every event of the batch shares its fate, by the rules
  of its transport (:mod:`~simulator.model.client.transports`: a plain request arrives if it is
  written before the teardown, a keepalive one survives the unload, a beacon is fire and
  forget);
* at page-hide, if the handler runs, the last batch still queued goes with the page-hide
  transport; then what is in flight or queued is persisted to the store, in the order the
  library holds it, or settled.

That is exact on a page as long as no failed batch comes back into the queue (a retry changes
how the later batches are cut), the keepalive quota never binds and the page-hide flush fits in
one request. All are rare, and known only once the page has been raced: the race records every
variate it draws (by request: a batch is keyed by its last event), and the pages where a
visible failure is retried, where the bytes in flight overran the quota (interval stabbing over
the recorded requests) or where the flush is chunked are settled again, exactly and in
sequence, by the page-by-page path on the same variates
(:mod:`~simulator.model.client.quota_replay`). Every other page's race is what the sequential
path does with those variates, so nothing is biased by which pages are replayed.

Pages interact only through the store, so the pages are walked by their position in the visit,
with the store each page carries to the next (in its order: it decides which events share the
next page's first batch).
"""

from __future__ import annotations

import numpy as np

from simulator.config.scenario import Scenario
from simulator.config.tracking import SURVIVES_UNLOAD
from simulator.model.client.arrays import EMPTY
from simulator.model.client.batches import cut, queue_order
from simulator.model.client.keepalive_arrays import KeepaliveClient
from simulator.model.client.settler import (
    DELIVERED_STATUS,
    MessageState,
    Pages,
    distinct_pages,
    position_order,
)
from simulator.model.client.transports import (
    KEEPALIVE,
    PLAIN,
    written_before_teardown,
)
from simulator.model.collector import LOST
from simulator.model.outages import Outages
from simulator.model.streams import Streams


class BatchClient(KeepaliveClient):
    """Settles a batching library's client copies (see the module docstring).

    Parameters
    ----------
    scenario : Scenario
        Gives the client settings and each event type's payload size.
    outages : Outages
        Collector outages (requests sent during one fail).
    streams : Streams
        Uses the ``script``, ``network``, ``unload`` and ``connection`` streams.
    """

    def __init__(self, scenario: Scenario, outages: Outages, streams: Streams) -> None:
        super().__init__(scenario, outages, streams)
        self.size = self.cfg.batch_size
        self.interval = self.cfg.flush_interval_seconds

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
        self.event = event
        # The page-by-page path queues carried messages by their "offset": their store order.
        self.offset = offset.astype(float)
        self._kinds(pages)
        rows, p = self._sendable(pages, np.flatnonzero(~carried), page, event)
        ready = np.maximum(offset[rows], self.load[p])
        in_rows = np.flatnonzero(carried)
        out_rows, out_page = self._walk(s, (rows, p, ready), in_rows, page[in_rows])
        return (*self._settled(s), out_rows, out_page)

    def _walk(
        self,
        s: MessageState,
        new: tuple[np.ndarray, np.ndarray, np.ndarray],
        in_rows: np.ndarray,
        in_page: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every page, by its position in the visit, with the store each carries to the next.

        ``new`` are the rows, pages and ready offsets of the messages made on live pages;
        ``in_rows`` (in store order) enter ``in_page``, a visit's first page. Returns the rows
        left in a store at the end of their visit (in store order) and the visit's last page.
        """
        pages = self.pages
        order = position_order(pages.position[new[1]])
        new_rows, new_page, new_ready = (x[order] for x in new)
        new_pos = pages.position[new_page]
        out = [EMPTY], [EMPTY]
        k, top = 0, int(new_pos.max(initial=-1))
        while in_rows.size or k <= top:
            a, b = np.searchsorted(new_pos, [k, k + 1])
            stay = ~self.live[in_page]  # the tag never loaded: the store is left untouched
            go_rows, go_page = in_rows[~stay], in_page[~stay]
            rows = np.concatenate([go_rows, new_rows[a:b]])
            page = np.concatenate([go_page, new_page[a:b]])
            stored, stored_page = EMPTY, EMPTY
            if rows.size:
                carried = np.arange(rows.size) < go_rows.size
                self.offset[go_rows] = np.flatnonzero(~stay)  # the store's order
                ready = np.concatenate([self.load[go_page], new_ready[a:b]])
                stored, stored_page = self._pages(s, rows, page, ready, carried)
            rows_k = np.concatenate([in_rows[stay], stored])
            page_k = np.concatenate([in_page[stay], stored_page])
            in_rows, in_page = self._carry(rows_k, page_k, out)
            k += 1
        return np.concatenate(out[0]), np.concatenate(out[1])

    def _pages(
        self,
        s: MessageState,
        rows: np.ndarray,
        page: np.ndarray,
        ready: np.ndarray,
        carried: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Race these pages' batches, then settle again in sequence the pages that need it.

        ``rows`` on ``page``, ready at ``ready``, are every message present on those pages
        (``carried``: the store brought it in). Returns ``(rows, page)`` of what each page's
        store holds at its end, in the store's order.
        """
        # The page's own messages come in row order: the page-by-page path's order at a tie.
        order = queue_order(page, carried, self.offset[rows])
        rows, page, ready, carried = rows[order], page[order], ready[order], carried[order]
        return self._optimistic(s, rows, page, ready, carried)

    def _race_pages(
        self, s: MessageState, rows: np.ndarray, page: np.ndarray, ready: np.ndarray
    ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        """Race each page's batches, flush at page-hide and persist what is left.

        Wrong, besides the quota, are the pages where a failed batch goes back into the queue
        or the page-hide flush is chunked.
        """
        left, unsent, retried = self._race(s, rows, page, ready)
        rows, page = rows[left], page[left]
        chunked = self._chunked(rows[unsent], page[unsent])
        if chunked.size:
            retried = distinct_pages(retried, chunked)
        kept, kept_page = self._flush(s, rows, page, unsent)
        return self._persist(s, kept, kept_page), retried

    def _chunked(self, rows: np.ndarray, page: np.ndarray) -> np.ndarray:
        """Pages whose page-hide flush of ``rows`` goes in more than one request.

        With a keepalive or beacon page-hide transport, what is queued at page-hide is sent in
        chunks within the quota; the race sends one request per page. A page whose queued
        bytes exceed the quota is settled again in sequence (where the quota binds it is anyway;
        a beacon the blocker stops takes no quota, but each of its chunks is a request).
        """
        if self.unload_transport not in SURVIVES_UNLOAD:  # a plain request takes no quota
            return EMPTY
        flushes = (self.unload_kind[page] != PLAIN) & self.fires[page]
        nbytes = self.nbytes[self.event[rows[flushes]]]
        heavy = np.bincount(page[flushes], weights=nbytes, minlength=self.pages.dwell.size)
        return np.flatnonzero(heavy > self.quota)

    def _race(
        self, s: MessageState, rows: np.ndarray, page: np.ndarray, ready: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Send each page's batches once; settle what their fates settle.

        Messages come in queue order. Returns which of them are left open at the page's end
        (a mask), which of those are still queued (for the left ones), and the pages where a
        visible failure goes back into the queue (their race is void).
        """
        pg, cfg = self.pages, self.cfg
        dwell = pg.dwell[page]
        late = page[ready >= dwell]  # waits past the page's end: kept in the queue's heap
        b = cut(page, ready, dwell, self.size, self.interval)
        head_page = page[b.first]
        sent = np.flatnonzero(b.sent)
        self._count_requests(head_page[sent])
        in_sent = b.sent[b.batch]
        self._attempt(s, rows[in_sent])
        # Every request of a block is a beacon, or none is (the transport decides).
        beacon, go = self.transport == "beacon", sent
        if beacon:  # a beacon the visitor's blocker stops never leaves the page
            stopped = pg.blocked_beacon[head_page]
            self._settle(rows[(b.sent & stopped)[b.batch]], LOST["blocked"])
            go = sent[~stopped[sent]]
        n, bp, at = go.size, head_page[go], b.at[go]
        up, back, u = self.request_variates(n)
        # Written once the connection is open; a beacon opens a connection of its own.
        written = at + self.beacon_handshake * up if beacon else np.maximum(at, self.open_at[bp])
        arrive = written + up
        self.recording.variates(rows[b.last[go]], 0, up, back, u)
        survives = self.kind[bp] == KEEPALIVE
        q = np.ones(n, bool) if beacon else survives
        if q.any():
            nbytes = np.bincount(b.batch, weights=self.nbytes[self.event[rows]])[go]
            self.recording.request(bp[q], at[q], arrive[q], nbytes[q])
        failed = (u < cfg.failure_probability) | self.outages.down_at(pg.t0[bp] + at)
        # Each message shares its batch's fate.
        fate = np.full(b.first.size, -1)
        fate[go] = np.arange(n)
        mine = fate[b.batch]
        on = mine >= 0
        r, f = rows[on], mine[on]
        s.cause[r[failed[f]]] = LOST["network"]
        if beacon:  # fire and forget: settled at once, never retried
            arrived = ~failed
            self._arrive(s, r[arrived[f]], (pg.t0[bp] + arrive)[f][arrived[f]])
            self._settle(r, LOST["network"])
            left = ~in_sent  # what was not sent: all still queued
            return left, np.ones(np.count_nonzero(left), bool), distinct_pages(late)
        teardown = self.teardown[bp]
        arrived = ~failed & (survives | written_before_teardown(pg, bp, written, teardown))
        acked = ~failed & (arrive + back < teardown)
        visible = failed & (arrive < pg.dwell[bp])
        flying = ~acked & ~visible
        self._arrive(s, r[arrived[f]], (pg.t0[bp] + arrive)[f][arrived[f]])
        self._settle(r[acked[f]], DELIVERED_STATUS)
        seen = r[visible[f]]
        exhausted = s.attempts[seen] >= self.max_attempts
        self._settle(seen[exhausted], LOST["retries_exhausted"])
        retried = page[on][visible[f]][~exhausted]
        if self.store_kind == "none":
            self._settle(seen[~exhausted], LOST["network"])
            retried = EMPTY
        left = ~in_sent
        left[np.flatnonzero(on)[flying[f]]] = True
        return left, ~in_sent[left], distinct_pages(late, retried)

    def _persist(
        self, s: MessageState, rows: np.ndarray, page: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Persist what is left on each page to the store, in order, or settle it.

        Over ``max_items`` the store is put in creation order (stable) and the oldest go.
        Returns the store's ``(rows, page)``.
        """
        rows, page = self._persist_or_settle(s, rows, page)
        if rows.size <= self.max_items:  # no store can be over the cap
            return rows, page
        counts = np.bincount(page, minlength=self.pages.dwell.size)
        full = counts[page] > self.max_items
        if full.any():
            made = np.where(full, s.seq[rows], 0.0)  # a store within the cap keeps its order
            order = np.lexsort((np.arange(rows.size), made, page))
            rows, page, full = rows[order], page[order], full[order]
            rank = np.arange(rows.size) - np.searchsorted(page, page)
            over = full & (rank < counts[page] - self.max_items)
            self._settle(rows[over], LOST["queue_full"])
            rows, page = rows[~over], page[~over]
        return rows, page


__all__ = ["BatchClient"]
