"""Which of the client's requests each blocker kind blocks, decided by a filter-list engine.

Before a run, every distinct request (URL, request type, first- or third-party to the page) is
checked once against each combination of lists a blocker kind's users may run, with Brave's
adblock-rust engine (the ``adblock`` package). The result is a small table per blocker kind:
the combinations ("variants"), the share of the kind's users in each, and what each blocks.
Visitors then draw a variant, so the engine never runs on the hot path.

The outcome columns are what the client path needs per visitor: ``blocked`` (the tag's script
or its event requests), ``ads`` (the ad pixel), ``beacon`` (the page-hide ``sendBeacon``),
``forward`` (the hybrid path's request to the site's own server) and ``vendor`` (the vendor's
own endpoint: blocking it states the visitor's choice not to be tracked).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from simulator.config.blocker_lists import (
    REQUEST_TYPE,
    VENDOR_EVENTS,
    BlockerKind,
    list_file,
)
from simulator.config.tracking import BlockerRules, ClientConfig

COLUMNS = ("blocked", "ads", "beacon", "forward", "vendor")
"""Outcome columns of a variant, in order."""


@dataclass(frozen=True)
class Request:
    """One request the browser may make: its URL and filter-list request type."""

    url: str
    type: str


def requests_of(client: ClientConfig) -> dict[str, Request]:
    """The requests the client makes, by request class (``vendor`` is the vendor's endpoint)."""
    return {
        "script": Request(client.request_url("script"), "script"),
        "events": Request(client.request_url("events"), REQUEST_TYPE[client.transport]),
        "beacon": Request(client.request_url("beacon"), "ping"),
        "pixel": Request(client.request_url("pixel"), "image"),
        "forward": Request(client.request_url("forward"), "xmlhttprequest"),
        "vendor": Request(VENDOR_EVENTS, "xmlhttprequest"),
    }


@functools.lru_cache(maxsize=64)
def _engine(files: tuple[str, ...]):  # noqa: ANN202 - an adblock.Engine
    import adblock  # heavy: only when a run builds its blocking table

    rules = adblock.FilterSet()
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as text:
            rules.add_filter_list(text.read())
    return adblock.Engine(rules)


def engine(names: tuple[str, ...], user_lists: dict[str, str]):  # noqa: ANN201
    """An adblock-rust engine loaded with the named lists (cached by their files)."""
    return _engine(tuple(sorted(str(list_file(n, user_lists)) for n in names)))


def _uncloaked(url: str, hosts: dict[str, str]) -> str:
    parts = urlsplit(url)
    real = hosts.get(parts.hostname or "")
    return urlunsplit(parts._replace(netloc=real)) if real else url


def is_third_party(url: str, page: str) -> bool:
    """Whether ``url`` is third-party to ``page``, as the engine judges ``$third-party``.

    Examples
    --------
    >>> is_third_party("https://t.shop.example/v1", "https://shop.example/")
    False
    >>> is_third_party("https://api.segment.io/v1", "https://shop.example/")
    True
    """
    probe = _engine_from_text("*$third-party")
    return probe.check_network_urls(url, page, "xmlhttprequest").matched


@functools.lru_cache(maxsize=8)
def _engine_from_text(text: str):  # noqa: ANN202
    import adblock

    rules = adblock.FilterSet()
    rules.add_filter_list(text)
    return adblock.Engine(rules)


def blocks(
    request: Request,
    names: tuple[str, ...],
    client: ClientConfig,
    *,
    uncloak: bool = False,
    first_party: bool = True,
    hosts_only: bool = False,
) -> bool:
    """Whether a blocker running the lists ``names`` blocks ``request`` on the client's page.

    Parameters
    ----------
    request : Request
        URL and request type.
    names : tuple of str
        The lists the blocker runs (shipped, or in ``client.filter_lists``).
    client : ClientConfig
        Gives the page, the CNAME aliases and the user's list files.
    uncloak : bool
        The blocker resolves CNAME aliases and matches the real host.
    first_party : bool
        The blocker filters requests to the page's own site too.
    hosts_only : bool
        The blocker sees host names only (DNS): no path, type or page.

    Returns
    -------
    bool
    """
    if not names:
        return False
    page, url = client.urls.page, request.url
    if uncloak:
        url = _uncloaked(url, client.urls.cname_hosts)
    if not first_party and not is_third_party(url, page):
        return False
    kind = request.type
    if hosts_only:
        parts = urlsplit(url)
        url = page = f"{parts.scheme}://{parts.hostname}/"
        kind = "other"
    return engine(names, client.filter_lists).check_network_urls(url, page, kind).matched


def list_variants(client: ClientConfig, kind: BlockerKind) -> list[tuple[float, tuple]]:
    """The combinations of lists a kind's users run, as ``(share, outcome row)``."""
    sure = [n for n, s in kind.lists.items() if s >= 1]
    toggles = [(n, s) for n, s in kind.lists.items() if 0 < s < 1]
    toggles.append(("", kind.uncloak_cname))  # "" stands for CNAME uncloaking
    toggles = [(n, s) for n, s in toggles if s > 0]
    always_uncloak = kind.uncloak_cname >= 1
    requests = requests_of(client)
    out = []
    for bits in itertools.product((False, True), repeat=len(toggles)):
        share = float(np.prod([s if b else 1 - s for (_, s), b in zip(toggles, bits, strict=True)]))
        on = {n for (n, _), b in zip(toggles, bits, strict=True) if b}
        names = tuple(sorted(set(sure) | (on - {""})))
        flags = dict(
            uncloak=always_uncloak or "" in on,
            first_party=kind.first_party,
            hosts_only=kind.hosts_only,
        )
        hit = {r: blocks(q, names, client, **flags) for r, q in requests.items()}
        out.append((share, _row(hit)))
    return out


def _row(hit: dict[str, bool]) -> tuple[bool, ...]:
    return (
        hit["script"] or hit["events"],
        hit["pixel"],
        hit["beacon"],
        hit["forward"],
        hit["vendor"],
    )


def rule_variants(client: ClientConfig, rules: BlockerRules) -> list[tuple[float, tuple]]:
    """Variants of a kind stated by probabilities: each column drawn independently."""
    p = (getattr(rules, client.destination), rules.ads, rules.beacon, rules.proxy, rules.vendor)
    out = []
    for bits in itertools.product((False, True), repeat=len(p)):
        share = float(np.prod([q if b else 1 - q for q, b in zip(p, bits, strict=True)]))
        out.append((share, bits))
    return out


class BlockingTable:
    """Per blocker kind, the variants its users fall in and what each blocks.

    Parameters
    ----------
    client : ClientConfig
        URLs, transport, lists and blocker kinds.
    kinds : tuple of str
        Blocker kinds in the tally layout's order.
    """

    def __init__(self, client: ClientConfig, kinds: tuple[str, ...]) -> None:
        self.kinds = kinds
        self.cumulative, self.outcomes = [], []
        for kind in kinds:
            if kind in client.blocking:
                variants = rule_variants(client, client.blocking[kind])
            else:
                variants = list_variants(client, client.blockers[kind])
            # Variants stay in the order of the lists' combinations, which depends on the kind
            # only: the same uniform gives a visitor the same lists under any client settings.
            rows = [tuple(row) for _, row in variants]
            self.outcomes.append(np.array(rows, dtype=bool).reshape(len(rows), len(COLUMNS)))
            self.cumulative.append(np.cumsum([share for share, _ in variants]))

    def draw(self, kind: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Outcome rows (visitors, columns) for visitors of ``kind`` given uniforms ``u``."""
        out = np.zeros((kind.size, len(COLUMNS)), dtype=bool)
        for k, (cum, rows) in enumerate(zip(self.cumulative, self.outcomes, strict=True)):
            idx = np.flatnonzero(kind == k)
            if idx.size:
                v = np.searchsorted(cum, u[idx] * cum[-1], side="right")  # skips empty variants
                out[idx] = rows[np.minimum(v, len(rows) - 1)]
        return out

    def shares(self) -> dict[str, dict[str, float]]:
        """Share of each kind's users for whom each column is blocked."""
        out = {}
        for kind, cum, rows in zip(self.kinds, self.cumulative, self.outcomes, strict=True):
            p = np.diff(np.concatenate([[0.0], cum])) / cum[-1]
            out[kind] = {c: float(p @ rows[:, i]) for i, c in enumerate(COLUMNS)}
        return out


@functools.lru_cache(maxsize=16)
def _table(client_json: str, kinds: tuple[str, ...]) -> BlockingTable:
    return BlockingTable(ClientConfig.model_validate_json(client_json), kinds)


def blocking_table(client: ClientConfig, kinds: tuple[str, ...]) -> BlockingTable:
    """The blocking table of a client's settings (built once per process and settings)."""
    return _table(client.model_dump_json(), kinds)


__all__ = [
    "COLUMNS",
    "BlockingTable",
    "Request",
    "blocking_table",
    "blocks",
    "engine",
    "is_third_party",
    "list_variants",
    "requests_of",
    "rule_variants",
]
