"""Pages an optimistic race on arrays got wrong, replayed in sequence on the same draws.

:class:`~simulator.model.client.keepalive_arrays.KeepaliveClient` races the pages that might
exceed the 64 KiB in-flight quota on arrays as if it did not exist;
:class:`~simulator.model.client.batch_arrays.BatchClient` races every page's batches as if no
failed batch came back into the queue. Both record every variate they draw
(:class:`Recording`): each request's upload latency, response latency and failure uniform, by
the request's last message and the number of requests keyed by that message on the page so far,
and each page-hide flush's, by the page. Interval stabbing over the recorded requests
(:func:`~simulator.model.client.transports.overloaded_pages`) finds the pages where the bytes in
flight exceeded the quota at some send (and the batch race knows where a batch was retried);
everywhere else the race is exactly what the sequential path would have done with the same
variates. The pages found are settled again in sequence by the page-by-page path
(:func:`replay`), which keys each request it sends the same way and takes the recorded variates
of that key in turn (and fresh ones once they run out), so every page's outcome is the
sequential path's on one sequence of draws, and nothing is biased by which pages are replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import numpy as np

from simulator.model.client.paged import PagedClient
from simulator.model.client.settler import MessageState, Pages


class Recording:
    """The variates and quota-bound requests of an optimistic race (see the module docstring)."""

    def __init__(self) -> None:
        self.sends: list[tuple[np.ndarray, ...]] = []  # page, start, end, bytes
        self.draws: list[tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]] = []
        self.flushes: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def request(
        self, page: np.ndarray, start: np.ndarray, end: np.ndarray, nbytes: np.ndarray
    ) -> None:
        """Requests that take quota from page offset ``start`` until ``end``."""
        self.sends.append((page, start, end, nbytes))

    def variates(
        self, rows: np.ndarray, index: int, up: np.ndarray, back: np.ndarray, u: np.ndarray
    ) -> None:
        """The ``index``-th request of each of ``rows`` on its page drew ``up, back, u``."""
        self.draws.append((rows, index, up, back, u))

    def flush(self, page: np.ndarray, up: np.ndarray, back: np.ndarray, u: np.ndarray) -> None:
        """The page-hide flush of each of ``page`` drew ``up, back, u``."""
        self.flushes.append((page, up, back, u))

    def intervals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(page, start, end, bytes)`` of every recorded quota-bound request."""
        if not self.sends:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0)
        return tuple(np.concatenate(c) for c in zip(*self.sends, strict=True))

    def table(
        self, rows: np.ndarray, pages: np.ndarray
    ) -> dict[tuple[str, int], list[tuple[float, float, float]]]:
        """Recorded variates of the rows and of the pages' flushes selected, in the order drawn.

        ``rows`` and ``pages`` are masks over the block's rows and pages (a recorded request
        is picked by one lookup, where a search would go over every request of the race).
        Keyed by ``("message", row)`` or ``("flush", page)``.
        """
        out: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
        parts = [("message", r, up, back, u, rows) for r, _, up, back, u in self.draws]
        parts += [("flush", p, up, back, u, pages) for p, up, back, u in self.flushes]
        for what, at, up, back, u, wanted in parts:  # recorded round by round, so in order
            m = wanted[at]
            drawn = zip(up[m].tolist(), back[m].tolist(), u[m].tolist(), strict=True)
            for k, x in zip(at[m].tolist(), drawn, strict=True):
                out.setdefault((what, k), []).append(x)
        return out


