"""Batching libraries' settings and synthetic visits, shared by the settlers' tests.

Six libraries (:data:`CONFIGS`) that between them use every transport, page-hide transport and
retry store; batches of 3 and a 1.5 s timer; failures frequent (10 %). Visits have
:data:`PAGES` pages with a handful of events each (:func:`visits`).
"""

from __future__ import annotations

import numpy as np

from support.page_reference import EVENTS, synthetic_visits

PAGES = 3
HANDLER_P = 0.7
SMALL = [{**e, "bytes": 800} for e in EVENTS]

CONFIGS = {
    "fetch_local_storage": {
        "transport": "fetch",
        "retry": {"store": "local_storage", "max_attempts": 2, "max_items": 4,
                  "backoff_initial_seconds": 0.2},
    },
    "xhr_beacon_unload_on_add": {
        "transport": "xhr", "unload_transport": "beacon",
        "retry": {"store": "local_storage", "persist": "on_add", "max_attempts": 4,
                  "backoff_initial_seconds": 0.1},
    },
    "keepalive_quota": {
        "transport": "fetch_keepalive",
        "retry": {"store": "local_storage", "max_attempts": 3, "backoff_initial_seconds": 0.2},
    },
    "beacon_xhr_unload": {"transport": "beacon", "unload_transport": "xhr",
                          "retry": {"store": "local_storage"}},
    "keepalive_memory": {
        "transport": "fetch_keepalive", "unload_transport": "beacon",
        "retry": {"store": "memory", "max_attempts": 5, "backoff_initial_seconds": 0.3},
    },
    "xhr_none": {"transport": "xhr", "retry": {"store": "none"}},
}  # fmt: skip
HEAVY = ("keepalive_quota", "keepalive_memory")
"""Configurations with the 30 and 36 kB events, so that the quota binds."""


def visits(rng: np.random.Generator, n: int):
    """Synthetic visits of PAGES pages with a handful of events per page."""
    return synthetic_visits(rng, n, PAGES, _a_handful)


def _a_handful(rng: np.random.Generator, dwell: float) -> list[tuple[float, int]]:
    """Poisson(2.5) events of any type at uniform times in the page."""
    return [(rng.random() * dwell, int(rng.integers(0, 3))) for _ in range(rng.poisson(2.5))]


def client_config(name: str) -> dict:
    """The client settings of the library ``name`` of :data:`CONFIGS`."""
    return {
        "batch_size": 3,
        "flush_interval_seconds": 1.5,
        "failure_probability": 0.1,
        "keepalive_quota_bytes": 65536,
        "script_load_seconds": {"kind": "lognormal", "median": 0.6, "sigma": 0.8},
        "upload_latency_seconds": {"kind": "lognormal", "median": 0.4, "sigma": 0.8},
        "handler_fires": {"desktop": HANDLER_P, "mobile": HANDLER_P, "tablet": HANDLER_P},
        **CONFIGS[name],
    }
