"""Blocker kinds as filter lists, and the URLs the browser library requests.

A blocker kind (an extension with default lists, one with privacy lists, a browser's built-in
blocker, a DNS-level blocker) is the set of filter lists its users run, in Adblock Plus syntax,
each with the share of the kind's users who run it. A filter-list engine decides, before the
run, which of the client's requests (script, event requests, the page-hide beacon, the ad
pixel, the hybrid path's forward to the site's own server) each combination of lists blocks
(see ``simulator/model/filter_engine.py``).

The lists named here ship with the package (``filter_lists/*.txt``, every rule commented with
its source); ``client.filter_lists`` adds the user's own files, such as a downloaded EasyList.
Section numbers refer to ``docs/sources.md``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from simulator.config.frozen import Frozen
from simulator.config.wording import problem

LIST_FOLDER = Path(__file__).resolve().parent / "filter_lists"
"""Where the lists shipped with the package live."""

BUILTIN_LISTS = (
    "ad_servers",
    "tracker_domains",
    "beacon_path",
    "event_path",
    "ping",
    "dns_domains",
)
"""Names of the shipped lists (``filter_lists/NAME.txt``)."""

REQUEST_TYPE = {
    "xhr": "xmlhttprequest",
    "fetch": "xmlhttprequest",
    "fetch_keepalive": "xmlhttprequest",
    "beacon": "ping",
}
"""Filter-list request type of each transport: browsers type ``fetch()`` as xhr, and
``navigator.sendBeacon`` as ``ping`` (§4b)."""

DESTINATION_URLS = {
    # Segment analytics-next: the tag from cdn.segment.com, events to api.segment.io/v1 (§3a).
    "vendor": (
        "https://cdn.segment.com/analytics.js/v1/KEY/analytics.min.js",
        "https://api.segment.io/v1/t",
    ),
    # A CNAME "custom domain": a subdomain of the shop aliasing the vendor's host (§4a).
    "cname": (
        "https://t.shop.example/analytics.js/v1/KEY/analytics.min.js",
        "https://t.shop.example/v1/t",
    ),
    # A same-origin reverse proxy under a neutral path (§4a, PostHog's naming advice).
    "proxy": ("https://shop.example/ingest/analytics.min.js", "https://shop.example/ingest/v1/t"),
}
"""Script and event URLs that each ``client.destination`` shorthand stands for."""

VENDOR_EVENTS = DESTINATION_URLS["vendor"][1]
"""The vendor's own endpoint: a blocker that blocks it states the visitor's choice."""


def _url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise problem("url", value=value)
    return value


class RequestUrls(Frozen):
    """Where the browser library sends each request class; unset ones follow the destination.

    ``page`` is the site's page (which requests are third-party is judged against it);
    ``script``, ``events`` and ``beacon`` (the page-hide flush) default to the URLs of
    ``client.destination``; ``pixel`` is the ad pixel; ``forward`` is where the hybrid path's
    browser sends its context to the site's own server. ``cname_hosts`` maps a first-party
    host to the vendor host it aliases, which blockers that uncloak CNAMEs see instead.
    """

    page: str = "https://shop.example/"
    script: str | None = None
    events: str | None = None
    beacon: str | None = None
    # An ad-conversion pixel on an ad server (§4d).
    pixel: str = "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/1/"
    forward: str = "https://shop.example/api/context"
    cname_hosts: dict[str, str] = {"t.shop.example": "api.segment.io"}

    @field_validator("page", "script", "events", "beacon", "pixel", "forward")
    @classmethod
    def _urls(cls, v: str | None) -> str | None:
        return _url(v)


class BlockerKind(Frozen):
    """The filter lists one blocker kind's users run.

    ``lists`` maps a list name (shipped, or declared in ``client.filter_lists``) to the share of
    this kind's users who run it; each user runs each list independently. ``uncloak_cname`` is
    the share whose blocker resolves CNAME aliases (``cname_hosts``) and matches the real host;
    ``first_party = false`` leaves requests to the page's own site alone (Brave Standard, §7);
    ``hosts_only`` matches host names only, with no path, type or page (DNS-level blocking).
    """

    lists: dict[str, float] = {}
    uncloak_cname: float = Field(default=0.0, ge=0, le=1)
    first_party: bool = True
    hosts_only: bool = False

    @field_validator("lists")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        for name, share in v.items():
            if not 0 <= share <= 1:
                raise problem("between_0_and_1", at=(name,), value=share)
        return v


DEFAULT_BLOCKER_KINDS = {
    "none": BlockerKind(),
    # Adblock Plus defaults: EasyList only, ads but not analytics (§1a contentpass 2018;
    # Wills & Uzunoglu 2016: ~80% of ABP users keep the defaults).
    "extension_default": BlockerKind(lists={"ad_servers": 1.0}),
    # uBlock Origin's defaults include EasyPrivacy (§4a), with its generic `/beacon/` path rule
    # (§4d, rudder-sdk-js #1869). CNAME uncloaking (uBO on Firefox, §4a): share 0.5 is an
    # assumption. sendBeacon as a type (§4b): share 0.05 is an assumption. Ghostery's "event"
    # path rule (§4d, jitsu #938): share 0.1 of privacy-list users is an assumption.
    "extension_privacy": BlockerKind(
        lists={
            "ad_servers": 1.0,
            "tracker_domains": 1.0,
            "beacon_path": 1.0,
            "ping": 0.05,
            "event_path": 0.1,
        },
        uncloak_cname=0.5,
    ),
    # Brave Shields Standard: EasyList and EasyPrivacy on third-party requests only (§7).
    "browser_builtin": BlockerKind(
        lists={"ad_servers": 1.0, "tracker_domains": 1.0}, first_party=False
    ),
    # DNS-level (Pi-hole) blocks listed host names; CNAME inspection share is an assumption.
    "dns": BlockerKind(lists={"dns_domains": 1.0}, uncloak_cname=0.5, hosts_only=True),
}
"""Each blocker kind's lists and the share of its users running each (calibration, §4d)."""


def list_file(name: str, user_lists: dict[str, str]) -> Path:
    """The file holding list ``name``: the user's (``client.filter_lists``) or a shipped one."""
    if name in user_lists:
        return Path(user_lists[name]).expanduser()
    return LIST_FOLDER / f"{name}.txt"


__all__ = [
    "BUILTIN_LISTS",
    "DEFAULT_BLOCKER_KINDS",
    "DESTINATION_URLS",
    "LIST_FOLDER",
    "REQUEST_TYPE",
    "VENDOR_EVENTS",
    "BlockerKind",
    "RequestUrls",
    "list_file",
]
