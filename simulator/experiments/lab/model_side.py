"""What the simulator's browser model says for the lab's cells.

Each lab cell is replayed by :func:`~simulator.experiments.unload_survival.unload_survival`
(the engine's own client path, with its connection and teardown rule) on a scenario that has
what the lab has and nothing more:

* the cell's one-way latency, constant, for the request and for its answer;
* one handshake round trip (the lab has no TLS), and a JSON body when the cell needs a
  preflight;
* a cold or warm connection as the cell's, on a visit's first page;
* after a navigation, the page's teardown delay drawn from a log-normal through the cell's own
  measured median and 90th percentile (so the replay has the teardown the browser had, load
  and all); after a tab close, the scenario's close delay (the lab's page-hide handler runs
  then, but the requests not yet written are cancelled at the close itself, §2e);
* the tag loads just before the send (the lab's page sends its one event as soon as it loads,
  so a cold request opens its own connection); no retry store, no random failures, a desktop
  browser, a handler that always runs.

A gap of 0 ms is replayed as 1 ms (the engine needs the event strictly before the page's end).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from simulator.config.loading import load_scenario
from simulator.experiments.unload_survival import unload_survival

SCENARIO = "baseline"
"""The preset whose client settings the replay starts from."""
SHORTEST_GAP_SECONDS = 0.001
"""A gap of 0 is replayed as this (the engine needs the event strictly before the unload)."""
DWELL_SECONDS = 5.0
"""How long each replayed page lasts (the tag loads ``gap`` before its end)."""
Z90 = 1.2815515655446004
"""The standard normal's 90th percentile: a log-normal's p90 is its median times exp(Z90 sigma)."""
FLAT_SIGMA = 0.05
"""Spread used when a cell's 90th percentile is not above its median."""

CELL_FIELDS = ("transport", "gap_ms", "latency_ms", "connection", "preflight", "page_end")
"""The fields that name a cell in :func:`model_shares`'s keys."""


def cell_key(row: dict) -> tuple:
    """The key of a lab row in :func:`model_shares`'s result."""
    return tuple(row[f] for f in CELL_FIELDS)


def teardown_lognormal(p50_ms: float, p90_ms: float) -> str:
    """A log-normal teardown delay (seconds) through a median and a 90th percentile, as TOML.

    Examples
    --------
    >>> teardown_lognormal(50.0, 100.0)
    '{kind="lognormal", median=0.05, sigma=0.5409}'
    """
    sigma = math.log(p90_ms / p50_ms) / Z90 if p90_ms > p50_ms else FLAT_SIGMA
    return f'{{kind="lognormal", median={p50_ms / 1000:.6g}, sigma={sigma:.4g}}}'


def setup_ms(row: dict) -> float:
    """Milliseconds from the send until the cell's request can be written, by the model's rule.

    A cold connection takes one round trip (2 L, no TLS in the lab), a preflight one more.

    Examples
    --------
    >>> setup_ms({"latency_ms": 50, "connection": "cold", "preflight": "on"})
    200.0
    """
    trips = (row["connection"] == "cold") + (row["preflight"] == "on")
    return 2.0 * float(row["latency_ms"]) * trips


def on_the_boundary(row: dict) -> bool:
    """Whether the cell's outcome turns on how long the page takes to be torn down.

    Those are the ``xhr`` and ``fetch`` cells whose gap is within the cell's 90th percentile of
    teardown time of the connection's setup: there the delivered share depends on the teardown
    delay, which a loaded machine stretches and the model takes from the cell itself. Away from
    it the rule alone decides: a request written before the page's end always arrives (on a
    warm connection without a preflight, every one), and one whose setup outlasts nearly every
    teardown never does.
    """
    if row["transport"] not in ("xhr", "fetch") or row.get("teardown_p90_ms") in (None, ""):
        return False
    setup, spread = setup_ms(row), float(row["teardown_p90_ms"])
    return setup > 0 and setup - spread <= float(row["gap_ms"]) <= setup + spread


def model_shares(rows: Iterable[dict], *, pages: int = 400, seed: int = 1) -> dict[tuple, float]:
    """The model's delivered share for each lab cell.

    Parameters
    ----------
    rows : iterable of dict
        Lab result rows (see :mod:`simulator.experiments.lab.results`): each needs the
        fields of :data:`CELL_FIELDS`, and ``teardown_p50_ms`` and ``teardown_p90_ms`` unless
        no teardown was measured (then the scenario's delays are used).
    pages : int
        Synthetic pages per cell.
    seed : int
        Root seed; the same seed gives the same shares.

    Returns
    -------
    dict
        The share of events delivered, by :func:`cell_key`.
    """
    shares = {}
    for row in rows:
        gap = max(float(row["gap_ms"]) / 1000, SHORTEST_GAP_SECONDS)
        latency = float(row["latency_ms"]) / 1000
        content = "application/json" if row["preflight"] == "on" else "text/plain"
        overrides = [
            "client.retry.store=none",
            "client.failure_probability=0",
            f'client.script_load_seconds={{kind="constant", value={DWELL_SECONDS - gap}}}',
            f'client.upload_latency_seconds={{kind="constant", value={latency}}}',
            f'client.response_latency_seconds={{kind="constant", value={latency}}}',
            "client.connection.handshake_round_trips=1",
            f'client.connection.content_type="{content}"',
        ]
        if row["page_end"] == "navigate" and row.get("teardown_p50_ms") not in (None, ""):
            teardown = teardown_lognormal(
                float(row["teardown_p50_ms"]), float(row["teardown_p90_ms"])
            )
            overrides.append(f"client.connection.commit_delay_seconds={teardown}")
        scenario = load_scenario(SCENARIO, overrides)
        data = unload_survival(
            scenario,
            [gap],
            transports=[row["transport"]],
            devices=["desktop"],
            pages=pages,
            dwell=DWELL_SECONDS,
            next_page=False,
            connection=row["connection"],
            page_end=row["page_end"],
            seed=seed,
        )
        shares[cell_key(row)] = float(data["rows"][0]["share"])
    return shares


__all__ = [
    "CELL_FIELDS",
    "cell_key",
    "model_shares",
    "on_the_boundary",
    "setup_ms",
    "teardown_lognormal",
]
