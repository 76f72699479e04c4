"""Settings of the two tracking paths and the collector, with calibrated defaults.

Section numbers in comments refer to ``docs/sources.md``. Numbers marked
"assumption" have no published figure there; scenarios should state their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from simulator.config.blocker_lists import (
    BUILTIN_LISTS,
    DEFAULT_BLOCKER_KINDS,
    DESTINATION_URLS,
    BlockerKind,
    RequestUrls,
)
from simulator.config.connection import ConnectionConfig
from simulator.config.distributions import Distribution, LogNormal
from simulator.config.frozen import Frozen
from simulator.config.limits import (
    MAX_ATTEMPTS,
    MAX_BACKOFF_FACTOR,
    MAX_COUNT,
    MAX_HOURS,
    MAX_PER_DAY,
    MAX_SECONDS,
    MIN_TICK_SECONDS,
)
from simulator.config.wording import problem

if TYPE_CHECKING:  # numpy loads when a scenario is simulated, not when it is only validated
    import numpy as np

Transport = Literal["xhr", "fetch", "fetch_keepalive", "beacon"]
SURVIVES_UNLOAD = frozenset({"fetch_keepalive", "beacon"})
"""Transports whose requests are not cancelled when the page unloads (§2b, Krinkle)."""
KEEPALIVE_SINCE = {"firefox": 133}
"""First version of a browser that honours ``fetch`` keepalive; before it, such a request is a
plain ``fetch``, cancelled at unload (§2d: Firefox 133, November 2024)."""


def _probability():  # noqa: ANN202 - a pydantic FieldInfo
    return Field(ge=0, le=1)


class BlockerRules(Frozen):
    """Probabilities stated directly for a blocker kind, in place of its filter lists.

    ``vendor``, ``cname`` and ``proxy`` apply to analytics and session-replay requests sent to
    the vendor's domain, a CNAME "custom domain", or a same-origin proxy path (the hybrid path's
    forward to the site's own server counts as ``proxy``). ``ads`` applies to ad pixels wherever
    they go, ``beacon`` to ``navigator.sendBeacon`` requests as a type. Each user's blocker
    either blocks a class or not, drawn once per user, independently per class.
    """

    vendor: float = _probability()
    cname: float = _probability()
    proxy: float = _probability()
    ads: float = _probability()
    beacon: float = _probability()


BlockerKindName = Literal[
    "none", "extension_default", "extension_privacy", "browser_builtin", "dns"
]


class Backoff:
    """Exponential backoff between retries, capped: shared by the browser and server libraries."""

    backoff_initial_seconds: float
    backoff_factor: float
    backoff_max_seconds: float

    def retry_delay(self, attempts: float | np.ndarray) -> float | np.ndarray:
        """Seconds to wait before retrying after ``attempts`` failed attempts (1, 2, ...).

        Examples
        --------
        >>> import numpy as np
        >>> ServerConfig().retry_delay(3), ServerConfig().retry_delay(np.array([1.0, 9.0]))
        (4.0, array([ 1., 30.]))
        """
        delay = self.backoff_initial_seconds * self.backoff_factor ** (attempts - 1.0)
        if isinstance(delay, float | int):
            return min(delay, self.backoff_max_seconds)
        import numpy as np  # an array came in, so numpy is loaded already

        return np.minimum(delay, self.backoff_max_seconds)


class ClientRetry(Backoff, Frozen):
    """The browser library's retry behaviour.

    ``store``: ``none`` (a failed or cancelled request is lost), ``memory`` (retried while the
    page lives, lost at unload), ``local_storage`` (also persisted and resent on the user's next
    page on the site).
    """

    # Segment analytics-next "standard" mode persists to localStorage (§3a).
    store: Literal["none", "memory", "local_storage"] = "local_storage"
    # @segment/localstorage-retry defaults (§3b): maxAttempts 10, maxItems 100,
    # minRetryDelay 1 s, backoffFactor 2, maxRetryDelay 360 s.
    max_attempts: int = Field(default=10, ge=1, le=MAX_ATTEMPTS)
    max_items: int = Field(default=100, ge=1, le=100_000)
    backoff_initial_seconds: float = Field(default=1.0, gt=0, le=MAX_SECONDS)
    backoff_factor: float = Field(default=2.0, ge=1, le=MAX_BACKOFF_FACTOR)
    backoff_max_seconds: float = Field(default=360.0, gt=0, le=MAX_SECONDS)
    # analytics-next persists only on pagehide (§3a); Snowplow syncs on every add (§3c).
    persist: Literal["on_pagehide", "on_add"] = "on_pagehide"


class ClientConfig(Frozen):
    """The browser tracking library: where it sends, how, and how it survives unloads."""

    destination: Literal["vendor", "cname", "proxy"] = "vendor"
    # Segment analytics-next default: one fetch per event, keepalive off (§3a).
    transport: Transport = "fetch"
    unload_transport: Transport | None = Field(
        default=None, description="transport used to flush at pagehide; default: transport"
    )
    batch_size: int = Field(default=1, ge=1, le=10_000)
    # Segment batching timeout 5000 ms (§3a); used only when batch_size > 1.
    flush_interval_seconds: float = Field(default=5.0, ge=MIN_TICK_SECONDS, le=MAX_SECONDS)
    # Fetch spec keepalive quota, shared by sendBeacon and fetch keepalive (§2c).
    keepalive_quota_bytes: int = Field(default=65_536, gt=0, le=MAX_COUNT)
    # Assumptions: time for the tag to load, and upload / response latency of one request.
    script_load_seconds: Distribution = LogNormal(kind="lognormal", median=0.6, sigma=0.6)
    upload_latency_seconds: Distribution = LogNormal(kind="lognormal", median=0.12, sigma=0.6)
    response_latency_seconds: Distribution = LogNormal(kind="lognormal", median=0.08, sigma=0.5)
    # Assumption: transient request failures (Volument §2a saw ~3% failed beacons on one
    # browser; most of that is unload, not network).
    failure_probability: float = Field(default=0.005, ge=0, le=1)
    # Unload/pagehide handlers fire 95%+ on desktop Chrome/Edge/Firefox and 57-68% on mobile
    # browsers and desktop Safari (§2b, Chrome team summarising Jansma); 0.62 is the midpoint.
    # Keys: a device, or "device.browser" for an override.
    handler_fires: dict[str, float] = {
        "desktop": 0.95,
        "mobile": 0.62,
        "tablet": 0.62,
        "desktop.safari": 0.62,
    }
    retry: ClientRetry = ClientRetry()
    # When requests can be written and when a page is torn down (§2e, §2f).
    connection: ConnectionConfig = ConnectionConfig()
    urls: RequestUrls = RequestUrls()
    # What each blocker kind runs: filter lists and the share of its users running each (§4d).
    blockers: dict[BlockerKindName, BlockerKind] = DEFAULT_BLOCKER_KINDS
    filter_lists: dict[str, str] = Field(
        default={}, description="the user's own filter lists: name -> file (Adblock Plus syntax)"
    )
    blocking: dict[BlockerKindName, BlockerRules] = Field(
        default={}, description="probabilities stated directly; they replace that kind's lists"
    )

    @field_validator("handler_fires")
    @classmethod
    def _handler_keys(cls, v: dict[str, float]) -> dict[str, float]:
        devices = ("desktop", "mobile", "tablet")
        browsers = ("chrome", "safari", "firefox", "edge", "samsung", "other")
        for key, p in v.items():
            device, _, browser = key.partition(".")
            if device not in devices or (browser and browser not in browsers):
                raise problem("handler_key", at=(key,), devices=devices, browsers=browsers)
            if not 0 <= p <= 1:
                raise problem("between_0_and_1", at=(key,), value=p)
        missing = [d for d in devices if d not in v]
        if missing:
            raise problem("every_device", missing=missing)
        return v

    @field_validator("blockers")
    @classmethod
    def _all_kinds(cls, v: dict[str, BlockerKind]) -> dict[str, BlockerKind]:
        return {**DEFAULT_BLOCKER_KINDS, **v}

    @field_validator("filter_lists")
    @classmethod
    def _readable(cls, v: dict[str, str]) -> dict[str, str]:
        for name, path in v.items():
            if not Path(path).expanduser().is_file():
                raise problem("list_file", at=(name,), path=path)
        return v

    @model_validator(mode="after")
    def _known_lists(self) -> ClientConfig:
        known = set(BUILTIN_LISTS) | set(self.filter_lists)
        for kind, rules in self.blockers.items():
            for name in rules.lists:
                if name not in known:
                    raise problem(
                        "unknown_list", at=("blockers", kind, "lists", name), name=name,
                        builtin=list(BUILTIN_LISTS), given=list(self.filter_lists),
                    )  # fmt: skip
        return self

    def request_url(self, request: str) -> str:
        """URL of a request class: ``script``, ``events``, ``beacon``, ``pixel`` or ``forward``.

        Examples
        --------
        >>> ClientConfig(destination="proxy").request_url("beacon")
        'https://shop.example/ingest/v1/t'
        """
        urls = self.urls
        script, events = DESTINATION_URLS[self.destination]
        given = {
            "script": urls.script or script,
            "events": urls.events or events,
            "pixel": urls.pixel,
            "forward": urls.forward,
        }
        given["beacon"] = urls.beacon or given["events"]
        return given[request]

    @property
    def resolved_unload_transport(self) -> str:
        """Transport used by the pagehide flush."""
        return self.unload_transport or self.transport

    def handler_fire_probability(self, device: str, browser: str) -> float:
        """Probability that the page-hide handler runs for this device and browser."""
        return self.handler_fires.get(f"{device}.{browser}", self.handler_fires[device])


class PlanClient(Frozen):
    """A plan's own browser-library settings, over ``client``: where and how it sends.

    Plans with their own settings are simulated on the same visitors as the others, in the same
    run, so their differences are paired.
    """

    destination: Literal["vendor", "cname", "proxy"] | None = None
    urls: RequestUrls | None = None
    transport: Transport | None = None
    unload_transport: Transport | None = None
    batch_size: int | None = Field(default=None, ge=1, le=10_000)
    flush_interval_seconds: float | None = Field(default=None, ge=MIN_TICK_SECONDS, le=MAX_SECONDS)

    def check(self, client: ClientConfig, at: tuple, plan: Frozen, dual: list[str]) -> None:
        """Check that ``plan`` (at ``at``) can have its own settings, and that they hold."""
        if plan.respect_blocker_choice or dual:
            raise problem("plan_client", at, plan=plan.name, dual=dual,
                          respects=plan.respect_blocker_choice)  # fmt: skip
        self.over(client)

    def over(self, client: ClientConfig) -> ClientConfig:
        """The scenario's client settings with this plan's given ones in their place.

        Examples
        --------
        >>> PlanClient(transport="beacon").over(ClientConfig()).transport
        'beacon'
        """
        given = self.model_dump(exclude_none=True, by_alias=True)
        if "urls" in given:  # URLs left unset stay the scenario's
            given["urls"] = {**client.urls.model_dump(), **self.urls.model_dump(exclude_unset=True)}
        return ClientConfig.model_validate({**client.model_dump(by_alias=True), **given})


class ServerConfig(Backoff, Frozen):
    """The server-side library on each web-server instance."""

    # Assumption: a small site behind a few instances.
    instances: int = Field(default=2, ge=1, le=10_000)
    # Segment analytics-python / PostHog Python: max_queue_size 10000, drop when full (§3f).
    max_queue_size: int = Field(default=10_000, ge=1, le=MAX_COUNT)
    # analytics-python upload_size 100, upload_interval 0.5 s, max_retries 10 (§3f).
    batch_size: int = Field(default=100, ge=1, le=MAX_COUNT)
    flush_interval_seconds: float = Field(default=0.5, ge=MIN_TICK_SECONDS, le=MAX_SECONDS)
    # Assumption: one upload (a batch POST to the vendor) takes ~0.1 s. The worker uploads
    # one batch after another, so it drains at most batch_size / upload_seconds events a
    # second (1000/s by default) and a burst faster than that fills the bounded queue.
    upload_seconds: float = Field(default=0.1, ge=MIN_TICK_SECONDS, le=MAX_SECONDS)
    max_retries: int = Field(default=10, ge=0, le=MAX_ATTEMPTS)
    # Exponential backoff 1, 2, 4, ... s (python `backoff.expo`, §3f), capped at 30 s as in
    # PostHog Python (§3f).
    backoff_initial_seconds: float = Field(default=1.0, gt=0, le=MAX_SECONDS)
    backoff_factor: float = Field(default=2.0, ge=1, le=MAX_BACKOFF_FACTOR)
    backoff_max_seconds: float = Field(default=30.0, gt=0, le=MAX_SECONDS)
    # Assumption: transient failure of one upload attempt.
    failure_probability: float = Field(default=0.001, ge=0, le=1)
    # Assumption: one deploy (process restart) a day; analytics-python's atexit does not flush
    # the queue (§3f), so what is queued then is lost unless flush_on_exit is set.
    deploys_per_day: float = Field(default=1.0, ge=0, le=MAX_PER_DAY)
    flush_on_exit: bool = False


class CollectorConfig(Frozen):
    """The analytics vendor's ingestion endpoint."""

    # Assumptions: rare outages of some minutes; they affect both paths.
    outages_per_day: float = Field(default=0.05, ge=0, le=MAX_PER_DAY)
    outage_seconds: Distribution = LogNormal(kind="lognormal", median=600.0, sigma=1.0)
    # Server-side dedupe by message id (§5 item 3, analytics-android #167). Window: assumption.
    dedupe: bool = True
    dedupe_window_hours: float = Field(default=24.0, gt=0, le=MAX_HOURS)
