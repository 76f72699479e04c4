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
Each settler supplies its race (:meth:`OptimisticRaceClient._race_pages`):
:class:`~simulator.model.client.keepalive_arrays.KeepaliveClient` one request per event,
:class:`~simulator.model.client.batch_arrays.BatchClient` batches, which also name the pages
where a failed batch is retried or the page-hide flush is chunked.
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
        self.page_requests: list[np.ndarray] | None = None  # pages of an optimistic race's requests

    def _optimistic(
        self,
        s: MessageState,
        rows: np.ndarray,
        page: np.ndarray,
        ready: np.ndarray,
        carried: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Race pages as if independent; settle again in sequence those the race got wrong.

        ``rows`` on ``page``, ready at ``ready``, are every message present on those pages
        (``carried``: the store brought it in), in the order the race takes them. Wrong are
        the pages :meth:`_race_pages` names and those whose bytes in flight overran the quota
        at some send. Returns ``(rows, page)`` of what the pages' stores hold at their end.
        """
        before = s.take(rows)
        n_settled = len(self._settled_rows)
        self.recording = Recording()
        self.page_requests = []
        stored, wrong = self._race_pages(s, rows, page, ready)
        recording, self.recording = self.recording, None
        page_requests, self.page_requests = self.page_requests, None
        over = self._wrong(page, wrong, recording)
        if over.size and page_requests:  # the replay counts its own requests
            self.requests -= int(np.isin(np.concatenate(page_requests), over).sum())
        return self._redo(s, over, recording, rows, page, carried, before, n_settled, stored)

    def _wrong(self, page: np.ndarray, wrong: np.ndarray, recording: Recording) -> np.ndarray:
        """The raced pages (of ``page``) to settle again: ``wrong``, and the quota's overruns.

        Settling any other raced page again on the recorded draws gives what the race gave
        (the tests check it by settling every page again).
        """
        if not recording.sends:
            return wrong
        return np.union1d(wrong, overloaded_pages(*recording.intervals(), self.quota))

    def _race_pages(
        self, s: MessageState, rows: np.ndarray, page: np.ndarray, ready: np.ndarray
    ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        """Race the pages of ``rows``, counting each request with :meth:`_count_requests`.

        Returns ``(rows, page)`` of what the pages' stores hold at their end, and the pages
        (sorted, unique) the race got wrong for a reason of its own, besides the quota.
        """
        raise NotImplementedError

    def _count_requests(self, page: np.ndarray) -> None:
        """Count one request on each of ``page`` (per page too, during an optimistic race)."""
        self.requests += page.size
        if self.page_requests is not None:
            self.page_requests.append(page)

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
    ) -> tuple[np.ndarray, np.ndarray]:
        """Void an optimistic race on the pages ``over`` and settle them again in sequence.

        ``rows`` on ``page`` (``carried``: the store brought it in) are every message the race
        took, ``before`` their state before it, ``n_settled`` how many settled groups there
        were before it and ``stored`` the ``(rows, page)`` its pages' stores held at their end.
        The pages ``over`` are settled again by the page-by-page path on the recorded draws
        (the block's offsets order the carried messages). Returns what every page's store
        holds at its end, each page's in order.
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
        done, status, left, left_page = replay(
            self.sequential, recording, self.pages, over, s, rows[mine], page[mine],
            carried[mine], self.offset, self.event, self.load, self.fires, self.net,
        )  # fmt: skip
        self.requests += self.sequential.requests - requests
        self._settled_rows.append(done)
        self._settled_cause.append(status)
        return np.concatenate([stored, left]), np.concatenate([stored_page, left_page])


__all__ = ["OptimisticRaceClient"]
