"""What a KPI is: a ratio of two quantities of a scenario, and the defaults when none is declared.

A KPI is a ratio of two quantities, each one of:

- an event name: how many of those events;
- ``value:<event>``: the sum of that event's values (revenue);
- ``sessions``: visits, counted by the scenario's ``session_start`` events; a scenario without
  one falls back to its ``page_view`` events, and the KPI says so;
- ``visitors``: visitors, counted by the scenario's ``first_visit`` events (one on the first
  page of each visitor's first visit); without one, visitors are measured like ``sessions``
  (and the KPI says so).

Scenarios declare KPIs in a ``kpis`` list; when it is empty the defaults are derived from the
events: conversion rate (last funnel step / sessions), average order value, revenue per visitor
(per session when the scenario has no ``first_visit`` event) and cart-to-order rate, each where
the events exist (:func:`simulator.stats.kpis.default_kpis`); :mod:`simulator.stats.kpis`
measures them on a run.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo

from simulator.config.frozen import Frozen
from simulator.config.limits import Name
from simulator.config.wording import problem

SPECIAL = ("sessions", "visitors")


class KPI(Frozen):
    """A ratio a business watches, e.g. conversion rate = orders / sessions.

    Attributes
    ----------
    name : str
        Identifier used in reports.
    numerator, denominator : str
        An event name, ``value:<event>``, ``sessions`` or ``visitors``.
    description : str
        Shown in reports.
    """

    name: Name
    numerator: str = Field(min_length=1)
    denominator: str = Field(min_length=1)
    description: str = ""


def _check_kpis(kpis: list[KPI], info: ValidationInfo) -> list[KPI]:
    """Every quantity must name an event of the scenario (or a special quantity)."""
    events = info.data.get("events")
    if events is None:  # the events failed validation and are reported there
        return kpis
    names = [e.name for e in events]
    seen = set()
    for i, kpi in enumerate(kpis):
        if kpi.name in seen:
            raise problem("name_unique", at=(i, "name"), name=kpi.name)
        seen.add(kpi.name)
        for side in ("numerator", "denominator"):
            q = getattr(kpi, side)
            event = q[len("value:") :] if q.startswith("value:") else q
            if q not in SPECIAL and event not in names:
                raise problem("quantity", at=(i, side), events=names, quantity=q)
    return kpis


KPIList = Annotated[list[KPI], AfterValidator(_check_kpis)]
"""The ``Scenario.kpis`` field type: KPIs checked against the scenario's events."""
