"""The page-by-page client path on synthetic visits: the reference the array settlers match.

Visits have a fixed number of pages; ``events`` lists ``(visit, page, offset, event type)``
with event types 0, 1 and 2. :func:`page_by_page` runs every page through
:class:`~simulator.model.client.page.ClientPath`, with each page's connection drawn as the
engine draws it, and counts each visit's outcomes per event type; :func:`on_arrays` counts
the same through an array settler, all pages at once; :func:`worst_p_against_reference`
compares the two on the same visits.
"""

from __future__ import annotations

import bisect

import numpy as np

from simulator.model.client.connection import page_connections
from simulator.model.client.page import ClientPath
from simulator.model.client.settler import DELIVERED_STATUS, MessageState, Pages
from simulator.model.collector import LOST, Collector, Message
from simulator.model.pages import BACKGROUND, CLOSE, NAVIGATE, Page
from simulator.model.population import Visitor, layout_of
from simulator.model.streams import Streams
from simulator.model.tally_buffer import TallyBuffer
from support.agreement import worst_corrected_p

OUTCOMES = ["delivered", "duplicate", *sorted(LOST)]
"""Outcome columns of the counts: delivered, duplicates kept, then each loss cause."""

EVENTS = [
    {"name": "small", "kind": "ui", "bytes": 800},
    {"name": "click", "kind": "ui", "bytes": 30000},
    {"name": "replay", "kind": "client_only", "request_class": "replay", "bytes": 36000},
]
"""Event types 0, 1, 2: two of them weigh 30 and 36 kB, so that the 64 KiB keepalive quota binds
on some pages."""


def synthetic_visits(
    rng: np.random.Generator, n: int, pages: int, page_events, visitors_vary: bool = True
) -> tuple:
    """``n`` visits of ``pages`` pages, as :func:`on_arrays` takes them.

    Each page lasts a log-normal 4 s (median); the last page of 40% of the visits goes to the
    background, of the others it is closed, and every other page navigates. With
    ``visitors_vary``, 70% of the browsers honour keepalive and 20% of the blockers stop
    beacons; otherwise all and none. Each page has a page view (type 0) at its start, the
    ``(offset, type)`` events ``page_events(rng, dwell)`` draws, and, when it navigates, a
    click (type 1) a log-normal 0.25 s before its end.
    """
    dwell = rng.lognormal(np.log(4.0), 1.0, (n, pages))
    end = np.full((n, pages), NAVIGATE)
    end[:, -1] = np.where(rng.random(n) < 0.4, BACKGROUND, CLOSE)
    start = np.concatenate([np.zeros((n, 1)), np.cumsum(dwell, axis=1)[:, :-1]], axis=1)
    start += np.arange(n)[:, None] * 1000.0
    if visitors_vary:
        keepalive = rng.random(n) < 0.7
        blocked_beacon = rng.random(n) < 0.2
    else:
        keepalive, blocked_beacon = np.ones(n, bool), np.zeros(n, bool)
    events = []  # (visit, page, offset, event type)
    for v in range(n):
        for k in range(pages):
            events.append((v, k, 0.0, 0))
            events.extend((v, k, offset, e) for offset, e in page_events(rng, dwell[v, k]))
            if end[v, k] == NAVIGATE:
                events.append((v, k, max(0.0, dwell[v, k] - rng.lognormal(np.log(0.25), 0.6)), 1))
    return start, dwell, end, keepalive, blocked_beacon, events


def one_replay_chunk(rng: np.random.Generator, dwell: float) -> list[tuple[float, int]]:
    """A page's events besides its view and click: one replay chunk (type 2) at a uniform time."""
    return [(rng.random() * dwell, 2)]


class Windows:
    """Collector outages at fixed, disjoint windows (the Outages interface)."""

    def __init__(self, windows):
        self.starts = [s for s, _ in windows]
        self.ends = [e for _, e in windows]

    def down_at(self, t: np.ndarray) -> np.ndarray:
        i = np.searchsorted(self.starts, t, side="right") - 1
        return (i >= 0) & (t < np.array(self.ends)[np.maximum(i, 0)])

    def down(self, t: float) -> bool:
        i = bisect.bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]


