"""Driving the system's headless Chromium through Playwright, one trial at a time.

Playwright's own browser builds are never downloaded: the lab launches the Chromium installed
by the system (``apt-get install chromium``) through ``executable_path``. Playwright starts it
with a fresh temporary profile each time. Host names other than ``127.0.0.1`` resolve to
nothing, and background services (sync, component updates, QUIC) are off, so the browser talks
only to the lab's servers.

Every trial gets a new browser context (its own cookies, caches and socket pool), so a ``cold``
trial's request opens a new connection and no CORS preflight is cached. The context is closed
:func:`linger_seconds` after the trial's page is gone, so that closing it cannot cut off a
request still on its way.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from simulator.experiments.lab.cells import Cell
from simulator.experiments.lab.servers import LabServer

CHROMIUM = "/usr/bin/chromium"
"""Where Debian's ``chromium`` package installs the browser."""
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
REPORT_TIMEOUT_SECONDS = 10.0
"""How long a trial waits for its page's report beyond its warm-up, gap and latency."""


class BrowserUnavailable(RuntimeError):
    """The browser or its driver cannot be started; the message says what to install."""


def linger_seconds(cell: Cell) -> float:
    """Seconds a trial's context stays open after its page is gone: 1 s plus eight latencies.

    A request written before the teardown arrives one latency later; the margin also covers a
    handshake and a preflight that would (against expectations) still be completed.
    """
    return 1.0 + 8 * cell.latency_ms / 1000


class Chromium:
    """A running headless Chromium and the trials it plays.

    Use :meth:`start` (a coroutine) to create one, and :meth:`close` when done.
    """

    def __init__(self, playwright: Any, browser: Any, manager: Any) -> None:
        self._playwright = playwright
        self._browser = browser
        self._manager = manager
        self.version: str = browser.version

    @classmethod
    async def start(cls, executable: str | Path = CHROMIUM) -> Chromium:
        """Launch the browser.

        Raises
        ------
        BrowserUnavailable
            When Playwright is not installed, or the browser is missing or does not start.
        """
        try:
            from playwright.async_api import async_playwright
        except ImportError as error:
            raise BrowserUnavailable(
                "playwright is not installed (pip install 'trackloss[lab]')"
            ) from error
        path = shutil.which(str(executable))
        if path is None:
            raise BrowserUnavailable(
                f"no browser at {executable} (apt-get install chromium, or pass --browser PATH)"
            )
        manager = async_playwright()
        playwright = await manager.start()
        try:
            browser = await playwright.chromium.launch(
                executable_path=path, headless=True, args=list(CHROMIUM_ARGS)
            )
        except Exception as error:  # Playwright's launch errors have no narrower common type
            await manager.__aexit__(None, None, None)
            first = str(error).strip().splitlines()[:1] or ["unknown error"]
            raise BrowserUnavailable(f"{path} did not start: {first[0]}") from error
        return cls(playwright, browser, manager)

    async def trial(
        self, cell: Cell, trial: str, pages: LabServer, collector: LabServer
    ) -> tuple[Any, dict | None]:
        """Play one trial; return its open context and the page's report (None if missing).

        The caller closes the context once the request has had time to arrive
        (:func:`linger_seconds`).
        """
        query = urlencode(
            {
                "trial": trial,
                "transport": cell.transport,
                "gap": cell.gap_ms,
                "collector": collector.origin,
                "warm": int(cell.connection == "warm"),
                "preflight": int(cell.preflight == "on"),
                "end": cell.page_end,
            }
        )
        url = f"{pages.origin}/trial?{query}"
        context = await self._browser.new_context()
        if cell.page_end == "navigate":
            page = await context.new_page()
            await page.goto(url)
        else:  # a page may close itself only when a script opened it
            opener = await context.new_page()
            await opener.goto(f"{pages.origin}/opener")
            async with context.expect_page():
                await opener.evaluate("url => { window.open(url); }", url)
        deadline = time.monotonic() + REPORT_TIMEOUT_SECONDS + _expected_seconds(cell)
        while (report := pages.get(trial)) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return context, report

    async def close(self) -> None:
        """Close the browser and its driver."""
        try:
            await self._browser.close()
        finally:
            await self._manager.__aexit__(None, None, None)


def _expected_seconds(cell: Cell) -> float:
    return (cell.gap_ms + 6 * cell.latency_ms) / 1000
