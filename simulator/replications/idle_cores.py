"""How many cores a run's workers would have to themselves: the load, and the processors' idle time.

A pool's workers only gain where a core is free; on a machine other work keeps busy, more
workers than idle cores share the same cores and add their start-up (measured at a load of 12 on
2 cores: 4 x 100k users took 57 s with 2 workers against 39 s in one process).
:func:`idle_cores` reads the load average; :func:`idle_now` reads the processors' idle time in
``/proc/stat``, which sees a job that started a moment ago, or one at low priority, that the
load average does not yet show.

:func:`idle_now` needs a stretch of time to watch. It sleeps a tenth of a second, unless
:func:`watch` started watching shortly before: the command line does so as it starts, so a
command watches over its own start-up (its imports and its scenario, 0.3 to 0.6 s) and the pool
starts without the wait. The command's own processor time over that stretch counts as idle: its
workers take over from it. This module imports nothing heavy, so the command line can call
:func:`watch` before anything else.
"""

from __future__ import annotations

import os
import time

SAMPLE_SECONDS = 0.1
"""The shortest stretch :func:`idle_now` watches the processors over."""
WATCH_SECONDS = 2.0
"""A stretch started by :func:`watch` longer ago than this says too little of right now."""

_watch: tuple[float, int, int, float] | None = None  # when, idle and total ticks, own seconds


def idle_cores(cores: int) -> int:
    """Cores worth a worker by the load average: all of them until it passes the core count.

    A 1-minute load average up to the core count leaves every core (it lags, and counts this
    program's own previous run); past it, each extra runnable process takes a core away, down
    to one.

    Parameters
    ----------
    cores : int
        Cores of the machine.

    Returns
    -------
    int
        Between 1 and ``cores``.
    """
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return cores
    return max(1, min(cores, round(2 * cores - load)))


def _cpu_times() -> tuple[int, int]:
    """Idle and total processor time of the machine so far, in ticks (``/proc/stat``)."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:9]]  # user .. steal
    return ticks[3] + ticks[4], sum(ticks)  # idle + iowait


def _own_seconds() -> float:
    """Processor time this process has used so far (user and system, every thread)."""
    t = os.times()
    return t.user + t.system


def watch() -> None:
    """Start watching the processors now, for the next :func:`idle_now` in this process."""
    global _watch
    try:
        idle, total = _cpu_times()
    except (OSError, ValueError, IndexError):
        _watch = None
        return
    _watch = (time.monotonic(), idle, total, _own_seconds())


def idle_now(cores: int, seconds: float = SAMPLE_SECONDS) -> int:
    """Cores idle right now, at most ``cores`` and at least one.

    Watched since :func:`watch`, when it was called less than :data:`WATCH_SECONDS` ago (and
    at least ``seconds`` ago, else until then); otherwise over ``seconds`` from now. A watch
    serves one call. Where ``/proc/stat`` is not available, every core counts as idle.

    Parameters
    ----------
    cores : int
        The most cores to report (the worker count being considered).
    seconds : float
        The shortest stretch to watch.

    Returns
    -------
    int
        Between 1 and ``cores``.
    """
    global _watch
    started, _watch = _watch, None
    try:
        if started is not None and time.monotonic() - started[0] <= WATCH_SECONDS:
            at, idle0, total0, own0 = started
            time.sleep(max(0.0, seconds - (time.monotonic() - at)))
        else:
            (idle0, total0), own0 = _cpu_times(), _own_seconds()
            time.sleep(seconds)
        (idle1, total1), own1 = _cpu_times(), _own_seconds()
    except (OSError, ValueError, IndexError):
        return cores
    if total1 <= total0:
        return cores
    own = (own1 - own0) * os.sysconf("SC_CLK_TCK")  # this process's ticks: its workers' soon
    machine = os.cpu_count() or 1
    share = min(1.0, (idle1 - idle0 + own) / (total1 - total0))
    return max(1, min(cores, int(machine * share + 0.5)))


__all__ = ["SAMPLE_SECONDS", "WATCH_SECONDS", "idle_cores", "idle_now", "watch"]
