"""Plans with their own client settings, settled apart from the shared client path.

A plan may state its own destination, URLs, transport and batching (``plans[].client``). Its
browser copies of the same true events are then settled by a settler of its own, on streams of
its own (so the other plans' draws do not move), with the blocking its URLs get from the same
visitors' lists, and counted for that plan only. Comparisons between such plans are paired: the
visitors, their pages and their blockers' lists are the same.
"""

from __future__ import annotations

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.client.choice import settler_kind
from simulator.model.client.settler import Settler
from simulator.model.filter_engine import BlockingTable, blocking_table
from simulator.model.outages import Outages
from simulator.model.streams import Streams


class ClientVariant:
    """One plan with its own client settings.

    Attributes
    ----------
    plan : int
        The plan's index.
    client : Settler
        Settles its browser copies.
    blocking : BlockingTable
        What its requests' URLs and types are blocked by, per list combination.
    store : object or None
        Its copies waiting in visitors' retry stores (the engine's ``Stored``).
    events : numpy.ndarray
        bool per event type: the plan sends it from the browser.
    """

    def __init__(
        self, scenario: Scenario, plan: int, client: Settler, blocking: BlockingTable
    ) -> None:
        self.plan = plan
        self.client = client
        self.blocking = blocking
        self.store = None
        self.events = np.array(
            [scenario.plans[plan].path_of(e) == "client" for e in scenario.events], dtype=bool
        )


def client_variants(
    scenario: Scenario,
    outages: Outages,
    streams: Streams,
    blockers: tuple[str, ...],
    paged: bool = False,
) -> list[ClientVariant]:
    """The plans of ``scenario`` with their own client settings, ready to settle copies.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    outages : Outages
        Collector outages (shared with every path).
    streams : Streams
        The replication's streams; each variant gets :meth:`Streams.variant` of them.
    blockers : tuple of str
        Blocker kinds in the tally layout's order.
    paged : bool
        Settle page by page even where arrays would do (the reference, for tests).

    Returns
    -------
    list of ClientVariant
    """
    out: list[ClientVariant] = []
    for p, plan in enumerate(scenario.plans):
        if plan.client is None:
            continue
        own = scenario.model_copy(update={"client": scenario.client_of(plan)})
        client = settler_kind(own, paged)(own, outages, streams.variant(len(out) + 1))
        out.append(ClientVariant(scenario, p, client, blocking_table(own.client, blockers)))
    return out


__all__ = ["ClientVariant", "client_variants"]
