"""The estimate's loss in the form of a run's result rows, so both plot and tabulate alike.

A run's record lists, per plan and event type, the true and received counts and the share
lost (:func:`simulator.stats.summary.summarise`); :func:`simulator.outputs.frames.to_frame`,
``trackloss export`` and the loss plot read those rows. The estimate gives the same rows for
its client path, under the plan name :data:`PLAN`: ``truth`` is the estimated true count (the
sum of the strata's Chapman estimates) and the loss has one cause, :data:`CAUSE`, since a log
cannot tell why an event was lost. Its KPIs use the run's KPI row form likewise
(:mod:`~simulator.experiments.estimate.kpi_estimates`).
"""

from __future__ import annotations

import math
from typing import Any

PLAN = "estimate"
"""Plan name of the estimate's rows."""
CAUSE = "estimated"
"""The one loss cause of the estimate's rows (the log does not say why events were lost)."""


def record_number(x: float) -> float | None:
    """A figure as the record holds it: a float, or ``None`` where it is not finite.

    JSON has no NaN or infinity; a figure the data cannot give (a rate over nothing, an
    unbounded end) is ``null`` in the record and a dash in the report.

    Parameters
    ----------
    x : float
        The figure (a Python or numpy number).

    Returns
    -------
    float or None
    """
    x = float(x)
    return x if math.isfinite(x) else None


def loss_results(
    rows: list[dict[str, Any]],
    events: list[dict[str, Any]],
    composition: list[dict[str, Any]] | None = None,
) -> list[dict]:
    """One run-style result row per event type: the client path's estimated loss.

    Parameters
    ----------
    rows : list of dict
        The estimate's rows per stratum (``event``, ``n11``, ``n10``, ``n01``, ``chapman``).
    events : list of dict
        The estimate's rows per event type (``event``, ``client_loss``, ``client_loss_ci``).
    composition : list of dict, optional
        The corrected composition's rows (``composition.rows`` of the record).

    Returns
    -------
    list of dict
        ``plan``, ``event``, ``path`` (``"client"``), ``truth`` (estimated), ``received`` and
        ``delivered`` (client events), ``duplicates``, ``bots`` and ``pending`` (0: a log of
        received copies does not tell them apart), ``loss`` with ``loss_ci``, ``causes`` and
        ``net_error`` (received / truth - 1), and ``bias`` as a run gives it: per column and
        category the corrected share as ``truth``, the client's as ``received``, and ``diff``
        (client minus corrected) with ``diff_ci``.
    """
    out = []
    for e in events:
        # Strata the server never saw are left out of the loss, and so of its counts.
        seen = [r for r in rows if r["event"] == e["event"] and r["n11"] + r["n01"] > 0]
        truth = sum(r["chapman"] for r in seen if r["chapman"] is not None)
        received = sum(r["n11"] + r["n10"] for r in seen)
        loss = e["client_loss"]
        out.append(
            {
                "plan": PLAN,
                "event": e["event"],
                "path": "client",
                "truth": truth if seen else None,
                "received": received,
                "delivered": received,
                "duplicates": 0,
                "bots": 0,
                "pending": 0,
                "loss": loss,
                "loss_ci": e["client_loss_ci"],
                "causes": {CAUSE: loss} if loss is not None else {},
                "net_error": received / truth - 1.0 if seen and truth > 0 else None,
                "bias": _bias([c for c in composition or [] if c["event"] == e["event"]]),
            }
        )
    return out


def _bias(rows: list[dict[str, Any]]) -> dict[str, dict]:
    """An event type's composition rows as a run's ``bias``: client against corrected shares."""
    out: dict[str, dict] = {}
    for r in rows:
        shift, ci = r["shift"], r["shift_ci"] or [None, None]
        shares = out.setdefault(r["dimension"], {"tvd": None, "p_value": None, "shares": {}})
        shares["shares"][str(r["category"])] = {
            "truth": r["corrected"],
            "received": r["client"],
            "diff": -shift if shift is not None else None,
            "diff_ci": [-ci[1], -ci[0]] if None not in ci else None,
        }
    return out


__all__ = ["CAUSE", "PLAN", "loss_results", "record_number"]
