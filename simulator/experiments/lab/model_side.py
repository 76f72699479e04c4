"""What the simulator's browser model says for the lab's cells.

Each lab cell is replayed by :func:`~simulator.experiments.unload_survival.unload_survival`
(the engine's own client path) on a scenario whose upload latency is the cell's latency, with
nothing else that the lab does not have: no retry store, no random request failures, a desktop
browser. The model knows neither connection state nor preflights, nor a tab that closes, so
cells that differ only in those get the same prediction. A gap of 0 ms is replayed as 1 ms
(the engine needs the event strictly before the unload).
"""

from __future__ import annotations

from collections.abc import Iterable

from simulator.config.loading import load_scenario
from simulator.experiments.unload_survival import unload_survival

SCENARIO = "baseline"
"""The preset whose client settings the replay starts from."""
SHORTEST_GAP_SECONDS = 0.001
"""A gap of 0 is replayed as this (the engine needs the event strictly before the unload)."""


def model_shares(
    cells: Iterable[tuple[str, int, int]], *, pages: int = 400, seed: int = 1
) -> dict[tuple[str, int, int], float]:
    """The model's delivered share for each (transport, gap ms, latency ms).

    Parameters
    ----------
    cells : iterable of (str, int, int)
        Transport, gap and one-way latency (milliseconds).
    pages : int
        Synthetic pages per cell.
    seed : int
        Root seed; the same seed gives the same shares.

    Returns
    -------
    dict
        The share of events delivered, by (transport, gap ms, latency ms).
    """
    wanted: dict[int, set[tuple[str, int]]] = {}
    for transport, gap, latency in cells:
        wanted.setdefault(int(latency), set()).add((transport, int(gap)))
    shares = {}
    for latency, pairs in sorted(wanted.items()):
        scenario = load_scenario(
            SCENARIO,
            [
                "client.retry.store=none",
                "client.failure_probability=0",
                f'client.upload_latency_seconds={{kind="constant", value={latency / 1000}}}',
            ],
        )
        gaps = sorted({gap for _, gap in pairs})
        times = [max(gap / 1000, SHORTEST_GAP_SECONDS) for gap in gaps]
        transports = sorted({transport for transport, _ in pairs})
        data = unload_survival(
            scenario,
            times,
            transports=transports,
            devices=["desktop"],
            pages=pages,
            next_page=False,
            seed=seed,
        )
        by_time = dict(zip(times, gaps, strict=True))
        for row in data["rows"]:
            shares[(row["transport"], by_time[row["t"]], latency)] = float(row["share"])
    return shares
