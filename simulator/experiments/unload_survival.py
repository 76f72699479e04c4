"""How much of an event fired just before a page unload survives, per transport and device.

The question behind "page unloads punch holes in client tracking": an event fires ``t`` seconds
before the page unloads (a click on a link, "add to cart" that navigates); what share of such
events reaches the collector? It depends on the transport (an ``xhr`` or plain ``fetch`` still
in flight is cancelled by the unload, ``fetch_keepalive`` and ``beacon`` are not), on whether the
page-hide handler runs (by device, from the scenario's ``client.handler_fires``), and on the
retry store (a ``local_storage`` store resends on the next page).

:func:`unload_survival` measures it by driving the engine's own
:class:`~simulator.model.client.page.ClientPath` on synthetic pages: each page lasts ``dwell``
seconds, ends in a navigation (or a tab close), and carries one event at ``dwell - t``; with
``next_page`` the visitor then opens one more page, so that whatever the retry store kept can be
resent. Each page's connection to the collector and its teardown delay are drawn as the engine
draws them (:mod:`simulator.model.client.connection`): by default for a page in the middle of a
visit whose previous page lasted ``dwell``; ``connection="cold"`` or ``"warm"`` fixes it, as the
visit's first page with a preflight when the scenario needs one. Visitors are
never blocked (blocking is a different hole) and the collector has no outages; everything else
(script load, latencies, failures, batching, retries, keepalive quota) is the scenario's.

Transports and devices share random numbers for the same ``t`` (common random numbers), so
their curves differ by mechanism, not by noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simulator.config.scenario import Scenario
from simulator.config.tracking import Transport
from simulator.model.client.connection import page_connections
from simulator.model.client.page import ClientPath, standalone
from simulator.model.collector import Message
from simulator.model.pages import CLOSE, NAVIGATE, Page
from simulator.model.population import Visitor
from simulator.model.streams import MECHANISMS
from simulator.model.tally_buffer import TallyBuffer
from simulator.stats.intervals import wilson

TRANSPORTS: tuple[str, ...] = ("xhr", "fetch_keepalive", "beacon")
"""The transports compared by default (``fetch`` without keepalive behaves like ``xhr``)."""
DEFAULT_TIMES = tuple(float(t) for t in np.geomspace(0.02, 5.0, 12))
"""Default times between the event and the unload, in seconds (log-spaced)."""
NEXT_PAGE_DWELL = 60.0
"""Seconds the follow-up page stays open (long enough for a resend to complete)."""
GAP_SECONDS = 1.0
"""Seconds between the unload and the next page's start."""
CONNECTIONS = ("scenario", "cold", "warm")
"""How each synthetic page's collector connection is set (see :func:`unload_survival`)."""
PAGE_ENDS = {"navigate": NAVIGATE, "close": CLOSE}
"""How each synthetic page ends."""


