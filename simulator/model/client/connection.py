"""When a page's requests can be written, and when the page is torn down: the unload race's rule.

Measured in headless Chromium (``docs/sources.md`` §2e), an ``xhr`` or ``fetch`` request reaches
the collector, even after its page is gone, if its bytes were written before the page was torn
down; once written it arrives one latency later. Whether the *page* sees the answer still needs
the whole round trip before the teardown. So, for each page:

* **setup**: seconds after the tag loads before a request can be written: 0 on a warm
  connection; ``2 L`` per handshake round trip on a cold one; ``2 L`` more for a CORS
  preflight, on the visit's first page when the body's type needs one. ``L`` is the page's
  one-way latency, a draw of the client's ``upload_latency_seconds``. The tag's load opens the
  connection (the page view is sent then in every preset); requests made before it is open
  wait for it.
* **warm**: always when events go to the page's own origin (the page was just fetched over
  that connection); on a visit's first page with ``first_page_warm`` (by default: when events go
  to the host the tag was loaded from); on a later page when the page before it lasted less
  than the idle timeout (the connection idled at most that long).
* **linger**: from the page's end (the navigation's start, or the tab's close) to its teardown:
  a draw of ``commit_delay_seconds`` or ``close_delay_seconds``; 0 for a page that only goes to
  the background (it is not torn down, so nothing is cancelled).

Both settlers take these per-page arrays from :func:`page_connections`, so they share the rule
and its draws (the ``connection`` stream), and agree page by page.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simulator.config.tracking import ClientConfig
from simulator.model.client.settler import Pages
from simulator.model.pages import CLOSE, NAVIGATE


def page_connections(
    cfg: ClientConfig,
    dwell: np.ndarray,
    end: np.ndarray,
    position: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Connection setup time and teardown linger of each page of a block.

    Parameters
    ----------
    cfg : ClientConfig
        The browser library's settings (URLs, latency, ``connection``).
    dwell : numpy.ndarray
        Seconds each page lasts (a visit's pages are consecutive).
    end : numpy.ndarray
        How each page ends: ``NAVIGATE``, ``CLOSE`` or ``BACKGROUND``.
    position : numpy.ndarray
        Each page's position in its visit (0 for the first).
    rng : numpy.random.Generator
        The ``connection`` stream; four variates are drawn per page, whatever the settings.

    Returns
    -------
    setup : numpy.ndarray
        Seconds after the tag's load before a request's bytes can be written.
    linger : numpy.ndarray
        Seconds from the page's end to its teardown.

    Examples
    --------
    >>> cfg = ClientConfig(destination="proxy")
    >>> setup, linger = page_connections(cfg, np.array([5.0, 9.0]), np.array([NAVIGATE, CLOSE]),
    ...                                  np.array([0, 1]), np.random.default_rng(1))
    >>> setup.tolist(), (linger > 0).tolist()  # a close cancels at once by default
    ([0.0, 0.0], [True, False])
    """
    con = cfg.connection
    n = dwell.size
    u_warm = rng.random(n)
    latency = cfg.upload_latency_seconds.sample(rng, n)
    commit = con.commit_delay_seconds.sample(rng, n)
    close = con.close_delay_seconds.sample(rng, n)
    page, script, events = cfg.urls.page, cfg.request_url("script"), cfg.request_url("events")
    first = position == 0
    if con.same_origin(page, events):
        warm = np.ones(n, dtype=bool)
    else:
        before = np.concatenate([[np.inf], dwell[:-1]])  # the previous page of the same visit
        warm = np.where(first, u_warm < con.warm_first_page(page, script, events),
                        before < con.idle_seconds)  # fmt: skip
    trips = np.where(warm, 0, con.handshake_round_trips)
    if con.preflight(page, events):  # once a visit: the answer is cached
        trips = trips + first
    setup = 2.0 * latency * trips
    linger = np.select([end == NAVIGATE, end == CLOSE], [commit, close], 0.0)
    return setup, linger


def with_connections(cfg: ClientConfig, pages: Pages, rng: np.random.Generator) -> Pages:
    """The block's pages with their connection setup and teardown linger drawn.

    Pages that carry them already (replayed on another settler's draws) are returned as they
    are, so a page keeps one connection whichever settler handles it.

    Parameters
    ----------
    cfg : ClientConfig
        The browser library's settings.
    pages : Pages
        The block's pages.
    rng : numpy.random.Generator
        The ``connection`` stream (see :func:`page_connections`).

    Returns
    -------
    Pages
    """
    if pages.setup is not None:
        return pages
    setup, linger = page_connections(cfg, pages.dwell, pages.end, pages.position, rng)
    return replace(pages, setup=setup, linger=linger)


__all__ = ["page_connections", "with_connections"]
