"""Result records for plot tests: a real small run, and issue 3's bias and KPI keys by hand.

The hand-built keys follow issue 3's contract exactly (``bias`` per row, top-level ``kpis``), with
known numbers, so that a test can check the values drawn equal the values in the record.
"""

from __future__ import annotations

import copy
import functools

from simulator.stats.summary import summarise
from support.factories import scenario, segment
from support.running import run

DIMENSIONS = {
    "device": ["desktop", "mobile", "tablet"],
    "channel": ["direct", "organic_search", "google_cpc", "newsletter"],
}


def small_scenario():
    """Two plans (client, server), a blocker in the desktop segment, a little unload loss."""
    return scenario(
        users=300,
        population={
            "segments": [
                segment("desk", "desktop", "chrome", {"none": 0.7, "extension_privacy": 0.3}),
                segment("mob", "mobile", "safari"),
            ]
        },
        client={"transport": "fetch"},
        simulation={"horizon_hours": 6, "drain_hours": 6, "replications": 2, "seed": 3},
        plans=[
            {"name": "client", "default_path": "client"},
            {"name": "server", "default_path": "server"},
        ],
    )


@functools.cache
def _small_record() -> dict:
    return summarise(run(small_scenario()))


def small_record() -> dict:
    """A fresh copy of the record of a real two-replication run of :func:`small_scenario`."""
    return copy.deepcopy(_small_record())


def shares_for(k: int, categories: list[str], shift: float) -> dict:
    """Issue 3's ``shares`` with known numbers: truth uniform, received tilted by ``shift``."""
    n = len(categories)
    out = {}
    for i, c in enumerate(categories):
        truth = 1.0 / n
        diff = shift * (i - (n - 1) / 2) / n * (k + 1)
        out[c] = {
            "truth": truth,
            "received": truth + diff,
            "diff": diff,
            "diff_ci": [diff - 0.01, diff + 0.01],
        }
    return out


def with_bias(record: dict) -> dict:
    """Add issue 3's ``bias`` to every row with true events, ``attribution`` to orders, and
    a top-level ``kpis``, all with known numbers."""
    record = copy.deepcopy(record)
    plans = list(dict.fromkeys(r["plan"] for r in record["results"]))
    for row in record["results"]:
        if not row["truth"]:
            row["bias"] = {}
            continue
        k = plans.index(row["plan"])
        row["bias"] = {}
        for d, (dim, cats) in enumerate(DIMENSIONS.items()):
            shares = shares_for(k, cats, 0.04 * (d + 1))
            tvd = sum(abs(s["diff"]) for s in shares.values()) / 2
            row["bias"][dim] = {
                "tvd": tvd,
                "tvd_ci": [max(tvd - 0.005, 0.0), tvd + 0.005],
                "p_value": 0.5 / (k + 1) / (d + 1),
                "shares": shares,
            }
        if row["event"] == "order_completed":
            channels = shares_for(k, DIMENSIONS["channel"], 0.02)
            row["attribution"] = {
                "channels": channels,
                "unattributed": 0.3 * k,
                "unattributed_ci": [0.3 * k - 0.05 * k, 0.3 * k + 0.05 * k],
            }
    record["kpis"] = [
        {
            "plan": plan,
            "name": name,
            "truth": truth,
            "observed": truth * (1 + bias),
            "relative_bias": bias,
            "relative_bias_ci": [bias - 0.02, bias + 0.02],
        }
        for k, plan in enumerate(plans)
        for name, truth, bias in (
            ("conversion_rate", 0.025, 0.05 * (k + 1)),
            ("average_order_value", 62.0, -0.03 * (k + 1)),
            ("cart_to_order_rate", 0.4, 0.01 * (k - 1)),
        )
    ]
    return record