def page_by_page(
    sc, seed, start, dwell, end, events, outages, handler_p, keepalive=None, blocked_beacon=None
) -> np.ndarray:
    """Per visit x event type x outcome counts, through ClientPath page by page.

    ``start``, ``dwell`` and ``end`` are (visits x pages) arrays; ``keepalive`` and
    ``blocked_beacon`` are per visit (default: keepalive honoured, beacons not blocked).
    """
    n, pages = dwell.shape
    counts = np.zeros((n, 3, len(OUTCOMES)))
    buf = TallyBuffer(layout_of(sc))
    col = Collector(buf, sc.collector.dedupe, sc.collector.dedupe_window_hours * 3600)
    origin: dict[int, tuple[int, int]] = {}

    def log(what, msg, _t):
        if what.startswith("settle:"):
            v, e = origin[id(msg)]
            label = what[7:]
            counts[v, e, OUTCOMES.index(label)] += 1
            if label == "delivered":
                counts[v, e, 1] += col.duplicates(msg.arrivals)

    streams = Streams(np.random.SeedSequence(seed))
    path = ClientPath(sc, col, outages, streams, log)
    position = np.tile(np.arange(pages), n)
    setup, linger = page_connections(
        sc.client, dwell.ravel(), end.ravel(), position, streams.rng("connection")
    )
    setup, linger = setup.reshape(n, pages), linger.reshape(n, pages)
    keepalive = np.ones(n, bool) if keepalive is None else keepalive
    blocked_beacon = np.zeros(n, bool) if blocked_beacon is None else blocked_beacon
    per_page: dict[tuple[int, int], list] = {}
    for v, k, offset, e in events:
        msg = Message(e, buf.offset(e, 0), 0.0, made=start[v, k] + offset)
        origin[id(msg)] = (v, e)
        per_page.setdefault((v, k), []).append((offset, msg))
    for v in range(n):
        who = Visitor.make(handler_p=handler_p, keepalive=bool(keepalive[v]),
                           blocked_beacon=bool(blocked_beacon[v]))  # fmt: skip
        for k in range(pages):
            live = sorted(per_page[v, k], key=lambda x: x[0])
            page = Page(dwell[v, k], int(end[v, k]), setup[v, k], linger[v, k])
            path.page(who, start[v, k], page, live)
        for msg in who.store:
            v_, e_ = origin[id(msg)]
            if msg.arrivals:
                counts[v_, e_, 0] += 1
                counts[v_, e_, 1] += col.duplicates(msg.arrivals)
            else:
                counts[v_, e_, OUTCOMES.index("never_returned")] += 1
    return counts


def settled_on_arrays(client, visit_data, pages_per_visit: int, handler_p: float) -> tuple:
    """``client.settle`` on every page of the visits at once (see :func:`on_arrays`).

    Returns every message (settled, then left open) with its status, each message's visit and
    event type, and the messages' state.
    """
    start, dwell, end, keepalive, blocked_beacon, events = visit_data
    n_visits = dwell.shape[0]
    n = n_visits * pages_per_visit
    position = np.tile(np.arange(pages_per_visit), n_visits)
    pages = Pages(
        t0=start.ravel(), dwell=dwell.ravel(), end=end.ravel(),
        cancels=end.ravel() != BACKGROUND, javascript=np.ones(n, bool),
        handler_p=np.full(n, handler_p), position=position,
        last=position == pages_per_visit - 1, blocked=np.zeros(n, bool),
        blocked_ads=np.zeros(n, bool), blocked_beacon=np.repeat(blocked_beacon, pages_per_visit),
        keepalive=np.repeat(keepalive, pages_per_visit),
    )  # fmt: skip
    v, k, offset, e = (np.array(c) for c in zip(*events, strict=True))
    v, k, e = v.astype(int), k.astype(int), e.astype(int)
    page = v * pages_per_visit + k
    state = MessageState.new(start.ravel()[page] + offset)
    rows, status, left, _ = client.settle(pages, state, page, offset, e, np.zeros(v.size, bool))
    assert np.unique(np.concatenate([rows, left])).size == v.size  # each message once
    rows = np.concatenate([rows, left])
    status = np.concatenate([status, np.where(state.n[left] > 0, DELIVERED_STATUS,
                                              LOST["never_returned"])])  # fmt: skip
    return rows, status, v, e, state


def on_arrays(client, sc, visit_data, pages_per_visit: int, handler_p: float) -> np.ndarray:
    """Counts per visit, event type and outcome of ``client`` settling every page at once.

    ``visit_data`` is ``(start, dwell, end, keepalive, blocked_beacon, events)``: per visit and
    page, the start, dwell and how it ends; per visit, whether the browser honours keepalive
    and whether its blocker stops beacons; and the events, as for :func:`page_by_page`.
    """
    rows, status, v, e, state = settled_on_arrays(client, visit_data, pages_per_visit, handler_p)
    n_visits = visit_data[1].shape[0]
    counts = np.zeros((n_visits, 3, len(OUTCOMES)))
    code = {DELIVERED_STATUS: 0, **{c: OUTCOMES.index(name) for name, c in LOST.items()}}
    column = np.array([code[s] for s in status.tolist()])
    np.add.at(counts, (v[rows], e[rows], column), 1)
    np.add.at(counts, (v[rows], e[rows], 1), state.duplicates(sc.collector.dedupe)[rows])
    return counts


def worst_p_against_reference(
    sc, settler, root: int, n: int, visits, pages_per_visit: int, handler_p: float
) -> tuple[float, tuple]:
    """An array ``settler`` against the page-by-page path on ``n`` synthetic visits.

    ``visits(rng, n)`` draws the visits (see :func:`on_arrays`); collector outages of 30 s
    come every 9,700 s. Returns the Bonferroni-corrected smallest p and where it is
    (:func:`support.agreement.worst_corrected_p`).
    """
    outages = Windows([(100.0 * i, 100.0 * i + 30.0) for i in range(1, n * 10, 97)])
    data = visits(np.random.default_rng(root), n)
    client = settler(sc, outages, Streams(np.random.SeedSequence(root + 1)))
    a = on_arrays(client, sc, data, pages_per_visit, handler_p)
    start, dwell, end, keepalive, blocked_beacon, events = data
    b = page_by_page(sc, root + 2, start, dwell, end, events, outages, handler_p, keepalive,
                     blocked_beacon)  # fmt: skip
    return worst_corrected_p(a, b)
