"""The page-by-page client path on synthetic visits: the reference the array settlers match.

Visits have a fixed number of pages; ``events`` lists ``(visit, page, offset, event type)``
with event types 0, 1 and 2. :func:`page_by_page` runs every page through
:class:`~simulator.model.client.page.ClientPath`, with each page's connection drawn as the
engine draws it, and counts each visit's outcomes per event type.
"""

from __future__ import annotations

import bisect

import numpy as np

from simulator.model.client.connection import page_connections
from simulator.model.client.page import ClientPath
from simulator.model.collector import LOST, Collector, Message
from simulator.model.pages import Page
from simulator.model.population import Visitor, layout_of
from simulator.model.streams import Streams
from simulator.model.tally_buffer import TallyBuffer

OUTCOMES = ["delivered", "duplicate", *sorted(LOST)]
"""Outcome columns of the counts: delivered, duplicates kept, then each loss cause."""

EVENTS = [
    {"name": "small", "kind": "ui", "bytes": 800},
    {"name": "click", "kind": "ui", "bytes": 30000},
    {"name": "replay", "kind": "client_only", "request_class": "replay", "bytes": 36000},
]
"""Event types 0, 1, 2: two of them weigh 30 and 36 kB, so that the 64 KiB keepalive quota binds
on some pages."""


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