class _Recorded:
    """Stands in for ClientPath's ``request_variates``: recorded variates first, then fresh.

    A request is keyed by its last message (``("message", row)``), or by its page when it is a
    page-hide flush (``("flush", page)``); each key's recorded variates are handed out in the
    order drawn, and fresh ones, drawn as the path would, once they run out.
    """

    __slots__ = ("recorded", "used", "rows", "pages", "dwell", "fresh")

    def __init__(
        self,
        recorded: dict,
        rows: list[int],
        pages: list[int],
        dwell: list[float],
        fresh: Callable[[], tuple[float, float, float]],
    ) -> None:
        self.recorded, self.used = recorded, {}
        self.rows, self.pages, self.dwell, self.fresh = rows, pages, dwell, fresh

    def __call__(self, msgs: list, at: float) -> tuple[float, float, float]:
        r = msgs[-1].row
        key = ("flush", self.pages[r]) if at >= self.dwell[r] else ("message", self.rows[r])
        got = self.recorded.get(key)
        if got is not None:
            j = self.used.get(key, 0)
            if j < len(got):
                self.used[key] = j + 1
                return got[j]
        return self.fresh()


def replay(
    sequential: PagedClient,
    recording: Recording,
    pages: Pages,
    over: np.ndarray,
    s: MessageState,
    rows: np.ndarray,
    page: np.ndarray,
    carried: np.ndarray,
    offset: np.ndarray,
    event: np.ndarray,
    load: np.ndarray,
    fires: np.ndarray,
    net: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Settle the pages ``over`` one at a time on the recorded variates.

    Parameters
    ----------
    sequential : PagedClient
        The page-by-page path (its variate sources are swapped for the replay, then restored).
    recording : Recording
        What the optimistic race drew.
    pages : Pages
        The block's pages.
    over : numpy.ndarray
        The pages to settle (sorted).
    s : MessageState
        State of every message, as before the optimistic race of these pages (updated).
    rows, page, carried : numpy.ndarray
        The messages present on those pages, where, and whether the store carried them in.
    offset, event : numpy.ndarray
        Every message's offset into its page and event type (indexed by row).
    load, fires : numpy.ndarray
        Every page's tag load time and whether its page-hide handler runs, as already drawn.
    net : numpy.random.Generator
        Where fresh network variates come from (the ``network`` stream).

    Returns
    -------
    tuple of numpy.ndarray
        ``(rows, status)`` settled and ``(rows, page)`` left in each page's store at its end.
    """
    columns = {f.name: getattr(pages, f.name) for f in fields(Pages)}
    sub = Pages(**{name: None if c is None else c[over] for name, c in columns.items()})
    # Each page alone, as a visit of one page, with the load time and page-hide outcome drawn.
    sub.position = np.zeros(over.size, np.int64)
    sub.last = np.ones(over.size, bool)
    sub.handler_p = fires[over].astype(float)
    sub_page = np.searchsorted(over, page)
    wanted_rows = np.zeros(offset.size, bool)
    wanted_rows[rows] = True
    wanted_pages = np.zeros(pages.dwell.size, bool)
    wanted_pages[over] = True
    path, cfg = sequential.path, sequential.cfg

    def fresh() -> tuple[float, float, float]:
        up = float(cfg.upload_latency_seconds.sample(net, 1)[0])
        back = float(cfg.response_latency_seconds.sample(net, 1)[0])
        return up, back, float(net.random())

    replayed = _Recorded(
        recording.table(wanted_rows, wanted_pages),
        rows.tolist(), page.tolist(), pages.dwell[page].tolist(), fresh,
    )  # fmt: skip
    saved = path.log, path.request_variates, path.unload_u
    path.log, path.request_variates = None, replayed
    # Whether the page-hide handler runs is drawn already (handler_p is 0 or 1): draw nothing.
    path.unload_u = lambda: 0.5
    # The page-by-page path draws each page's tag load time; it takes the one drawn already.
    path.script.buffer.extend(load[over][::-1].tolist())
    state = s.take(rows)
    try:
        done, status, left, left_page = sequential.settle(
            sub, state, sub_page, offset[rows], event[rows], carried
        )
    finally:
        path.log, path.request_variates, path.unload_u = saved
    for f in MessageState.FIELDS:
        getattr(s, f)[rows] = getattr(state, f)
    return rows[done], status, rows[left], over[left_page]
