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
Pages can also be raced ahead of the walk over visit positions, as if the store carried nothing
into them (:meth:`OptimisticRaceClient._race_ahead`): a page the store does carry into is voided
and raced again when the walk reaches it, and the others are checked for overruns there.
Each settler supplies its race (:meth:`OptimisticRaceClient._race_pages`):
:class:`~simulator.model.client.keepalive_arrays.KeepaliveClient` one request per event,
:class:`~simulator.model.client.batch_arrays.BatchClient` batches, which also name the pages
where a failed batch is retried or the page-hide flush is chunked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.client.arrays import EMPTY, OneRequestClient
from simulator.model.client.paged import PagedClient
from simulator.model.client.quota_replay import Recording, replay
from simulator.model.client.settler import (
    MessageState,
    Pages,
    StateBefore,
    distinct_pages,
    position_order,
    settled_groups,
)
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
        self._void_at: np.ndarray | None = None  # per message: settled groups voided so far

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
        before = StateBefore.of(s, rows, carried)
        stored, wrong, recording, requested = self._recorded_race(s, rows, page, ready)
        over = self._wrong(page, wrong, recording.intervals())
        if over.size:  # the replay counts its own requests
            self.requests -= int(np.isin(requested, over).sum())
        return self._redo(s, over, recording, rows, page, carried, before, stored)

    def _recorded_race(
        self, s: MessageState, rows: np.ndarray, page: np.ndarray, ready: np.ndarray
    ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, Recording, np.ndarray]:
        """:meth:`_race_pages`, recording its variates and the page of each request it sends.

        Returns its stores and wrong pages, the recording, and the page of each request it sent.
        """
        self.recording, self.page_requests = Recording(), []
        stored, wrong = self._race_pages(s, rows, page, ready)
        recording, self.recording = self.recording, None
        requested, self.page_requests = self.page_requests, None
        return stored, wrong, recording, np.concatenate([EMPTY, *requested])

    def _wrong(self, page: np.ndarray, wrong: np.ndarray, intervals: tuple) -> np.ndarray:
        """The raced pages (of ``page``) to settle again: ``wrong``, and the quota's overruns.

        ``intervals`` are the race's quota-bound requests (page, start, end, bytes). Settling
        any other raced page again on the recorded draws gives what the race gave (the tests
        check it by settling every page again).
        """
        if not intervals[0].size:
            return wrong
        return distinct_pages(wrong, overloaded_pages(*intervals, self.quota))

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
        before: StateBefore,
        stored: tuple[np.ndarray, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Void an optimistic race on the pages ``over`` and settle them again in sequence.

        ``rows`` on ``page`` (``carried``: the store brought it in) are every message the race
        took, ``before`` their state before it and ``stored`` the ``(rows, page)`` its pages'
        stores held at their end.
        The pages ``over`` are settled again by the page-by-page path on the recorded draws
        (the block's offsets order the carried messages). Returns what every page's store
        holds at its end, each page's in order.
        """
        stored, stored_page = stored
        if not over.size:
            return stored, stored_page
        # The race is void on these pages: settle them again, in sequence, on the same draws.
        void_page, mine = self._void(s, over, rows, page, before)
        keep = ~void_page[stored_page]
        stored, stored_page = stored[keep], stored_page[keep]
        requests = self.sequential.requests
        done, status, left, left_page = replay(
            self.sequential, recording, self.pages, over, s, rows[mine], page[mine],
            carried[mine], self.offset, self.event, self.load, self.fires, self.net,
        )  # fmt: skip
        self.requests += self.sequential.requests - requests
        self._settle(done, status)
        return np.concatenate([stored, left]), np.concatenate([stored_page, left_page])

    def _begin(self, pages: Pages) -> Pages:
        self._void_at = None
        return super()._begin(pages)

    def _settled_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """Every message settled in the block and its status, less what a race made void.

        A message voided when ``k`` groups had been settled keeps only its settlements from
        group ``k`` on (a voided race settles it again later).
        """
        rows, cause = self._settled_rows, self._settled_cause
        if self._void_at is not None:
            keep = [self._void_at[r] <= i for i, r in enumerate(rows)]
            rows = [r[m] for r, m in zip(rows, keep, strict=True)]
            cause = [c[m] if isinstance(c, np.ndarray) else c
                     for c, m in zip(cause, keep, strict=True)]  # fmt: skip
        return settled_groups(rows, cause)

    def _void(
        self,
        s: MessageState,
        pages: np.ndarray,
        rows: np.ndarray,
        page: np.ndarray,
        before: StateBefore,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Take back what a race did on ``pages``: their settled messages and their state.

        ``rows`` on ``page`` are every message the race took and ``before`` their state before
        it (every group settled so far is void for them). Returns the voided
        pages as a mask over the block's pages, and which of ``rows`` are on them.
        """
        void_page = np.zeros(self.pages.dwell.size, bool)
        void_page[pages] = True
        mine = void_page[page]
        if self._void_at is None:  # the block's first void (reset by _begin)
            self._void_at = np.full(self.offset.size, -1, np.int64)
        # Every group settled so far is void for these messages (see _settled_groups).
        self._void_at[rows[mine]] = len(self._settled_rows)
        before.restore(s, rows, mine)
        return void_page, mine

    # -- pages raced ahead of the walk -------------------------------------------------------
    def _race_ahead(
        self, s: MessageState, rows: np.ndarray, page: np.ndarray, ready: np.ndarray
    ) -> Ahead:
        """Race pages before the walk reaches them, as if the store carried nothing into them.

        ``rows`` on ``page``, ready at ``ready``, are the pages' own messages. A page the
        store does carry into is raced again when the walk reaches it
        (:meth:`_race_ahead_again`); the others are checked then (:meth:`_settle_ahead`).
        """
        n_pages, position = self.pages.dwell.size, self.pages.position
        before = StateBefore.of(s, rows, np.zeros(rows.size, bool))  # the pages' own only
        (stored, stored_page), wrong, recording, requested = self._recorded_race(
            s, rows, page, ready
        )
        requests = np.bincount(requested, minlength=n_pages)
        # A page's overruns depend on its own requests only: found once for the whole race.
        wrong = self._wrong(page, wrong, recording.intervals())
        # Messages and stores in order of their page's visit position.
        edges = np.arange(int(position.max(initial=0)) + 2)
        return Ahead(
            rows, page, ready, before, wrong, recording,
            requests=requests,
            gone=np.zeros(n_pages, bool),
            by_position=_by_position(position[page], edges),
            stored=(stored, stored_page, _by_position(position[stored_page], edges)),
        )  # fmt: skip

    def _race_ahead_again(
        self, s: MessageState, ahead: Ahead, again: np.ndarray, k: int, carried_in: tuple
    ) -> tuple[np.ndarray, np.ndarray]:
        """Race the pages ``again`` (at visit position ``k``) anew, with what the store carried in.

        Whether the store carries into a page depends only on the pages before it, so drawing
        the page's variates afresh biases nothing. ``carried_in`` is ``(rows, page, ready)``.
        Returns what the pages' stores hold at their end.
        """
        idx = _at(ahead.by_position, k)
        _, mine = self._void(s, again, ahead.rows[idx], ahead.page[idx], ahead.before.take(idx))
        self.requests -= int(ahead.requests[again].sum())
        ahead.gone[again] = True
        idx = idx[mine]
        own = (ahead.rows[idx], ahead.page[idx], ahead.ready[idx])
        rows, page, ready = (np.concatenate(x) for x in zip(carried_in, own, strict=True))
        carried = np.arange(rows.size) < carried_in[0].size
        return self._optimistic(s, rows, page, ready, carried)

    def _settle_ahead(self, s: MessageState, ahead: Ahead, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Finish the pages at visit position ``k`` raced ahead and not raced again.

        Those the race got wrong (over the quota, or for the race's own reasons) are settled
        again in sequence on the recorded draws. Returns what the pages' stores hold at their
        end.
        """
        gone = ahead.gone
        stored, stored_page, order = ahead.stored
        at = _live_at(order, stored_page, k, gone)
        stored = (stored[at], stored_page[at])
        over = ahead.wrong[(self.pages.position[ahead.wrong] == k) & ~gone[ahead.wrong]]
        if not over.size:
            return stored
        idx = _live_at(ahead.by_position, ahead.page, k, gone)
        self.requests -= int(ahead.requests[over].sum())  # the replay counts its own requests
        return self._redo(
            s, over, ahead.recording, ahead.rows[idx], ahead.page[idx], np.zeros(idx.size, bool),
            ahead.before.take(idx), stored,
        )  # fmt: skip


def _by_position(position: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices in order of ``position``, and where each position's run starts."""
    order = position_order(position)
    return order, np.searchsorted(position[order], edges)


def _at(by_position: tuple[np.ndarray, np.ndarray], k: int) -> np.ndarray:
    """The indices at position ``k`` (see :func:`_by_position`)."""
    order, starts = by_position
    return order[starts[k] : starts[k + 1]] if k + 1 < starts.size else order[:0]


def _live_at(
    by_position: tuple[np.ndarray, np.ndarray], page: np.ndarray, k: int, gone: np.ndarray
) -> np.ndarray:
    """The indices at position ``k`` whose page (``page[index]``) was not raced again."""
    idx = _at(by_position, k)
    return idx[~gone[page[idx]]]


@dataclass
class Ahead:
    """Pages raced ahead of the walk (see :meth:`OptimisticRaceClient._race_ahead`)."""

    rows: np.ndarray  # the pages' own messages, their pages and ready offsets
    page: np.ndarray
    ready: np.ndarray
    before: StateBefore  # the messages' state before the race
    wrong: np.ndarray  # pages the race got wrong: its own reasons and the quota's overruns
    recording: Recording  # what it drew
    requests: np.ndarray  # requests it sent, per page of the block
    gone: np.ndarray  # per page of the block: raced again since
    by_position: tuple[np.ndarray, np.ndarray]  # the messages by visit position (_by_position)
    stored: tuple[np.ndarray, ...]  # the stores at the pages' end: rows, page, by position


__all__ = ["Ahead", "OptimisticRaceClient"]
