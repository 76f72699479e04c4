"""Tidy pandas DataFrames of a run's results, for notebooks.

Each function takes the result record (the dict :func:`simulator.stats.summary.summarise` returns,
or the same JSON read back from disk) and returns one tidy table: one row per observation, one
column per variable, intervals split into ``_lo`` and ``_hi`` columns. :func:`to_frame` also accepts
a :class:`~simulator.model.engine.RunResult` and names the table wanted. The JSON record stays the
stable contract; these tables are a view of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd


def _split(ci: Any) -> tuple[float | None, float | None]:
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return ci[0], ci[1]
    return None, None


def loss_frame(record: Mapping[str, Any]) -> pd.DataFrame:
    """Loss per plan and event type.

    Columns: plan, event, path, truth, received, delivered, duplicates, bots, pending, loss,
    loss_lo, loss_hi, net_error (received / truth - 1).
    """
    rows = []
    for r in record.get("results", []):
        lo, hi = _split(r.get("loss_ci"))
        rows.append(
            {
                **{k: r.get(k) for k in ("plan", "event", "path", "truth", "received")},
                **{k: r.get(k) for k in ("delivered", "duplicates", "bots", "pending")},
                "loss": r.get("loss"),
                "loss_lo": lo,
                "loss_hi": hi,
                "net_error": r.get("net_error"),
            }
        )
    return _frame(
        rows,
        [
            "plan",
            "event",
            "path",
            "truth",
            "received",
            "delivered",
            "duplicates",
            "bots",
            "pending",
            "loss",
            "loss_lo",
            "loss_hi",
            "net_error",
        ],
    )


def cause_frame(record: Mapping[str, Any]) -> pd.DataFrame:
    """Loss by cause: columns plan, event, path, cause, share (of the true count)."""
    rows = [
        {"plan": r["plan"], "event": r["event"], "path": r.get("path"), "cause": c, "share": v}
        for r in record.get("results", [])
        for c, v in (r.get("causes") or {}).items()
    ]
    return _frame(rows, ["plan", "event", "path", "cause", "share"])


def composition_frame(record: Mapping[str, Any]) -> pd.DataFrame:
    """Composition bias: one row per plan, event type, dimension and category.

    Columns: plan, event, dimension, category, truth, received, diff, diff_lo, diff_hi, and the
    dimension's tvd, tvd_lo, tvd_hi and p_value (repeated on each of its categories).
    """
    rows = []
    for r in record.get("results", []):
        for dim, b in (r.get("bias") or {}).items():
            tlo, thi = _split(b.get("tvd_ci"))
            for cat, s in b.get("shares", {}).items():
                lo, hi = _split(s.get("diff_ci"))
                rows.append(
                    {
                        "plan": r["plan"],
                        "event": r["event"],
                        "dimension": dim,
                        "category": cat,
                        "truth": s.get("truth"),
                        "received": s.get("received"),
                        "diff": s.get("diff"),
                        "diff_lo": lo,
                        "diff_hi": hi,
                        "tvd": b.get("tvd"),
                        "tvd_lo": tlo,
                        "tvd_hi": thi,
                        "p_value": b.get("p_value"),
                    }
                )
    return _frame(
        rows,
        [
            "plan",
            "event",
            "dimension",
            "category",
            "truth",
            "received",
            "diff",
            "diff_lo",
            "diff_hi",
            "tvd",
            "tvd_lo",
            "tvd_hi",
            "p_value",
        ],
    )


def value_frame(record: Mapping[str, Any]) -> pd.DataFrame:
    """Value bias for events carrying a value: totals, means and relative biases."""
    rows = []
    for r in record.get("results", []):
        v = r.get("value")
        if not v:
            continue
        mlo, mhi = _split(v.get("mean_relative_bias_ci"))
        tlo, thi = _split(v.get("total_relative_bias_ci"))
        rows.append(
            {
                "plan": r["plan"],
                "event": r["event"],
                "total_truth": v.get("truth"),
                "total_received": v.get("received"),
                "total_relative_bias": v.get("total_relative_bias"),
                "total_relative_bias_lo": tlo,
                "total_relative_bias_hi": thi,
                "mean_truth": v.get("mean_truth"),
                "mean_received": v.get("mean_received"),
                "mean_relative_bias": v.get("mean_relative_bias"),
                "mean_relative_bias_lo": mlo,
                "mean_relative_bias_hi": mhi,
            }
        )
    return _frame(
        rows,
        [
            "plan",
            "event",
            "total_truth",
            "total_received",
            "total_relative_bias",
            "total_relative_bias_lo",
            "total_relative_bias_hi",
            "mean_truth",
            "mean_received",
            "mean_relative_bias",
            "mean_relative_bias_lo",
            "mean_relative_bias_hi",
        ],
    )


def attribution_frame(record: Mapping[str, Any]) -> pd.DataFrame:
    """Attribution of conversions: one row per plan, event and channel.

    The pseudo-channel ``(unattributed)`` carries the share credited to no channel (truth 0).
    """
    rows = []
    for r in record.get("results", []):
        a = r.get("attribution")
        if not a:
            continue
        for ch, s in a.get("channels", {}).items():
            lo, hi = _split(s.get("diff_ci"))
            rows.append(
                {
                    "plan": r["plan"],
                    "event": r["event"],
                    "channel": ch,
                    "truth": s.get("truth"),
                    "received": s.get("received"),
                    "diff": s.get("diff"),
                    "diff_lo": lo,
                    "diff_hi": hi,
                }
            )
        lo, hi = _split(a.get("unattributed_ci"))
        u = a.get("unattributed")
        rows.append(
            {
                "plan": r["plan"],
                "event": r["event"],
                "channel": "(unattributed)",
                "truth": 0.0,
                "received": u,
                "diff": u,
                "diff_lo": lo,
                "diff_hi": hi,
            }
        )
    return _frame(
        rows, ["plan", "event", "channel", "truth", "received", "diff", "diff_lo", "diff_hi"]
    )


def kpi_frame(record: Mapping[str, Any]) -> pd.DataFrame:
    """KPIs per plan: truth, observed, relative bias with its interval, definition and note."""
    rows = []
    for k in record.get("kpis", []):
        lo, hi = _split(k.get("relative_bias_ci"))
        rows.append(
            {
                "plan": k["plan"],
                "kpi": k["name"],
                "numerator": k.get("numerator"),
                "denominator": k.get("denominator"),
                "truth": k.get("truth"),
                "observed": k.get("observed"),
                "relative_bias": k.get("relative_bias"),
                "relative_bias_lo": lo,
                "relative_bias_hi": hi,
                "note": k.get("note"),
            }
        )
    return _frame(
        rows,
        [
            "plan",
            "kpi",
            "numerator",
            "denominator",
            "truth",
            "observed",
            "relative_bias",
            "relative_bias_lo",
            "relative_bias_hi",
            "note",
        ],
    )


def comparison_frame(record: Mapping[str, Any]) -> pd.DataFrame:
    """Paired loss differences between plans: one row per event type and pair of plans."""
    rows = []
    for c in record.get("comparisons", []):
        lo, hi = _split(c.get("loss_diff_ci"))
        rows.append(
            {
                **{k: v for k, v in c.items() if k != "loss_diff_ci"},
                "loss_diff_lo": lo,
                "loss_diff_hi": hi,
            }
        )
    return _frame(
        rows,
        [
            "event",
            "plan_a",
            "plan_b",
            "path_a",
            "path_b",
            "loss_a",
            "loss_b",
            "loss_diff",
            "loss_diff_lo",
            "loss_diff_hi",
            "p_value",
        ],
    )


def replication_frame(record: Mapping[str, Any]) -> pd.DataFrame:
    """Each replication alone: one row per replication, plan and event type.

    Columns: replication, plan, event, truth, delivered, received, duplicates, bots, pending,
    loss, value_loss. Empty for a record written before the record kept them.
    """
    columns = ["replication", "plan", "event", "truth", "delivered", "received",
               "duplicates", "bots", "pending", "loss", "value_loss"]  # fmt: skip
    rows = [{k: r.get(k) for k in columns} for r in record.get("per_replication") or []]
    frame = _frame(rows, columns)
    return frame.astype({"replication": "int64"}) if rows else frame


TABLES: dict[str, Callable[[Mapping[str, Any]], pd.DataFrame]] = {
    "loss": loss_frame,
    "causes": cause_frame,
    "composition": composition_frame,
    "value": value_frame,
    "attribution": attribution_frame,
    "kpis": kpi_frame,
    "comparisons": comparison_frame,
    "replications": replication_frame,
}


def to_frame(result: Any, table: str = "loss") -> pd.DataFrame:
    """One tidy table of a run.

    Parameters
    ----------
    result : dict or RunResult
        A result record, or a run (summarised first).
    table : str
        One of ``loss``, ``causes``, ``composition``, ``value``, ``attribution``, ``kpis``,
        ``comparisons``, ``replications``.

    Returns
    -------
    pandas.DataFrame
        The table.

    Raises
    ------
    ValueError
        For an unknown table name.
    """
    if table not in TABLES:
        raise ValueError(f"table must be one of {', '.join(TABLES)}, got {table!r}")
    if not isinstance(result, Mapping):
        from simulator.stats.summary import summarise

        result = summarise(result)
    return TABLES[table](result)


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """A DataFrame with these columns in this order (also when there are no rows)."""
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({c: "float64" for c in columns if c in _FLOATS and c in frame})


_FLOATS = {
    "truth",
    "received",
    "delivered",
    "duplicates",
    "bots",
    "pending",
    "loss",
    "loss_lo",
    "loss_hi",
    "net_error",
    "share",
    "diff",
    "diff_lo",
    "diff_hi",
    "tvd",
    "tvd_lo",
    "tvd_hi",
    "p_value",
    "value_loss",
    "observed",
    "relative_bias",
    "relative_bias_lo",
    "relative_bias_hi",
    "loss_a",
    "loss_b",
    "loss_diff",
    "loss_diff_lo",
    "loss_diff_hi",
}


__all__ = [
    "TABLES",
    "attribution_frame",
    "cause_frame",
    "comparison_frame",
    "composition_frame",
    "kpi_frame",
    "loss_frame",
    "replication_frame",
    "to_frame",
    "value_frame",
]
