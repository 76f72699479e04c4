"""The operating system of a segment's visitors: which ones run which browsers, and the default.

Blocking differs by operating system as much as by browser: in one developer's server logs,
Linux visitors blocked Google Analytics far more often than Windows or macOS ones, and Android
visitors not at all (§1b). A segment may name its visitors' operating system (``os``); the
composition tables then show what each system loses, like device and browser.

The operating system is one value per segment, not a mix within it, because the blocker mix is
what differs by system and segments are where blocker mixes live: an audience whose Linux and
Windows users block differently is written as two segments. A segment that names no system gets
the only one its browser runs on (Safari: macOS on a desktop, iOS on a phone or tablet; Samsung
Internet: Android) and otherwise :data:`UNSTATED`, never a guess.
"""

from __future__ import annotations

from typing import Literal

from simulator.config.wording import problem

OperatingSystem = Literal["windows", "macos", "linux", "chromeos", "ios", "android", "other"]
"""The operating systems a segment may name; ``other`` is any further one (a console, a TV)."""
OPERATING_SYSTEMS: tuple[str, ...] = OperatingSystem.__args__
UNSTATED = "unstated"
"""The category of segments that name no operating system and whose browser does not tell."""

RUNS_ON: dict[str, tuple[str, ...]] = {
    "desktop": ("windows", "macos", "linux", "chromeos", "other"),
    "mobile": ("ios", "android", "other"),
    # iPads, Android tablets, Windows tablets and Chromebook tablets.
    "tablet": ("ios", "android", "windows", "chromeos", "other"),
}
"""The operating systems each device type runs."""

BROWSER_ONLY_ON: dict[str, tuple[str, ...]] = {
    # Apple ships Safari for its own systems only (Safari for Windows ended with version 5).
    "safari": ("macos", "ios"),
    # Samsung Internet is an Android browser.
    "samsung": ("android",),
}
"""Browsers that run on some operating systems only."""


def allowed_systems(device: str, browser: str) -> tuple[str, ...]:
    """The operating systems a segment of ``device`` and ``browser`` may name.

    Examples
    --------
    >>> allowed_systems("mobile", "safari")
    ('ios',)
    >>> allowed_systems("desktop", "firefox")
    ('windows', 'macos', 'linux', 'chromeos', 'other')
    """
    systems = RUNS_ON[device]
    only = BROWSER_ONLY_ON.get(browser)
    if only is None:
        return systems
    # Samsung Internet on a desktop screen is Android in its desktop mode (DeX).
    return tuple(s for s in systems if s in only) or only


def check_os(os: str | None, device: str, browser: str) -> None:
    """Check that a segment's stated operating system runs its device and browser.

    Raises
    ------
    pydantic_core.PydanticCustomError
        Pointing at the segment's ``os`` key, with the systems allowed and the value given.
    """
    if os is None:
        return
    allowed = allowed_systems(device, browser)
    if os not in allowed:
        raise problem(
            "os_device", at=("os",), value=os, device=device, browser=browser,
            allowed=list(allowed),
        )  # fmt: skip


def derived_os(os: str | None, device: str, browser: str) -> str:
    """The operating system of a segment: the one it names, else the only one its browser runs on.

    Parameters
    ----------
    os : str or None
        The segment's ``os``, ``None`` when it names none.
    device, browser : str
        The segment's device type and browser.

    Returns
    -------
    str
        One of :data:`OPERATING_SYSTEMS`, or :data:`UNSTATED` when the segment names none and
        its browser runs on several.

    Examples
    --------
    >>> derived_os(None, "mobile", "safari"), derived_os(None, "desktop", "safari")
    ('ios', 'macos')
    >>> derived_os(None, "mobile", "samsung"), derived_os("linux", "desktop", "chrome")
    ('android', 'linux')
    >>> derived_os(None, "desktop", "chrome")
    'unstated'
    """
    if os is not None:
        return os
    allowed = allowed_systems(device, browser)
    named = [s for s in allowed if s != "other"]
    return named[0] if len(named) == 1 else UNSTATED


__all__ = [
    "BROWSER_ONLY_ON",
    "OPERATING_SYSTEMS",
    "RUNS_ON",
    "UNSTATED",
    "OperatingSystem",
    "allowed_systems",
    "check_os",
    "derived_os",
]
