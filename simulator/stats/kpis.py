"""Business KPIs computed from what analytics receives, against the truth.

A KPI is a ratio of two quantities, each one of:

- an event name: how many of those events (truth: how many happened; observed: how many the
  collector kept under the plan, duplicates and bots included);
- ``value:<event>``: the sum of that event's values (revenue);
- ``sessions``: visits, counted by the scenario's ``session_start`` events; a scenario without
  one falls back to its ``page_view`` events, and the KPI says so;
- ``visitors``: visitors, counted by the scenario's ``first_visit`` events (one on the first
  page of each visitor's first visit); without one, visitors are measured like ``sessions``
  (and the KPI says so).

Each quantity is measured on the path its events take under the plan, so a plan that tracks
sessions in the browser and orders on the server divides a complete numerator by a shrunken
denominator: its conversion rate is inflated (the classic mixed-plan trap).

What a KPI is, and the defaults used when a scenario declares none, are in
:mod:`simulator.config.kpi_spec`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator.config.kpi_spec import KPI, SPECIAL
from simulator.model.tally import M
from simulator.stats.intervals import Replicates, replicates, spread

if TYPE_CHECKING:
    from simulator.config.scenario import EventType, Scenario

METHOD = "relative bias of the observed KPI against the true one; "


@dataclass(frozen=True)
class Quantity:
    """What one side of a KPI measures: counts or value of some event types."""

    events: tuple[int, ...]
    value: bool
    note: str = ""


def quantity(scenario: Scenario, text: str) -> Quantity:
    """Resolve one side of a KPI to event indices.

    Parameters
    ----------
    scenario : Scenario
        The scenario whose events are referred to.
    text : str
        An event name, ``value:<event>``, ``sessions`` or ``visitors``.

    Returns
    -------
    Quantity
        The events summed, whether values (not counts) are summed, and a note when a proxy was
        used.
    """
    names = [e.name for e in scenario.events]
    if text.startswith("value:"):
        return Quantity((names.index(text[len("value:") :]),), True)
    if text == "visitors" and (firsts := _of_kind(scenario.events, "first_visit")):
        return Quantity(tuple(firsts), False)
    if text in SPECIAL:
        starts = _of_kind(scenario.events, "session_start")
        note = "" if text == "sessions" else "visitors counted as sessions (no first_visit event)"
        if not starts:
            starts = _of_kind(scenario.events, "page_view")
            note = f"{text} approximated by page views (no session_start event in the scenario)"
        return Quantity(tuple(starts), False, note)
    return Quantity((names.index(text),), False)


def _of_kind(events: list[EventType], kind: str) -> list[int]:
    return [i for i, e in enumerate(events) if e.kind == kind]


def default_kpis(scenario: Scenario) -> list[KPI]:
    """KPIs used when a scenario declares none, derived from its events.

    Conversion rate (last funnel step per session), average order value and revenue per session
    (the first event carrying a value), and cart-to-order rate (last funnel step over the
    funnel step whose name mentions a cart); each only where its events exist.
    """
    out = []
    funnel = scenario.funnel_events
    valued = [e for e in scenario.events if e.has_value]
    visits = any(e.kind in ("session_start", "page_view") for e in scenario.events)
    if funnel and visits:
        out.append(KPI(name="conversion_rate", numerator=funnel[-1].name, denominator="sessions",
                       description="conversions per session"))  # fmt: skip
    if valued:
        v = valued[-1] if funnel and funnel[-1].has_value else valued[0]
        out.append(KPI(name="average_order_value", numerator=f"value:{v.name}",
                       denominator=v.name, description="mean value per conversion"))  # fmt: skip
        if any(e.kind == "first_visit" for e in scenario.events):
            out.append(KPI(name="revenue_per_visitor", numerator=f"value:{v.name}",
                           denominator="visitors", description="value per visitor"))  # fmt: skip
        elif visits:
            out.append(KPI(name="revenue_per_session", numerator=f"value:{v.name}",
                           denominator="sessions", description="value per session"))  # fmt: skip
    carts = [e for e in funnel[:-1] if re.search("cart", e.name, re.IGNORECASE)]
    if carts:
        out.append(KPI(name="cart_to_order_rate", numerator=funnel[-1].name,
                       denominator=carts[0].name,
                       description="conversions per add-to-cart"))  # fmt: skip
    return out


def scenario_kpis(scenario: Scenario) -> list[KPI]:
    """The scenario's declared KPIs, or the defaults when it declares none."""
    declared = getattr(scenario, "kpis", None)
    return list(declared) if declared else default_kpis(scenario)


