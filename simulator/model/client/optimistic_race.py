"""Pages raced on arrays as if independent, and those the race got wrong settled again in sequence.

:class:`OptimisticRaceClient` is :class:`~simulator.model.client.arrays.OneRequestClient` with an
optimistic race: pages whose requests might be coupled (by the 64 KiB in-flight quota) are raced
on arrays as if they were not, recording every variate drawn
(:class:`~simulator.model.client.quota_replay.Recording`); interval stabbing finds the few
pages where the bytes in flight overran the quota. Only those pages are voided (their settled
messages, their stores, their messages' state and their requests) and settled again, exactly
and in sequence, by the page-by-page path on the same variates
(:func:`~simulator.model.client.quota_replay.replay`). On every other page the race is what the
sequential path would have done with those variates, so nothing is biased.
:class:`~simulator.model.client.keepalive_arrays.KeepaliveClient` races this way
(:meth:`OptimisticRaceClient._optimistic`, with its own ``_race`` and ``_page_end``, which count
each request with :meth:`OptimisticRaceClient._count_requests`);
:class:`~simulator.model.client.batch_arrays.BatchClient` voids and replays the pages its batch
race got wrong with :meth:`OptimisticRaceClient._redo`.
"""

from __future__ import annotations

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.client.arrays import OneRequestClient
from simulator.model.client.paged import PagedClient
from simulator.model.client.quota_replay import Recording, replay
from simulator.model.client.settler import MessageState
from simulator.model.client.transports import overloaded_pages
from simulator.model.outages import Outages
from simulator.model.streams import Streams


class OptimisticRaceClient(OneRequestClient):
    """Races pages on arrays and settles again in sequence those it got wrong (see the module).

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
        super().__init__(scenario, outages, streams)
        self.quota = self.cfg.keepalive_quota_bytes
        self.sequential = PagedClient(scenario, outages, streams)
        self.recording: Recording | None = None
        self.page_requests: np.ndarray | None = None  # requests per page of an optimistic race

    def _optimistic(
        self,
        s: MessageState,
        rows: np.ndarray,
        page: np.ndarray,
        ready: np.ndarray,
        carried: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Race pages that might overrun the quota as if it did not exist; replay those that do.

        ``rows`` on ``page``, ready at ``ready``, are every message present on those pages
        (``carried``: the store brought it in). Returns ``(rows, page)`` of what the pages'
        stores hold at their end.
        """
        before = s.take(rows)
        n_settled = len(self._settled_rows)
        self.recording = Recording()
        self.page_requests = np.zeros(self.pages.dwell.size, np.int64)
        fl, un = self._race(s, rows, page, ready)
        stored, stored_page = self._page_end(
            s,
            np.concatenate([fl[0], un[0]]),
            np.concatenate([fl[1], un[1]]),
            np.arange(fl[0].size + un[0].size) >= fl[0].size,
        )
        recording, self.recording = self.recording, None
        page_requests, self.page_requests = self.page_requests, None
        over = self._overrun(recording, page)
        self.requests -= int(page_requests[over].sum())  # the replay counts its own requests
        return self._redo(s, over, recording, rows, page, carried, before, n_settled,
                          (stored, stored_page))  # fmt: skip

    def _overrun(self, recording: Recording, page: np.ndarray) -> np.ndarray:
        """The pages raced (``page``) whose bytes in flight exceeded the quota at some send."""
        return overloaded_pages(*recording.intervals(), self.quota)

    def _count_requests(self, page: np.ndarray) -> None:
        """Count one request on each of ``page`` (per page too, during an optimistic race)."""
        self.requests += page.size
        if self.page_requests is not None:
            np.add.at(self.page_requests, page, 1)

    def _redo(
        self,
        s: MessageState,
        over: np.ndarray,
        recording: Recording,
        rows: np.ndarray,
        page: np.ndarray,
        carried: np.ndarray,
        before: MessageState,
        n_settled: int,
        stored: tuple[np.ndarray, np.ndarray],
        offset: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Void an optimistic race on the pages ``over`` and settle them again in sequence.

        ``rows`` on ``page`` (``carried``: the store brought it in) are every message the race
        took, ``before`` their state before it, ``n_settled`` how many settled groups there
        were before it and ``stored`` the ``(rows, page)`` its pages' stores held at their end.
        The pages ``over`` are settled again by the page-by-page path on the recorded draws
        (``offset``, indexed by row, orders the carried messages; default: the block's
        offsets). Returns what every page's store holds at its end, each page's in order.
        """
        stored, stored_page = stored
        if not over.size:
            return stored, stored_page
        # The race is void on these pages: settle them again, in sequence, on the same draws.
        void_page = np.zeros(self.pages.dwell.size, bool)
        void_page[over] = True
        mine = void_page[page]
        void_row = np.zeros(self.offset.size, bool)
        void_row[rows[mine]] = True
        for k in range(n_settled, len(self._settled_rows)):
            keep = ~void_row[self._settled_rows[k]]
            self._settled_rows[k] = self._settled_rows[k][keep]
            self._settled_cause[k] = self._settled_cause[k][keep]
        keep = ~void_page[stored_page]
        stored, stored_page = stored[keep], stored_page[keep]
        for f in MessageState.FIELDS:
            getattr(s, f)[rows[mine]] = getattr(before, f)[mine]
        requests = self.sequential.requests
        offset = self.offset if offset is None else offset
        done, status, left, left_page = replay(
            self.sequential, recording, self.pages, over, s, rows[mine], page[mine],
            carried[mine], offset, self.event, self.load, self.fires, self.net,
        )  # fmt: skip
        self.requests += self.sequential.requests - requests
        self._settled_rows.append(done)
        self._settled_cause.append(status)
        return np.concatenate([stored, left]), np.concatenate([stored_page, left_page])


__all__ = ["OptimisticRaceClient"]
