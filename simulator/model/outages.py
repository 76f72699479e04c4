"""Collector outages: windows when the vendor's endpoint is unreachable, shared by both paths.

Drawn once per replication up front (a Poisson number of outages over the run, each with its
duration), merged where they overlap, and looked up by bisection. A request sent from the
browser, or a batch uploaded from a server, during an outage fails.
"""

from __future__ import annotations

import bisect

import numpy as np

from simulator.config.tracking import CollectorConfig


class Outages:
    """Collector outage windows, drawn up front and looked up by bisection.

    Parameters
    ----------
    config : CollectorConfig
        Outage rate and duration.
    end : float
        Last simulated second.
    rng : numpy.random.Generator
        The ``outages`` stream.
    """

    def __init__(self, config: CollectorConfig, end: float, rng: np.random.Generator) -> None:
        n = rng.poisson(config.outages_per_day * end / 86400.0)
        starts = np.sort(rng.uniform(0.0, end, n))
        ends = starts + config.outage_seconds.sample(rng, n)
        merged: list[list[float]] = []
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]
        self._starts = np.asarray(self.starts, dtype=float)
        self._ends = np.asarray(self.ends, dtype=float)

    def down(self, t: float) -> bool:
        """Whether the collector is unreachable at time ``t``."""
        i = bisect.bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]

    def down_at(self, t: np.ndarray) -> np.ndarray:
        """Whether the collector is unreachable at each of the times ``t``."""
        if not self._starts.size:
            return np.zeros(np.shape(t), dtype=bool)
        i = np.searchsorted(self._starts, t, side="right") - 1
        return (i >= 0) & (t < self._ends[np.maximum(i, 0)])

    def overlaps(self, first: float, last: float) -> bool:
        """Whether any outage covers part of ``[first, last]``."""
        i = bisect.bisect_right(self.starts, last) - 1  # the last outage to start by ``last``
        return i >= 0 and self.ends[i] > first

    def downtime(self) -> float:
        """Total seconds of outage."""
        return float(sum(e - s for s, e in zip(self.starts, self.ends, strict=True)))
