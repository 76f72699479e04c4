"""Routing as lookup tables: per (opted out, event type), which paths and plans carry a copy.

The engine looks up every event of a block at once, so the per-event-type
:class:`~simulator.model.routing.EventRouting` records are laid out as arrays indexed by
``opted_out * n_events + event``. A visitor who opted out is seen only by the plans that do not
respect that choice; the respecting ones count the event as ``withheld`` (and maybe as an
anonymous count).
"""

from __future__ import annotations

import numpy as np

from simulator.config.scenario import Scenario
from simulator.model.routing import routing


class RouteTables:
    """Lookup tables of a scenario's routing.

    Attributes
    ----------
    client : numpy.ndarray
        bool (2 * events,): the browser sends a copy.
    shared : numpy.ndarray
        bool: that copy's outcome counts for the plans sharing the client path.
    own, dual : numpy.ndarray
        int bit masks of plans: respecting plans counting the client copy on their own, and
        plans that also send a server copy with the same id.
    server, hybrid : numpy.ndarray
        bool (2 * events, plans): the plan sends it from the server (hybrid: with the browser
        context forwarded).
    withheld : numpy.ndarray
        bool: respecting plans withhold it.
    respecting, anonymous : tuple of int
        Plans that respect the choice, and those of them that keep an anonymous count.
    own_plans, dual_plans, hybrid_plans : tuple of int
        Plans with some route of each kind: counting client copies on their own, sending dual
        copies, forwarding the browser's context from the server.
    """

    def __init__(self, scenario: Scenario) -> None:
        routes = routing(scenario)
        n_events, n_plans = len(scenario.events), len(scenario.plans)
        size = 2 * n_events
        self.client = np.zeros(size, bool)
        self.shared = np.zeros(size, bool)
        self.own = np.zeros(size, np.int64)
        self.dual = np.zeros(size, np.int64)
        self.server = np.zeros((size, n_plans), bool)
        self.hybrid = np.zeros((size, n_plans), bool)
        self.withheld = np.zeros(size, bool)
        self.respecting = routes[0].respecting if routes else ()
        self.anonymous = tuple(sorted(routes[0].anonymous)) if routes else ()
        for e, r in enumerate(routes):
            for opted_out in (0, 1):
                i = opted_out * n_events + e
                if opted_out and r.respecting:
                    self.withheld[i] = True
                    self.client[i] = r.browser_opted_out
                    own, dual, server = (), r.open_dual, r.open_server
                else:
                    self.client[i] = r.browser
                    own, dual, server = r.own_client, r.dual, r.server
                self.shared[i] = r.shared_client
                self.own[i] = sum(1 << p for p in own)
                self.dual[i] = sum(1 << p for p in dual)
                for p, hybrid in server:
                    self.server[i, p] = True
                    self.hybrid[i, p] = hybrid
        self.n_plans = n_plans
        self.own_plans = tuple(p for p in range(n_plans) if (self.own >> p & 1).any())
        self.dual_plans = tuple(p for p in range(n_plans) if (self.dual >> p & 1).any())
        self.hybrid_plans = tuple(np.flatnonzero(self.hybrid.any(axis=0)).tolist())
