"""The lab's grid: one cell per transport, gap, latency, connection, preflight and page end.

A cell is measured by ``trials`` independent page loads, each in a fresh browser context (so a
``cold`` trial really opens a new connection, and no preflight is cached between trials).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

TRANSPORTS = ("xhr", "fetch", "fetch_keepalive", "beacon")
"""How the page sends its event (``fetch_keepalive`` is ``fetch`` with ``keepalive: true``)."""
CONNECTIONS = ("cold", "warm")
"""``cold``: the first request to the collector; ``warm``: a connection to it is already open."""
PREFLIGHTS = ("off", "on")
"""``on`` sends a JSON body, which a cross-origin request must clear with a CORS preflight."""
PAGE_ENDS = ("navigate", "close")
"""How the page ends ``gap`` after the send: it navigates to another page, or its tab closes."""
DEFAULT_GAPS = (0, 50, 100, 250, 500, 1000)
"""Milliseconds from the send to the start of the page's end."""
DEFAULT_LATENCIES = (50, 200, 500)
"""One-way latency between the browser and the collector, in milliseconds."""
MAX_MILLISECONDS = 10_000
"""The longest gap or latency the lab accepts."""


@dataclass(frozen=True, order=True)
class Cell:
    """One combination of the grid's factors, measured with ``trials`` page loads."""

    latency_ms: int
    connection: str
    preflight: str
    page_end: str
    transport: str
    gap_ms: int
    trials: int

    @property
    def key(self) -> tuple:
        """What identifies the cell in a results file."""
        return tuple(asdict(self).values())

    def describe(self) -> str:
        """A short description for progress and error messages."""
        return (
            f"{self.transport}, gap {self.gap_ms} ms, latency {self.latency_ms} ms, "
            f"{self.connection}, preflight {self.preflight}, {self.page_end}"
        )


def grid(
    *,
    transports: Sequence[str] = TRANSPORTS,
    gaps: Sequence[int] = DEFAULT_GAPS,
    latencies: Sequence[int] = DEFAULT_LATENCIES,
    connections: Sequence[str] = CONNECTIONS,
    preflights: Sequence[str] = PREFLIGHTS,
    page_ends: Sequence[str] = PAGE_ENDS,
    trials: int = 50,
) -> list[Cell]:
    """Every cell of the grid, ordered by latency (the delay changes once per latency).

    Parameters
    ----------
    transports, connections, preflights, page_ends : sequence of str
        Levels of each factor, from :data:`TRANSPORTS`, :data:`CONNECTIONS`,
        :data:`PREFLIGHTS` and :data:`PAGE_ENDS`.
    gaps, latencies : sequence of int
        Milliseconds, from 0 to :data:`MAX_MILLISECONDS`.
    trials : int
        Page loads per cell (at least 1).

    Returns
    -------
    list of Cell

    Raises
    ------
    ValueError
        For an unknown level, a value out of range or an empty factor, naming it.
    """
    for name, values, allowed in (
        ("transport", transports, TRANSPORTS),
        ("connection", connections, CONNECTIONS),
        ("preflight", preflights, PREFLIGHTS),
        ("page end", page_ends, PAGE_ENDS),
    ):
        _check_levels(name, values, allowed)
    for name, values in (("gap", gaps), ("latency", latencies)):
        if not values:
            raise ValueError(f"{name}: give at least one value")
        for value in values:
            if not 0 <= value <= MAX_MILLISECONDS:
                raise ValueError(f"{name} must be 0 to {MAX_MILLISECONDS} ms, got {value}")
    if trials < 1:
        raise ValueError(f"trials must be at least 1, got {trials}")
    product = itertools.product(
        sorted(set(latencies)),
        _unique(connections),
        _unique(preflights),
        _unique(page_ends),
        _unique(transports),
        sorted(set(gaps)),
    )
    return [Cell(*(int(v) if isinstance(v, int) else v for v in p), trials) for p in product]


def _check_levels(name: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    if not values:
        raise ValueError(f"{name}: give at least one of {', '.join(allowed)}")
    for value in values:
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))
