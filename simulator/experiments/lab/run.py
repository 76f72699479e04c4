"""Run the lab's grid in a real browser and write one results row per cell.

:func:`run_lab` is what ``trackloss lab`` calls. With any latency above zero, the process first
moves into a private network namespace where a packet delay sits between the browser and the
collector (:mod:`simulator.experiments.lab.network`); with latency 0 only, it runs on the
machine's own loopback without one.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from tqdm import tqdm

from simulator.experiments.lab.browser import CHROMIUM, Chromium, linger_seconds
from simulator.experiments.lab.cells import Cell
from simulator.experiments.lab.network import (
    PacketDelay,
    enter_private_network,
    queue_collector_packets,
)
from simulator.experiments.lab.results import cell_row, read_results, write_results
from simulator.experiments.lab.servers import LabServer, collector, page_server

BROWSER_NAME = "chromium"


def run_lab(
    cells: Sequence[Cell],
    out: str | Path,
    *,
    executable: str | Path = CHROMIUM,
    concurrent: int = 4,
    progress: bool | str = True,
) -> dict[str, Any]:
    """Measure every cell not yet in ``out`` and add it there, one cell at a time.

    Parameters
    ----------
    cells : sequence of Cell
        The grid (:func:`~simulator.experiments.lab.cells.grid`).
    out : str or pathlib.Path
        The results CSV; its finished cells are kept and not measured again.
    executable : str or pathlib.Path
        The Chromium to drive.
    concurrent : int
        Trials of a cell played at the same time, each in its own browser context.
    progress : bool or str
        Show a progress bar (``"auto"``: only on a terminal).

    Returns
    -------
    dict
        ``path``, ``browser``, ``version``, ``cells``, ``measured``, ``kept``,
        ``latency_method`` and ``seconds``.

    Raises
    ------
    simulator.experiments.lab.network.LatencyUnavailable
        When a cell needs latency and it cannot be emulated here.
    simulator.experiments.lab.browser.BrowserUnavailable
        When Playwright or the browser is missing.
    simulator.experiments.lab.results.ResultsMismatch
        When ``out`` holds another browser's results or is not a lab file.
    """
    if concurrent < 1:
        raise ValueError(f"concurrent must be at least 1, got {concurrent}")
    delayed = any(cell.latency_ms > 0 for cell in cells)
    if delayed:  # before any thread starts: threads and the browser inherit the namespace
        enter_private_network()
    method = "nfqueue" if delayed else "none"
    return asyncio.run(_run(list(cells), Path(out), executable, concurrent, progress, method))


async def _run(
    cells: list[Cell],
    out: Path,
    executable: str | Path,
    concurrent: int,
    progress: bool | str,
    method: str,
) -> dict[str, Any]:
    started = time.monotonic()
    browser = await Chromium.start(executable)
    pages, events, delay = page_server(), collector(), None
    try:
        done = read_results(out, BROWSER_NAME, browser.version)
        pending = [cell for cell in cells if cell.key not in done]
        if method == "nfqueue":
            queue_collector_packets(events.port)
            delay = PacketDelay()
        names = itertools.count()
        rows = dict(done)
        bar = tqdm(
            total=sum(c.trials for c in pending),
            unit="trial",
            desc="lab",
            disable=None if progress == "auto" else not progress,
        )
        with bar:
            for cell in pending:
                if delay is not None:
                    delay.delay_ms = cell.latency_ms
                bar.set_postfix_str(cell.describe(), refresh=False)
                counts, teardowns = await _measure(
                    browser, cell, pages, events, names, bar, concurrent
                )
                rows[cell.key] = cell_row(
                    cell,
                    counts,
                    teardowns,
                    browser=BROWSER_NAME,
                    version=browser.version,
                    latency_method=method,
                    concurrent=concurrent,
                )
                write_results(out, rows.values())
    finally:
        if delay is not None:
            delay.close()
        pages.stop()
        events.stop()
        await browser.close()
    return {
        "path": str(out),
        "browser": BROWSER_NAME,
        "version": browser.version,
        "cells": len(cells),
        "measured": len(pending),
        "kept": len(cells) - len(pending),
        "latency_method": method,
        "seconds": time.monotonic() - started,
        "concurrent": concurrent,
    }


async def _measure(
    browser: Chromium,
    cell: Cell,
    pages: LabServer,
    events: LabServer,
    names: itertools.count,
    bar: tqdm,
    concurrent: int,
) -> tuple[dict[str, int], list[float]]:
    """Play a cell's trials; count what arrived and what the pages reported."""
    gate = asyncio.Semaphore(concurrent)
    reports: dict[str, dict | None] = {}

    async def one(trial: str) -> None:
        context = None
        try:
            async with gate:
                context, reports[trial] = await browser.trial(cell, trial, pages, events)
            await asyncio.sleep(linger_seconds(cell))
        finally:
            reports.setdefault(trial, None)
            if context is not None:
                with suppress(Exception):  # a context the browser already dropped
                    await context.close()
            bar.update()

    trials = [f"t{next(names)}" for _ in range(cell.trials)]
    await asyncio.gather(*(one(trial) for trial in trials))
    return _counts(trials, reports, events)


def _counts(
    trials: list[str], reports: dict[str, dict | None], events: LabServer
) -> tuple[dict[str, int], list[float]]:
    counts = dict.fromkeys(
        ("delivered", "acknowledged", "accepted", "reported", "errors", "on_warm_connection"), 0
    )
    teardowns = []
    for trial in trials:
        arrival = events.get(trial)
        report = reports.get(trial)
        counts["delivered"] += arrival is not None
        counts["on_warm_connection"] += bool(arrival and arrival.get("warm"))
        if report is None:
            continue
        counts["reported"] += 1
        counts["accepted"] += report.get("accepted") is True
        counts["errors"] += bool(report.get("error"))
        counts["acknowledged"] += report.get("acked_at") is not None
        ended, hidden = report.get("ended_at"), report.get("hidden_at")
        if isinstance(ended, int | float) and isinstance(hidden, int | float):
            teardowns.append(float(hidden) - float(ended))
    return counts, teardowns