def unload_survival(
    scenario: Scenario,
    times: Sequence[float] = DEFAULT_TIMES,
    *,
    transports: Sequence[str] = TRANSPORTS,
    devices: Sequence[str] | None = None,
    pages: int = 400,
    dwell: float = 30.0,
    event: str | None = None,
    next_page: bool = True,
    connection: str = "scenario",
    page_end: str = "navigate",
    seed: int | np.random.SeedSequence | None = None,
) -> dict:
    """Share of events delivered against the time between the event and the page unload.

    Parameters
    ----------
    scenario : Scenario
        Gives the client settings, handler reliability per device and the event's size.
    times : sequence of float
        Seconds between the event and the unload (each > 0 and < ``dwell``).
    transports : sequence of str
        Transports to compare; each is used both while the page lives and at page-hide.
    devices : sequence of str, optional
        Devices to compare (default: those in the scenario's segments). A device's handler
        probability is the share-weighted mean over its segments' browsers.
    pages : int
        Synthetic pages per (transport, device, time).
    dwell : float
        Seconds each page lasts.
    event : str, optional
        Event type whose size and request class are used (default: the first ``ui`` event,
        else the first event sent from a browser).
    next_page : bool
        Open one more page after the unload so that a retry store can resend.
    connection : {"scenario", "cold", "warm"}
        The collector connection of each page: drawn as the scenario would for a later page of
        a visit, or cold or warm on every page (then also paying a preflight if one is needed).
    page_end : {"navigate", "close"}
        How each page ends: the teardown follows after the scenario's commit or close delay.
    seed : int or numpy.random.SeedSequence, optional
        Root seed (default: the scenario's ``simulation.seed``). The same seed gives the same
        result.

    Returns
    -------
    dict
        ``scenario``, ``seed``, ``event``, ``dwell_seconds``, ``pages``, ``next_page``,
        ``interval_method`` and ``rows``: one per (transport, device, time) with
        ``transport``, ``device``, ``handler_p``, ``t``, ``pages``, ``delivered``, ``share``
        and ``share_ci`` (Wilson, 95%); also ``connection`` and ``page_end``.

    Raises
    ------
    ValueError
        For a time, transport, device, event or size out of range, naming the value given.

    Examples
    --------
    Without a retry store, on pages of 1.5 s: an ``xhr`` sent 20 ms before the navigation on a
    cold connection is lost when the handshake begun at the tag's load is not over by the
    teardown; on a warm connection it is written at once and arrives, as often as a beacon
    (both lose the pages left before the tag loaded):

    >>> import simulator as tl
    >>> scenario = tl.load_scenario("scenarios/baseline.toml", ["client.retry.store=none"])
    >>> for connection in ("cold", "warm"):
    ...     data = tl.unload_survival(scenario, [0.02], transports=["xhr", "beacon"],
    ...                               devices=["desktop"], pages=300, dwell=1.5,
    ...                               connection=connection, seed=1)
    ...     print(connection, {r["transport"]: round(r["share"], 2) for r in data["rows"]})
    cold {'xhr': 0.82, 'beacon': 0.92}
    warm {'xhr': 0.92, 'beacon': 0.92}
    """
    times = [float(t) for t in times]
    _check(scenario, times, transports, pages, dwell)
    if connection not in CONNECTIONS:
        raise ValueError(f"connection must be one of {list(CONNECTIONS)}, got {connection!r}")
    if page_end not in PAGE_ENDS:
        raise ValueError(f"page_end must be one of {list(PAGE_ENDS)}, got {page_end!r}")
    handler = device_handler_probabilities(scenario)
    devices = list(handler) if devices is None else list(devices)
    for d in devices:
        if d not in handler:
            raise ValueError(f"device must be one of {sorted(handler)}, got {d!r}")
    e = _event_index(scenario, event)
    root = seed if isinstance(seed, np.random.SeedSequence) else None
    root = root or np.random.SeedSequence(scenario.simulation.seed if seed is None else seed)
    rows = []
    for transport in transports:
        sc = _with_transport(scenario, transport)
        for device in devices:
            for i, t in enumerate(times):
                child = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, i))
                path, buffer = standalone(sc, child)
                shape = _pages(sc, connection, page_end, pages, dwell, child)
                hits = _delivered(path, buffer, e, handler[device], t, shape, next_page)
                share = hits / pages
                lo, hi = wilson(hits, pages)
                lo, hi = min(lo, share), max(hi, share)  # rounding at 0 and 1
                rows.append(
                    {
                        "transport": transport,
                        "device": device,
                        "handler_p": handler[device],
                        "t": t,
                        "pages": pages,
                        "delivered": hits,
                        "share": share,
                        "share_ci": [lo, hi],
                        "connection": connection,
                        "page_end": page_end,
                    }
                )
    return {
        "scenario": scenario.name,
        "seed": int(root.entropy) if isinstance(root.entropy, int) else str(root.entropy),
        "event": scenario.events[e].name,
        "dwell_seconds": dwell,
        "pages": pages,
        "next_page": next_page,
        "interval_method": "Wilson score (95%); pages are independent",
        "rows": rows,
    }


