"""The browser's connection to the collector: when a request's bytes leave, and when a page dies.

What decides whether an ``xhr``/``fetch`` request survives a navigation is not whether it has
*arrived* before the page ends but whether its bytes were *written* before the page was torn
down (§2e, this project's lab, and the note at ``simulator/model/client/connection.py``). A
request is written at once on a warm connection; on a cold one only after the handshake, and
after one more round trip when it needs a CORS preflight. The old page is torn down some time
after the navigation starts, when the next page commits. These settings give the model what it
needs for that rule; their defaults cite ``docs/sources.md``.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field

from simulator.config.distributions import Constant, Distribution, LogNormal
from simulator.config.frozen import Frozen
from simulator.config.limits import MAX_SECONDS

CHROMIUM_IDLE_SECONDS = 300.0
"""Chromium keeps a used idle socket open for five minutes (§2f, ``client_socket_pool.cc``)."""


class ConnectionConfig(Frozen):
    """How the browser reaches the collector, and how long a page lives after it is left.

    ``handshake_round_trips``: round trips before a new connection can carry a request (TCP and
    TLS 1.3 take one each; the lab, without TLS, one). ``keepalive_timeout_seconds``: how long
    the collector keeps an idle connection open; a later page of a visit finds it warm when the
    page before it lasted less than this (and less than Chromium's own five minutes).
    ``first_page_warm``: probability that a visit's first page finds the connection open; unset,
    it follows the URLs (1 when events go to the page's own host or to the host the tag was just
    loaded from, 0 otherwise). ``content_type``: ``application/json`` to another origin needs a
    CORS preflight, paid once a visit (the collector's preflight answer is assumed cached that
    long). ``commit_delay_seconds``: from the start of a navigation to the old page's teardown
    (the next page must answer first); ``close_delay_seconds``: from a tab close to teardown.
    ``beacon_own_connection``: ``sendBeacon`` opens a connection of its own (it neither uses nor
    warms the page's).
    """

    # TCP (one round trip) then TLS 1.3 (one more, RFC 8446) before a request can be written (§2f).
    handshake_round_trips: int = Field(default=2, ge=0, le=4)
    # nginx's default keepalive_timeout, 75 s (§2f).
    keepalive_timeout_seconds: float = Field(default=75.0, ge=0, le=MAX_SECONDS)
    first_page_warm: float | None = Field(default=None, ge=0, le=1)
    # Segment analytics-next posts text/plain bodies, which need no preflight (§3a).
    content_type: Literal["text/plain", "application/json"] = "text/plain"
    # Assumption: the next page's time to first byte, for a site web.dev would rate good (75% of
    # loads at most 0.8 s, §2f): median 0.35 s, 75th percentile 0.6 s.
    commit_delay_seconds: Distribution = LogNormal(kind="lognormal", median=0.35, sigma=0.8)
    # The lab: a tab's close cancels at once what is not yet written (§2e).
    close_delay_seconds: Distribution = Constant(kind="constant", value=0.0)
    # The lab: no beacon used the connection the page had opened (§2e).
    beacon_own_connection: bool = True

    @property
    def idle_seconds(self) -> float:
        """How long an idle connection stays open: the shorter of the collector's and Chromium's."""
        return min(self.keepalive_timeout_seconds, CHROMIUM_IDLE_SECONDS)

    def warm_first_page(self, page: str, script: str, events: str) -> float:
        """Probability that a visit's first page finds the collector connection open.

        Parameters
        ----------
        page, script, events : str
            The page's URL, the tag's and the events' (the client's request URLs).

        Returns
        -------
        float
            ``first_page_warm`` when given; else 1 when ``events`` goes to the page's host or
            to the tag's (just used to load the page or the tag), 0 otherwise.

        Examples
        --------
        >>> c = ConnectionConfig()
        >>> c.warm_first_page("https://a.example/", "https://cdn.v.io/t.js", "https://api.v.io/e")
        0.0
        >>> c.warm_first_page("https://a.example/", "https://a.example/t.js", "https://a.example/e")
        1.0
        """
        if self.first_page_warm is not None:
            return self.first_page_warm
        host = _origin(events)
        return 1.0 if host in (_origin(page), _origin(script)) else 0.0

    def preflight(self, page: str, events: str) -> bool:
        """Whether event requests need a CORS preflight (a JSON body to another origin).

        Examples
        --------
        >>> ConnectionConfig(content_type="application/json").preflight(
        ...     "https://a.example/", "https://api.v.io/e")
        True
        """
        return self.content_type == "application/json" and _origin(page) != _origin(events)

    def same_origin(self, page: str, events: str) -> bool:
        """Whether events go to the page's own origin (its connection is the page's own)."""
        return _origin(page) == _origin(events)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


__all__ = ["CHROMIUM_IDLE_SECONDS", "ConnectionConfig"]
