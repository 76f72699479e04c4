"""What an event export is told during a run: true events and arrived copies, as arrays.

The engine hands them over window by window (and the server path as its queues settle), so an
export holds at most a window's rows. A sink draws no random numbers: a run is the same with or
without one.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class CopySink(Protocol):
    """Receives a run's true events and arrived copies, as arrays (an event export).

    ``off`` is the tally offset (event type and cell, :meth:`TallyBuffer.offset`). ``plan`` is
    the plan whose server path delivered the copies, or -1 for browser copies, whose ``plans``
    bit mask says which plans take them.
    """

    def truth(self, key: np.ndarray, visitor: np.ndarray, off: np.ndarray, t: np.ndarray) -> None:
        """True events made by visitors (bots excluded)."""

    def arrived(
        self, plan: int, key: np.ndarray, visitor: np.ndarray, off: np.ndarray, t: np.ndarray,
        plans: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        """Copies that reached the collector, at ``t``."""
