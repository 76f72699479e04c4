"""The scenario: a frozen, validated description of a site, its visitors and its tracking plans.

A scenario is read from TOML (see :mod:`simulator.config.loading`) and validated here. Unknown keys
are errors, shares that must sum to 1 are checked, and a scenario that would simulate nothing is
rejected. Defaults come from ``docs/sources.md``; the comment beside each names its source
(section numbers refer to that file).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from simulator.config.audience import (
    DEFAULT_BEHAVIOUR,
    Behaviour,
    Bots,
    Channel,
    Population,
    Segment,
)
from simulator.config.frozen import Frozen
from simulator.config.kpi_spec import KPIList
from simulator.config.limits import (
    MAX_HOURS,
    MAX_RATE,
    MAX_SEED,
    Name,
)
from simulator.config.recommend_spec import RecommendConfig
from simulator.config.tracking import (
    ClientConfig,
    CollectorConfig,
    PlanClient,
    ServerConfig,
)
from simulator.config.wording import problem

DEVICES = ("desktop", "mobile", "tablet")
BROWSERS = ("chrome", "safari", "firefox", "edge", "samsung", "other")
BLOCKERS = ("none", "extension_default", "extension_privacy", "browser_builtin", "dns")
EVENT_KINDS = (
    "first_visit", "session_start", "page_view", "ui", "funnel", "signup", "offsite",
    "client_only",
)  # fmt: skip
PATHS = ("client", "server", "hybrid", "dual")
TIMINGS = ("load", "uniform", "before_unload")


class EventType(Frozen):
    """An event the site tracks, what it is, and how often it happens."""

    name: Name
    kind: Literal[
        "first_visit", "session_start", "page_view", "ui", "funnel", "signup", "offsite",
        "client_only",
    ]  # fmt: skip
    timing: Literal["load", "uniform", "before_unload"] | None = None
    per_page: float | None = Field(default=None, ge=0, le=MAX_RATE)
    bytes: int = Field(default=800, gt=0, le=1_000_000)
    request_class: Literal["analytics", "ads", "replay"] = "analytics"
    has_value: bool = False
    bots_trigger: bool | None = None
    per_active_user: float = Field(default=1.0, ge=0, le=MAX_RATE)
    job_hour: float = Field(default=2.0, ge=0, lt=24)
    # Assumption: a nightly job sends its events evenly over ten minutes.
    job_minutes: float = Field(default=10.0, gt=0, le=1440)
    sensitive: bool = False
    mission_critical: bool = False
    needs_context: list[Literal["utm", "user_agent", "referrer", "ip", "cookies"]] = []

    @property
    def resolved_timing(self) -> str:
        """When on the page the event happens (defaults by kind)."""
        if self.timing is not None:
            return self.timing
        return {"ui": "uniform", "signup": "before_unload"}.get(self.kind, "load")

    @property
    def bots(self) -> bool:
        """Whether bot visits make the server emit this event (page views by default)."""
        if self.bots_trigger is None:
            return self.kind in ("first_visit", "session_start", "page_view")
        return self.bots_trigger


DEFAULT_EVENTS = [
    EventType(name="session_started", kind="session_start"),
    EventType(name="page_viewed", kind="page_view"),
    EventType(name="link_clicked", kind="ui", timing="before_unload", per_page=0.5),
    EventType(name="product_viewed", kind="funnel"),
    EventType(name="added_to_cart", kind="funnel", timing="before_unload"),
    EventType(name="checkout_started", kind="funnel"),
    EventType(
        name="order_completed",
        kind="funnel",
        has_value=True,
        sensitive=True,
        mission_critical=True,
    ),
    EventType(name="signed_up", kind="signup", mission_critical=True),
    EventType(name="first_visit", kind="first_visit"),
]


class Plan(Frozen):
    """A tracking plan: which path carries each event type."""

    name: Name
    default_path: Literal["client", "server", "hybrid", "dual"] = "client"
    paths: dict[str, Literal["client", "server", "hybrid", "dual"]] = {}
    respect_blocker_choice: bool = False
    opted_out_count: Literal["drop", "anonymous_count"] = "drop"
    # The plan's own client settings (destination, URLs, transport, batching) over `client`.
    client: PlanClient | None = None

    def path_of(self, event: EventType) -> str:
        """Return the path this plan uses for ``event``.

        Client-only events always go through the browser and offsite events always through the
        server, whatever the default says; an explicit contrary mapping is rejected at validation.
        """
        if event.name in self.paths:
            return self.paths[event.name]
        if event.kind == "client_only":
            return "client"
        if event.kind == "offsite":
            return "server"
        return self.default_path


class Simulation(Frozen):
    """How long to simulate and how to seed it."""

    horizon_hours: float = Field(default=24.0, gt=0, le=MAX_HOURS)
    drain_hours: float = Field(default=24.0, ge=0, le=MAX_HOURS)
    replications: int = Field(default=1, ge=1, le=100_000)
    seed: int = Field(default=20261129, ge=0, le=MAX_SEED)


class Scenario(Frozen):
    """Everything one run needs: visitors, events, tracking plans and both paths' settings."""

    name: Name = "scenario"
    description: str = ""
    simulation: Simulation = Simulation()
    population: Population
    behaviour: Behaviour = DEFAULT_BEHAVIOUR
    events: list[EventType] = Field(default_factory=lambda: list(DEFAULT_EVENTS), min_length=1)
    plans: list[Plan] = Field(default_factory=lambda: [Plan(name="client")], min_length=1)
    client: ClientConfig = ClientConfig()
    server: ServerConfig = ServerConfig()
    collector: CollectorConfig = CollectorConfig()
    recommend: RecommendConfig = RecommendConfig()  # loss budget and path costs (recommend_spec.py)
    kpis: KPIList = []  # after events: checked against them; empty = defaults (kpis.py)

    @field_validator("behaviour")
    @classmethod
    def _behaviour_complete(cls, v: Behaviour) -> Behaviour:
        missing = [k for k, val in v.model_dump().items() if val is None]
        if missing:
            filled = DEFAULT_BEHAVIOUR.model_dump(include=set(missing), by_alias=True)
            return Behaviour.model_validate(
                {**v.model_dump(by_alias=True, exclude_none=True), **filled}
            )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        names = [e.name for e in self.events]
        if len(set(names)) != len(names):
            raise problem("names_unique", at=("events",), names=names)
        plan_names = [p.name for p in self.plans]
        if len(set(plan_names)) != len(plan_names):
            raise problem("names_unique", at=("plans",), names=plan_names)
        funnel = [e for e in self.events if e.kind == "funnel"]
        for where, beh in [(("behaviour",), self.behaviour)] + [
            (("population", "segments", i, "behaviour"), s.behaviour)
            for i, s in enumerate(self.population.segments)
        ]:
            if beh.funnel is not None and funnel and len(beh.funnel) != len(funnel):
                raise problem(
                    "funnel_length",
                    at=(*where, "funnel"),
                    steps=len(funnel),
                    funnel=[e.name for e in funnel],
                    given=len(beh.funnel),
                )
        by_name = {e.name: e for e in self.events}
        for i, p in enumerate(self.plans):
            if p.client is not None:
                dual = [e.name for e in self.events if p.path_of(e) == "dual"]
                p.client.check(self.client, ("plans", i, "client"), p, dual)
            for ev_name, path in p.paths.items():
                at = ("plans", i, "paths", ev_name)
                if ev_name not in by_name:
                    raise problem("unknown_event", at, plan=p.name, event=ev_name, events=names)
                kind = by_name[ev_name].kind
                if (kind, path) in (("client_only", "client"), ("offsite", "server")):
                    continue
                if kind in ("client_only", "offsite"):
                    raise problem(f"{kind}_path", at, plan=p.name, event=ev_name, path=path)
        return self

    def client_of(self, plan: Plan) -> ClientConfig:
        """The client settings a plan's browser copies use: its own over ``client``."""
        return self.client if plan.client is None else plan.client.over(self.client)

    def behaviour_of(self, segment: Segment) -> Behaviour:
        """Return the segment's behaviour with unset fields inherited from the scenario."""
        own = segment.behaviour.model_dump(by_alias=True, exclude_none=True)
        if not own:
            return self.behaviour
        return Behaviour.model_validate(
            {**self.behaviour.model_dump(by_alias=True, exclude_none=True), **own}
        )

    @property
    def funnel_events(self) -> list[EventType]:
        """Funnel steps in the order they are declared."""
        return [e for e in self.events if e.kind == "funnel"]


__all__ = [
    "BLOCKERS",
    "BROWSERS",
    "DEVICES",
    "EVENT_KINDS",
    "PATHS",
    "TIMINGS",
    "Behaviour",
    "Bots",
    "Channel",
    "EventType",
    "Plan",
    "Population",
    "Scenario",
    "Segment",
    "Simulation",
]