def device_handler_probabilities(scenario: Scenario) -> dict[str, float]:
    """Probability that the page-hide handler runs, per device in the scenario's segments.

    Each device's probability is the mean of its segments' ``handler_fire_probability``
    weighted by segment share (so a ``desktop.safari`` override counts for its share).
    """
    weights: dict[str, list[tuple[float, float]]] = {}
    client = scenario.client
    for s in scenario.population.segments:
        p = client.handler_fire_probability(s.device, s.browser)
        weights.setdefault(s.device, []).append((s.share, p))
    order = ("desktop", "mobile", "tablet")
    out = {}
    for device in sorted(weights, key=lambda d: order.index(d) if d in order else len(order)):
        total = sum(w for w, _ in weights[device])
        out[device] = sum(w * p for w, p in weights[device]) / total
    return out


def _check(
    scenario: Scenario, times: list[float], transports: Sequence[str], pages: int, dwell: float
) -> None:
    allowed = Transport.__args__  # type: ignore[attr-defined]
    problems = []
    if not dwell > 0:
        problems.append(f"dwell must be greater than 0, got {dwell}")
    if not times:
        problems.append("times must not be empty")
    problems += [
        f"times must be in (0, dwell={dwell}), got {t}" for t in times if not 0 < t < dwell
    ]
    problems += [
        f"transport must be one of {list(allowed)}, got {t!r}"
        for t in transports
        if t not in allowed
    ]
    if pages < 1:
        problems.append(f"pages must be at least 1, got {pages}")
    if problems:
        raise ValueError("; ".join(problems))


def _event_index(scenario: Scenario, name: str | None) -> int:
    browser = [i for i, e in enumerate(scenario.events) if e.kind != "offsite"]
    if name is None:
        ui = [i for i in browser if scenario.events[i].kind == "ui"]
        if not (ui or browser):
            raise ValueError("the scenario has no event type sent from a browser")
        return (ui or browser)[0]
    names = [scenario.events[i].name for i in browser]
    if name not in names:
        raise ValueError(f"event must be one of {names}, got {name!r}")
    return browser[names.index(name)]


def _with_transport(scenario: Scenario, transport: str) -> Scenario:
    """The scenario with one transport throughout and a collector that never goes down."""
    client = scenario.client.model_copy(update={"transport": transport, "unload_transport": None})
    collector = scenario.collector.model_copy(update={"outages_per_day": 0.0})
    return scenario.model_copy(update={"client": client, "collector": collector})


def _pages(
    scenario: Scenario,
    connection: str,
    page_end: str,
    pages: int,
    dwell: float,
    seed: np.random.SeedSequence,
) -> list[Page]:
    """The synthetic pages, each with its connection setup and teardown delay."""
    cfg = scenario.client
    if connection != "scenario":
        warm = float(connection == "warm")
        con = cfg.connection.model_copy(update={"first_page_warm": warm})
        cfg = cfg.model_copy(update={"connection": con})
    end = PAGE_ENDS[page_end]
    # A visit's first page (as the lab's), or pages after one that lasted ``dwell`` seconds.
    position = np.full(pages, int(connection == "scenario"))
    # A stream of its own: the child of ``seed`` after the path's streams (theirs come first).
    own = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, len(MECHANISMS)))
    rng = np.random.default_rng(own)
    setup, linger = page_connections(cfg, np.full(pages, dwell), np.full(pages, end), position, rng)
    return [Page(dwell, end, a, b) for a, b in zip(setup.tolist(), linger.tolist(), strict=True)]


def _delivered(
    client: ClientPath,
    buffer: TallyBuffer,
    e: int,
    handler_p: float,
    t: float,
    pages: list[Page],
    next_page: bool,
) -> int:
    """Drive the synthetic pages through a client path; count arrivals."""
    off = buffer.offset(e, 0)
    dwell = pages[0].dwell
    step = dwell + GAP_SECONDS + NEXT_PAGE_DWELL + GAP_SECONDS
    hits = 0
    for j, page in enumerate(pages):
        v = Visitor.make(handler_p=handler_p)
        t0 = j * step
        msg = Message(e, off, 0.0)
        client.page(v, t0, page, [(dwell - t, msg)])
        if next_page and v.store:
            client.page(v, t0 + dwell + GAP_SECONDS, Page(NEXT_PAGE_DWELL, CLOSE), [])
        hits += bool(msg.arrivals)
    return hits
