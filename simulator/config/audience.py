"""Who visits a site: acquisition channels, behaviour, segments with their blocker mixes, bots.

The audience half of a scenario (:mod:`simulator.config.scenario` holds the rest). Defaults come
from ``docs/sources.md``; the comment beside each names its source.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from simulator.config import segment_mixes as mixes
from simulator.config.distributions import Distribution, Exponential, Geometric, LogNormal
from simulator.config.frozen import Frozen
from simulator.config.limits import MAX_BOT_SHARE, MAX_PAGES_PER_VISIT, MAX_RATE, MAX_USERS, Name
from simulator.config.operating_systems import OperatingSystem, check_os, derived_os
from simulator.config.segment_mixes import SHARE_TOLERANCE, check_shares
from simulator.config.tracking import BlockerKindName
from simulator.config.wording import problem


def check_pages(dist: Distribution | None) -> Distribution | None:
    """Pages per visit: a count whose mean the engine can hold in memory."""
    if dist is not None and dist.mean() > MAX_PAGES_PER_VISIT:
        raise problem("pages_mean", limit=MAX_PAGES_PER_VISIT, mean=dist.mean())
    return dist


class Channel(Frozen):
    """An acquisition channel; ``direct`` traffic carries no UTM parameters."""

    source: str | None = None
    medium: str | None = None
    campaign: str | None = None


class Behaviour(Frozen):
    """How visitors behave; a segment may override any field.

    Fields left out of a segment's ``behaviour`` table inherit the scenario's ``behaviour``.
    """

    pages_per_visit: Distribution | None = None
    dwell_seconds: Distribution | None = None
    return_probability: float | None = Field(default=None, ge=0, le=1)
    return_gap_hours: Distribution | None = None
    last_page_exit: dict[Literal["close", "background"], float] | None = None
    funnel: list[float] | None = None
    order_value: Distribution | None = None
    signup_probability: float | None = Field(default=None, ge=0, le=1)
    ui_events_per_page: float | None = Field(default=None, ge=0, le=MAX_RATE)
    time_to_unload_seconds: Distribution | None = None

    @field_validator("last_page_exit")
    @classmethod
    def _exit_shares(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        return None if v is None else check_shares(v, "last_page_exit")

    @field_validator("pages_per_visit")
    @classmethod
    def _pages(cls, v: Distribution | None) -> Distribution | None:
        return check_pages(v)

    @field_validator("funnel")
    @classmethod
    def _funnel_probabilities(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            for i, p in enumerate(v):
                if not 0.0 <= p <= 1.0:
                    raise problem("between_0_and_1", at=(i,), value=p)
        return v


DEFAULT_BEHAVIOUR = Behaviour(
    # Assumptions (no figure in docs/sources.md): a few pages per visit, half a minute each.
    pages_per_visit=Geometric(kind="geometric", mean=4.0),
    dwell_seconds=LogNormal(kind="lognormal", median=25.0, sigma=1.0),
    return_probability=0.3,
    return_gap_hours=Exponential(kind="exponential", mean=72.0),
    last_page_exit={"close": 0.7, "background": 0.3},
    funnel=[0.4, 0.3, 0.6, 0.7],
    order_value=LogNormal(kind="lognormal", median=60.0, sigma=0.6),
    signup_probability=0.02,
    ui_events_per_page=0.8,
    # A click that navigates leaves ~0.1-0.5 s before the old page unloads (assumption).
    time_to_unload_seconds=LogNormal(kind="lognormal", median=0.25, sigma=0.6),
)


class Segment(Frozen):
    """A group of visitors sharing device, browser and OS, with their own mixes and behaviour."""

    name: Name
    share: float = Field(gt=0, le=1)
    device: Literal["desktop", "mobile", "tablet"]
    browser: Literal["chrome", "safari", "firefox", "edge", "samsung", "other"]
    # The visitors' operating system; unset, the only one the browser runs on, else "unstated".
    os: OperatingSystem | None = None
    countries: dict[str, float] = Field(min_length=1)
    channels: dict[str, float] = Field(min_length=1)
    blockers: dict[BlockerKindName, float] = Field(min_length=1)
    behaviour: Behaviour = Behaviour()
    # Shares per major browser version ("132" = 0.1, ...): is fetch keepalive honoured (§2d)?
    browser_versions: dict[str, float] | None = None
    # Blocker mix of the segment's visitors from one country, in place of `blockers` for them.
    blockers_by_country: dict[str, dict[BlockerKindName, float]] = {}

    @field_validator("countries", "channels", "blockers")
    @classmethod
    def _mix(cls, v: dict[str, float], info) -> dict[str, float]:
        return check_shares(v, info.field_name)

    @field_validator("browser_versions")
    @classmethod
    def _versions(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        return mixes.check_browser_versions(v)

    @field_validator("blockers_by_country")
    @classmethod
    def _by_country(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        return mixes.check_country_mixes(v)

    @model_validator(mode="after")
    def _country_mix_countries(self) -> Segment:
        mixes.check_mix_countries(self.blockers_by_country, self.countries)
        return self

    @model_validator(mode="after")
    def _os_runs_device_and_browser(self) -> Segment:
        check_os(self.os, self.device, self.browser)
        return self

    @property
    def operating_system(self) -> str:
        """The visitors' operating system, derived from the browser when ``os`` is unset."""
        return derived_os(self.os, self.device, self.browser)

    def share_without_keepalive(self) -> float:
        """Share of the segment's visitors whose browser treats fetch keepalive as plain fetch."""
        return mixes.share_without_keepalive(self.browser, self.browser_versions)


class Bots(Frozen):
    """Automated traffic: runs no JavaScript, so only the server sees it."""

    share: float = Field(
        default=0.0, ge=0, le=MAX_BOT_SHARE, description="share of visits made by bots"
    )
    filtered: float = Field(
        default=0.9, ge=0, le=1, description="share of bot traffic removed by server-side filters"
    )
    pages_per_visit: Distribution = Geometric(kind="geometric", mean=3.0)

    @field_validator("pages_per_visit")
    @classmethod
    def _pages(cls, v: Distribution) -> Distribution:
        return check_pages(v)


class Population(Frozen):
    """Who visits: segments, channels, bots and JavaScript-less humans."""

    users: int = Field(gt=0, le=MAX_USERS, description="human visitors arriving over the horizon")
    javascript_disabled: float = Field(default=0.0, ge=0, le=1)
    channels: dict[str, Channel] = Field(default_factory=lambda: {"direct": Channel()})
    segments: list[Segment] = Field(min_length=1)
    bots: Bots = Bots()

    @model_validator(mode="after")
    def _consistent(self) -> Population:
        total = sum(s.share for s in self.segments)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise problem("sum_to_1", at=("segments", "[*]", "share"), total=total)
        names = [s.name for s in self.segments]
        if len(set(names)) != len(names):
            raise problem("names_unique", at=("segments",), names=names)
        for i, seg in enumerate(self.segments):
            unknown = sorted(set(seg.channels) - set(self.channels))
            if unknown:
                raise problem(
                    "undeclared_channels",
                    at=("segments", i, "channels"),
                    unknown=unknown,
                    declared=sorted(self.channels),
                )
        return self


__all__ = [
    "DEFAULT_BEHAVIOUR",
    "Behaviour",
    "Bots",
    "Channel",
    "Population",
    "Segment",
    "check_pages",
]
