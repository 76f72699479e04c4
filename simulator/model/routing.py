"""Routing: which plans carry each event type on which path.

A plan maps every event type to a path (``client``, ``server``, ``hybrid`` or ``dual``). The
engine needs the transpose on its per-event path: for one event type, the plans per path, and
which of them respect a visitor's choice to block analytics (they send nothing for a visitor
who opted out). Computed once per replication.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config.scenario import Scenario


@dataclass(frozen=True)
class EventRouting:
    """Which plans carry one event type on which path.

    Plans that respect the visitor's choice (``respect_blocker_choice``) send nothing for a
    visitor who opted out; the ``open_*`` fields list the plans that still send in that case.
    """

    shared_client: bool  # some plan that does not respect choice sends it on the client path
    own_client: tuple[int, ...]  # respecting plans that send it on the client path
    dual: tuple[int, ...]
    open_dual: tuple[int, ...]
    server: tuple[tuple[int, bool], ...]  # (plan, forwards browser context)
    open_server: tuple[tuple[int, bool], ...]
    respecting: tuple[int, ...]
    anonymous: frozenset[int]  # respecting plans that keep an anonymous count

    @property
    def browser(self) -> bool:
        """Whether some plan sends it from the browser for a visitor who did not opt out."""
        return self.shared_client or bool(self.own_client) or bool(self.dual)

    @property
    def browser_opted_out(self) -> bool:
        """Whether some plan sends it from the browser for a visitor who opted out."""
        return self.shared_client or bool(self.open_dual)


def routing(scenario: Scenario) -> list[EventRouting]:
    """Per event type, the plans using each path."""
    plans = scenario.plans
    respecting = tuple(p for p, pl in enumerate(plans) if pl.respect_blocker_choice)
    anonymous = frozenset(p for p in respecting if plans[p].opted_out_count == "anonymous_count")
    out = []
    for e in scenario.events:
        paths = [plan.path_of(e) for plan in plans]
        # Plans with their own client settings settle their browser copies on their own.
        client = [p for p, path in enumerate(paths) if path == "client" and plans[p].client is None]
        dual = tuple(p for p, path in enumerate(paths) if path == "dual")
        server = tuple(
            (p, path == "hybrid") for p, path in enumerate(paths) if path in ("server", "hybrid")
        )
        out.append(
            EventRouting(
                shared_client=any(p not in respecting for p in client),
                own_client=tuple(p for p in client if p in respecting),
                dual=dual,
                open_dual=tuple(p for p in dual if p not in respecting),
                server=server,
                open_server=tuple(x for x in server if x[0] not in respecting),
                respecting=respecting,
                anonymous=anonymous,
            )
        )
    return out


def shared_client_routes(scenario: Scenario) -> np.ndarray:
    """Boolean (plans, events): the plan takes the shared client-path outcome for the event."""
    return np.array(
        [
            [
                p.path_of(e) == "client" and not p.respect_blocker_choice and p.client is None
                for e in scenario.events
            ]
            for p in scenario.plans
        ],
        dtype=bool,
    ).reshape(len(scenario.plans), len(scenario.events))
