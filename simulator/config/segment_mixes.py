"""Shares that must sum to 1, and the mixes a segment states beside its own.

A segment states how its visitors split by country, channel and blocker kind; it may also give
a browser version mix and, per country, a blocker mix of its own. The checks here word their
problems with the key at fault, as the scenario's other validators do.
"""

from __future__ import annotations

from pydantic_core import PydanticCustomError

from simulator.config.tracking import KEEPALIVE_SINCE
from simulator.config.wording import problem

SHARE_TOLERANCE = 1e-6


def check_shares(shares: dict[str, float], what: str) -> dict[str, float]:
    """Check that ``shares`` (named ``what``) are each within [0, 1] and sum to 1."""
    for key, value in shares.items():
        if not 0.0 <= value <= 1.0:
            raise problem("between_0_and_1", at=(key,), value=value)
    total = sum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise problem("shares_sum", total=total)
    return shares


def check_browser_versions(versions: dict[str, float] | None) -> dict[str, float] | None:
    """Check a version mix: major version numbers as keys, shares summing to 1."""
    if versions is None:
        return versions
    for key in versions:
        if not key.isdigit():
            raise problem("browser_version", at=(key,), value=key)
    return check_shares(versions, "browser_versions")


def check_country_mixes(mixes: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Check each country's blocker mix, pointing a problem at the country."""
    for country, mix in mixes.items():
        try:
            check_shares(mix, "blockers_by_country")
        except PydanticCustomError as err:
            ctx = {**(err.context or {}), "at": (country, *err.context.get("at", ()))}
            raise PydanticCustomError(err.type, err.message_template, ctx) from None
    return mixes


def check_mix_countries(mixes: dict[str, dict[str, float]], countries: dict[str, float]) -> None:
    """Check that every country with its own blocker mix is one of the segment's."""
    for country in mixes:
        if country not in countries:
            raise problem(
                "mix_country", at=("blockers_by_country", country), country=country,
                countries=list(countries),
            )  # fmt: skip


def share_without_keepalive(browser: str, versions: dict[str, float] | None) -> float:
    """Share of a segment's visitors whose browser version sends fetch keepalive as plain fetch.

    Examples
    --------
    >>> share_without_keepalive("firefox", {"128": 0.25, "133": 0.75})
    0.25
    >>> share_without_keepalive("chrome", {"100": 1.0})
    0.0
    """
    since = KEEPALIVE_SINCE.get(browser)
    if since is None or not versions:
        return 0.0
    return sum(s for version, s in versions.items() if int(version) < since)


__all__ = [
    "SHARE_TOLERANCE",
    "check_browser_versions",
    "check_country_mixes",
    "check_mix_countries",
    "check_shares",
    "share_without_keepalive",
]
