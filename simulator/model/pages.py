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
    """

    dwell: float
    end: int
