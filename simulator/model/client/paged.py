"""Client fates page by page: the reference for every settler, and their exact fallback.

:class:`PagedClient` runs a block's pages through
:class:`~simulator.model.client.page.ClientPath`, one page at a time in Python and in visit
order, and reports the outcomes in the same arrays as the settlers on arrays, so the engine
treats them alike (``paged=True`` picks it, for tests). The array settlers use it to settle
again, in sequence and on the variates they drew, the pages they cannot race
(:mod:`~simulator.model.client.quota_replay`).
"""

from __future__ import annotations

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.client.connection import with_connections
from simulator.model.client.page import ClientPath
from simulator.model.client.settler import DELIVERED_STATUS, NO_CAUSE, MessageState, Pages
from simulator.model.collector import LOST, Message
from simulator.model.outages import Outages
from simulator.model.pages import Page
from simulator.model.population import Visitor
from simulator.model.streams import Streams

CAUSE_NAME = {code: name for name, code in LOST.items()}


class _Tracked(Message):
    """A message that remembers its row in the block."""

    __slots__ = ("row",)


class _Outcomes:
    """Stands in for the collector: records which rows ClientPath settled, and how."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.status: list[int] = []

    def client_settled(self, msg: _Tracked, arrivals: list[float], cause: str | None) -> None:
        msg.client_done = True
        msg.arrivals = arrivals
        msg.cause = cause
        self.rows.append(msg.row)
        self.status.append(DELIVERED_STATUS if arrivals else LOST[cause])


class PagedClient:
    """Settles a block's client copies page by page (same interface as ``OneRequestClient``).

    Parameters
    ----------
    scenario : Scenario
        Gives the client settings.
    outages : Outages
        Collector outages.
    streams : Streams
        Uses the ``script``, ``network`` and ``unload`` streams.
    """

    def __init__(self, scenario: Scenario, outages: Outages, streams: Streams) -> None:
        self.outcomes = _Outcomes()
        self.path = ClientPath(scenario, self.outcomes, outages, streams)
        self.cfg = scenario.client
        self.connection_rng = streams.rng("connection")
        self.window = scenario.collector.dedupe_window_hours * 3600.0

    @property
    def requests(self) -> int:
        """Requests sent so far."""
        return self.path.requests

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
        out = self.outcomes
        out.rows, out.status = [], []
        msgs = self._messages(s, event, carried)
        # Visit order: page by page; on a page, carried messages first, then by offset.
        order = np.lexsort((offset, ~carried, page))
        bounds = np.searchsorted(page[order], np.arange(pages.dwell.size + 1))
        order = order.tolist()
        t0, dwell = pages.t0.tolist(), pages.dwell.tolist()
        pages = with_connections(self.cfg, pages, self.connection_rng)
        ends, setup, linger = pages.end.tolist(), pages.setup.tolist(), pages.linger.tolist()
        position, last = pages.position.tolist(), pages.last.tolist()
        carried_l, offset_l = carried.tolist(), offset.tolist()
        left_rows, left_page = [], []
        visitor = None
        for p in range(pages.dwell.size):
            if position[p] == 0:
                visitor = Visitor.make(
                    handler_p=float(pages.handler_p[p]),
                    javascript=bool(pages.javascript[p]),
                    blocked=bool(pages.blocked[p]),
                    blocked_ads=bool(pages.blocked_ads[p]),
                    blocked_beacon=bool(pages.blocked_beacon[p]),
                    keepalive=bool(pages.keepalive[p]),
                )
            live = []
            for r in order[bounds[p] : bounds[p + 1]]:
                if carried_l[r]:
                    visitor.store.append(msgs[r])
                else:
                    live.append((offset_l[r], msgs[r]))
            if live or visitor.store:
                self.path.page(visitor, t0[p], Page(dwell[p], ends[p], setup[p], linger[p]), live)
            if last[p] and visitor.store:
                left_rows.extend(m.row for m in visitor.store)
                left_page.extend([p] * len(visitor.store))
        rows = np.array(out.rows, dtype=np.int64)
        left = np.array(left_rows, dtype=np.int64)
        self._write_back(s, [msgs[r] for r in (*out.rows, *left_rows)])
        return rows, np.array(out.status, np.int64), left, np.array(left_page, np.int64)

    def _messages(self, s: MessageState, event: np.ndarray, carried: np.ndarray) -> list:
        """One message per row: new ones fresh, carried ones with their state so far."""
        msgs = []
        for row, (e, made) in enumerate(zip(event.tolist(), s.seq.tolist(), strict=True)):
            m = _Tracked(e, 0, 0.0, False, made=made)
            m.row = row
            msgs.append(m)
        for row in np.flatnonzero(carried).tolist():
            m = msgs[row]
            m.attempts = int(s.attempts[row])
            n = int(s.n[row])
            if n:
                # Only the first arrival and how many came later than the dedupe window matter.
                first, late = float(s.first[row]), int(s.late[row])
                m.arrivals = [first] * (n - late) + [first + 2 * self.window + 1.0] * late
            cause = int(s.cause[row])
            m.cause = None if cause == NO_CAUSE else CAUSE_NAME[cause]
        return msgs

    def _write_back(self, s: MessageState, msgs: list) -> None:
        """Copy what ClientPath did to each message back into the block's state arrays."""
        if not msgs:
            return
        rows = np.array([m.row for m in msgs], dtype=np.int64)
        s.attempts[rows] = [m.attempts for m in msgs]
        s.cause[rows] = [NO_CAUSE if m.cause is None else LOST[m.cause] for m in msgs]
        arrived = [m for m in msgs if m.arrivals]
        if arrived:
            firsts = [min(m.arrivals) for m in arrived]
            at = np.array([m.row for m in arrived], dtype=np.int64)
            s.first[at] = firsts
            s.n[at] = [len(m.arrivals) for m in arrived]
            s.late[at] = [
                sum(1 for t in m.arrivals if t - first > self.window)
                for m, first in zip(arrived, firsts, strict=True)
            ]