def _sides(counts: np.ndarray, q: Quantity) -> tuple[np.ndarray, np.ndarray]:
    """Truth and observed amounts of a quantity; ``counts`` is ``(..., events, measures)``."""
    c = counts[..., list(q.events), :].sum(axis=-2)
    if q.value:
        return c[..., M["value_truth"]], c[..., M["value_delivered"]] + c[
            ..., M["value_duplicates"]
        ]
    rec = c[..., M["delivered"]] + c[..., M["duplicates"]] + c[..., M["bots"]]
    return c[..., M["truth"]], rec


@dataclass(frozen=True)
class KPISeries:
    """One KPI under one plan, per replication.

    Attributes
    ----------
    plan : int
        Plan index.
    kpi : KPI
        The KPI.
    note : str
        Proxies used (empty when none).
    events : tuple of int
        Event types involved.
    truth, observed, relative_bias : numpy.ndarray
        Per replication (NaN where undefined).
    amounts : numpy.ndarray
        Mean truth and observed amounts: numerator truth, numerator observed, denominator
        truth, denominator observed.
    """

    plan: int
    kpi: KPI
    note: str
    events: tuple[int, ...]
    truth: np.ndarray
    observed: np.ndarray
    relative_bias: np.ndarray
    amounts: np.ndarray


def kpi_series(scenario: Scenario, per_rep: np.ndarray) -> list[KPISeries]:
    """Every KPI under every plan, per replication.

    Parameters
    ----------
    scenario : Scenario
        The scenario (plans, events, KPIs).
    per_rep : numpy.ndarray
        Totals per replication: shape ``(replications, plans, events, measures)``.

    Returns
    -------
    list of KPISeries
        KPI-major, then plan order.
    """
    out = []
    for kpi in scenario_kpis(scenario):
        num, den = quantity(scenario, kpi.numerator), quantity(scenario, kpi.denominator)
        note = "; ".join(n for n in dict.fromkeys((num.note, den.note)) if n)
        events = tuple(sorted(set(num.events) | set(den.events)))
        for p in range(len(scenario.plans)):
            nt, no = _sides(per_rep[:, p], num)
            dt, do = _sides(per_rep[:, p], den)
            with np.errstate(invalid="ignore", divide="ignore"):
                truth, observed = nt / dt, no / do
                bias = observed / truth - 1
            amounts = np.array([nt.mean(), no.mean(), dt.mean(), do.mean()])
            out.append(KPISeries(p, kpi, note, events, truth, observed, bias, amounts))
    return out


def kpi_rows(scenario: Scenario, draws: Replicates | np.ndarray) -> list[dict]:
    """KPI records for every plan.

    Parameters
    ----------
    scenario : Scenario
        The scenario (plans, events, KPIs).
    draws : Replicates or numpy.ndarray
        Draws of the totals, ``(draws, plans, events, measures)``
        (:func:`simulator.stats.intervals.replicates`; a plain array is taken as replications).

    Returns
    -------
    list of dict
        One per KPI and plan: ``plan``, ``name``, ``description``, ``numerator``,
        ``denominator``, ``paths`` (paths the events take), ``truth`` and ``observed``
        (ratios of mean amounts), ``relative_bias`` (observed / truth - 1) with
        ``relative_bias_ci``, and ``note`` (proxies used, or ``None``).
    """
    draws = draws if isinstance(draws, Replicates) else replicates(draws, None)
    rows = []
    wholes = kpi_series(scenario, draws.whole[None])
    for s, w in zip(kpi_series(scenario, draws.samples), wholes, strict=True):
        kpi = s.kpi
        bias, lo, hi = (
            float(a) for a in spread(s.relative_bias, w.relative_bias[0], draws.by_groups)
        )
        plan = scenario.plans[s.plan]
        nt, no, dt, do = w.amounts
        with np.errstate(invalid="ignore", divide="ignore"):
            truth, observed = nt / dt, no / do
        rows.append(
            {
                "plan": plan.name,
                "name": kpi.name,
                "description": kpi.description,
                "numerator": kpi.numerator,
                "denominator": kpi.denominator,
                "paths": sorted({plan.path_of(scenario.events[e]) for e in s.events}),
                "truth": _num(truth),
                "observed": _num(observed),
                "relative_bias": _num(bias),
                "relative_bias_ci": [lo, hi] if math.isfinite(lo) and math.isfinite(hi) else None,
                "note": s.note or None,
            }
        )
    return rows


def _num(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


__all__ = [
    "default_kpis",
    "KPI",
    "METHOD",
    "KPISeries",
    "Quantity",
    "kpi_rows",
    "kpi_series",
    "quantity",
    "scenario_kpis",
]
