"""Hand-made compare and recommend records, for the plot tests."""

from __future__ import annotations

EVENTS = ("page_viewed", "order_completed")


def comparison() -> dict:
    """A hand-made ``compare --json`` record: known differences for two plans and a KPI."""
    events = []
    for i, event in enumerate(EVENTS):
        for j, plan in enumerate(("client", "server")):
            diff = -0.04 * (i + 1) + 0.03 * j
            ci = [diff - 0.01, diff + 0.02]
            events.append({"event": event, "plan": plan, "loss_diff": diff,
                           "loss_diff_ci": ci, "p_value": 0.01})  # fmt: skip
    kpis = [{"name": "conversion_rate", "plan": "client", "relative_bias_diff": 0.05,
             "relative_bias_diff_ci": [0.01, 0.09]}]  # fmt: skip
    return {
        "comparison": {
            "events": events,
            "kpis": kpis,
            "scenario_a": {"name": "baseline"},
            "scenario_b": {"name": "first_party_proxy"},
        }
    }


def recommendation() -> dict:
    """A hand-made ``recommend --json`` record: two events, their paths, one choice each.

    Only ``page_viewed`` needs context; the fields are those ``recommend`` writes.
    """

    def path(loss, coverage):
        return {"loss": loss, "loss_ci": [loss / 2, loss * 1.5], "budget_loss": loss,
                "budget_loss_ci": [loss / 2, loss * 1.5], "context_coverage": coverage,
                "context_coverage_ci": [coverage - 0.01, coverage]}  # fmt: skip

    return {
        "loss_budget": 0.05,
        "scenario": {"name": "baseline"},
        "mode": {"respect_choice": False},
        "events": [
            {"event": "page_viewed", "recommendation": "client", "needs_context": ["utm"],
             "paths": {"client": path(0.04, 0.96), "server": path(0.0, 0.0)}},
            {"event": "order_completed", "recommendation": "server", "needs_context": [],
             "paths": {"client": path(0.08, 0.92), "server": path(0.0, 0.0)}},
        ],
    }  # fmt: skip
