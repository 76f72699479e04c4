"""Client fates of batching and keepalive libraries, page by page in compiled code.

:class:`LoopedClient` settles a block as :class:`~simulator.model.client.paged.PagedClient`
does, by the rules of :class:`~simulator.model.client.page.ClientPath` one page at a time, but
in the compiled loop of :mod:`simulator.model.client.page_loop`: no optimistic race and no
second pass, since nothing is raced. It draws each page's tag load, page-hide handler and
connection for the whole block, as the array settlers do (:meth:`OneRequestClient._begin`),
settles the messages never sent (:meth:`OneRequestClient._sendable`), and hands the loop every
request's variates in blocks, in the order it sends them.

The loop is built when the package is installed (a C compiler is needed); where it is not,
:func:`available` says so and :func:`~simulator.model.client.choice.settler_kind` takes the
array settlers instead, which agree with it in distribution but not draw for draw.
"""

from __future__ import annotations

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.client.arrays import OneRequestClient
from simulator.model.client.settler import MessageState, Pages
from simulator.model.client.transports import request_kind
from simulator.model.collector import LOST
from simulator.model.compiled import built
from simulator.model.outages import Outages
from simulator.model.streams import Streams

SOURCES = (
    "page_loop.pyx",
    "queue_heap.pyx",
    "queue_heap.pxd",
    "arrivals.pxd",
    "../sorted_times.pxd",
)
"""The loop's sources, beside its compiled modules in a source tree (not in a wheel)."""
page_loop = built(
    "simulator.model.client.page_loop", SOURCES, "the page loop", "settling on arrays instead"
)
PageLoop = None if page_loop is None else page_loop.PageLoop

STORE_CODE = {"none": 0, "memory": 1, "local_storage": 2}
"""The loop's retry store codes (``client.retry.store``)."""
VARIATES_AT_ONCE = 4096
"""Fewest requests' variates drawn at a time."""


def available() -> bool:
    """Whether the compiled page loop was built with the package."""
    return PageLoop is not None


class LoopedClient(OneRequestClient):
    """Settles a block's client copies page by page in compiled code (see the module docstring).

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
        cfg, retry = self.cfg, self.cfg.retry
        self.settings = {
            "batch_size": cfg.batch_size,
            "interval": float(cfg.flush_interval_seconds),
            "failure_probability": float(cfg.failure_probability),
            "max_attempts": retry.max_attempts,
            "max_items": retry.max_items,
            "store_kind": STORE_CODE[retry.store],
            "persist_on_add": retry.persist == "on_add",
            "quota": float(cfg.keepalive_quota_bytes),
            "beacon_handshake": float(self.beacon_handshake),
            "window": float(self.window),
            "backoff_initial": float(retry.backoff_initial_seconds),
            "backoff_factor": float(retry.backoff_factor),
            "backoff_max": float(retry.backoff_max_seconds),
            "lost": LOST,
        }
        self.nbytes = np.array([e.bytes for e in scenario.events], dtype=float)

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
        loop = self.loop(pages, s, (rows, p), page, offset, event, carried)
        k, n_pages = 0, pages.dwell.size
        # About as many requests as the block will send: a request per event, or, in batches,
        # about two a page (one more draw or so at the block's end).
        n = min(rows.size, rows.size // self.cfg.batch_size + 2 * n_pages)
        while (k := loop.run(k)) < n_pages:
            loop.feed(*self.request_variates(max(n, VARIATES_AT_ONCE, loop.needed)))
            n = 0
        done, status, left, left_page = loop.results()
        self.requests += loop.requests
        self._settle(done, status)
        return (*self._settled(s), left, left_page)

    def loop(
        self,
        pages: Pages,
        s: MessageState,
        sendable: tuple[np.ndarray, np.ndarray],
        page: np.ndarray,
        offset: np.ndarray,
        event: np.ndarray,
        carried: np.ndarray,
    ) -> PageLoop:
        """The compiled loop over the block, with no variates yet (see :meth:`PageLoop.feed`).

        ``pages`` have their tag load, page-hide handler and connection drawn (:meth:`_begin`);
        ``sendable`` are the rows and pages of the new messages that are sent. The store's
        messages (``carried``) enter their visit's first page in the order of their ``offset``
        (their place in the store), a page's own messages by offset, then by row.
        """
        n_pages = pages.dwell.size
        rows, p = sendable
        order = np.argsort(p + 1j * offset[rows], kind="stable")
        own_rows, own_page = rows[order], p[order]
        in_rows = np.flatnonzero(carried)
        in_rows = in_rows[np.argsort(page[in_rows] + 1j * offset[in_rows], kind="stable")]
        edges = np.arange(n_pages + 1)
        flag = np.uint8
        arrays = {
            "t0": pages.t0.astype(float),
            "dwell": pages.dwell.astype(float),
            "open_at": self.open_at,
            "teardown": self.teardown,
            "load": self.load,
            "cancels": pages.cancels.astype(flag),
            "fires": self.fires.astype(flag),
            "live": self.live.astype(flag),
            # How each page's requests behave, as the array settlers find it.
            "kind": request_kind(self.cfg.transport, pages.keepalive),
            "unload_kind": request_kind(self.cfg.resolved_unload_transport, pages.keepalive),
            "blocked_beacon": pages.blocked_beacon.astype(flag),
            "last": pages.last.astype(flag),
            "position": pages.position.astype(np.int64),
            "own_start": np.searchsorted(own_page, edges).astype(np.int64),
            "own_rows": own_rows.astype(np.int64),
            "own_ready": np.maximum(offset[own_rows], self.load[own_page]).astype(float),
            "in_start": np.searchsorted(page[in_rows], edges).astype(np.int64),
            "in_rows": in_rows.astype(np.int64),
        }
        messages = {
            "event": event.astype(np.int64),
            "made": s.seq,
            "nbytes": self.nbytes,
            "attempts": s.attempts,
            "first": s.first,
            "n": s.n,
            "late": s.late,
            "cause": s.cause,
        }
        return PageLoop(self.settings, arrays, messages, self.outage_spans)


__all__ = ["LoopedClient", "available"]
