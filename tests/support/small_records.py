"""A small, hand-written result record with every part outputs read (for record checks)."""

from __future__ import annotations

ROW = {
    "plan": "client", "event": "page_viewed", "path": "client", "truth": 100.0,
    "received": 90.0, "loss": 0.1, "loss_ci": [0.05, 0.15], "causes": {"blocked": 0.1},
    "duplicates": 0.0, "bots": 0.0, "value": None, "attribution": None,
    "bias": {"device": {"tvd": 0.01, "tvd_ci": [0.0, 0.02], "p_value": 0.3,
                        "shares": {"desktop": {"truth": 0.5, "received": 0.49, "diff": -0.01,
                                               "diff_ci": [-0.02, 0.0]}}}},
}  # fmt: skip
RECORD = {
    "scenario": {"name": "tiny", "replications": 1, "seed": 1},
    "results": [ROW, {**ROW, "plan": "server", "path": "server", "loss": 0.0,
                      "loss_ci": [0.0, 0.0], "causes": {}}],
    "kpis": [{"plan": "client", "name": "rate", "truth": 0.1, "observed": 0.09,
              "relative_bias": -0.1, "relative_bias_ci": [-0.2, 0.0]}],
    "comparisons": [],
    "per_replication": [
        {"replication": 1, "plan": plan, "event": "page_viewed", "truth": 100.0,
         "delivered": 90.0 if plan == "client" else 100.0, "received": 90.0, "duplicates": 0.0,
         "bots": 0.0, "pending": 0.0, "loss": 0.1 if plan == "client" else 0.0,
         "value_loss": None}
        for plan in ("client", "server")
    ],
}  # fmt: skip
