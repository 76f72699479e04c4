"""Pages: how a page view ends, and the record the page-by-page client path works on.

Every page ends in a navigation (the old page unloads), a tab close, or the app going to the
background (mobile). The engine draws visits in blocks (:mod:`simulator.model.visits`); the
page-by-page client path (:mod:`simulator.model.client.page`) takes one :class:`Page` at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

NAVIGATE, CLOSE, BACKGROUND = 0, 1, 2


@dataclass(slots=True)
class Page:
    """One page view, as the page-by-page client path sees it.

    Attributes
    ----------
    dwell : float
        Seconds until the page ends.
    end : int
        ``NAVIGATE``, ``CLOSE`` or ``BACKGROUND``.
    setup : float
        Seconds after the tag's load before a request can be written (0: a warm connection).
    linger : float
        Seconds from the page's end to its teardown (the next page's commit).
    """

    dwell: float
    end: int
    setup: float = 0.0
    linger: float = 0.0
