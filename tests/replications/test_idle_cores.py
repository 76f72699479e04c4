"""The cores a run's workers would have to themselves: load average and processors' idle time."""

from __future__ import annotations

import pytest

from simulator.replications import idle_cores

CLOCK = 100  # ticks a second, as most Linux kernels count them


@pytest.fixture
def two_cores(monkeypatch):
    """Two processors, ticks read from the given readings, and this process's time likewise."""
    monkeypatch.setattr(idle_cores.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(idle_cores.os, "sysconf", lambda name: CLOCK)
    monkeypatch.setattr(idle_cores, "_watch", None)

    def readings(ticks, own=(0.0, 0.0)):
        ticks, own = iter(ticks), iter(own)
        monkeypatch.setattr(idle_cores, "_cpu_times", lambda: next(ticks))
        monkeypatch.setattr(idle_cores, "_own_seconds", lambda: next(own))

    return readings


@pytest.mark.parametrize(("load", "expected"), [(0.0, 2), (1.9, 2), (3.0, 1), (12.0, 1)])
def test_an_oversubscribed_machine_gets_fewer_workers(monkeypatch, load, expected) -> None:
    monkeypatch.setattr(idle_cores.os, "getloadavg", lambda: (load, load, load))
    assert idle_cores.idle_cores(2) == expected


@pytest.mark.parametrize(
    ("idle_ticks", "expected"), [(200, 2), (160, 2), (100, 1), (40, 1), (0, 1)]
)
def test_cores_busy_right_now_are_not_given_a_worker(two_cores, idle_ticks, expected) -> None:
    # Two processors watched over 200 ticks of processor time: idle for ``idle_ticks`` of them.
    two_cores([(1000, 5000), (1000 + idle_ticks, 5200)])
    assert idle_cores.idle_now(2, seconds=0.0) == expected


@pytest.mark.parametrize(("idle_ticks", "expected"), [(100, 2), (40, 1), (0, 1)])
def test_a_watch_over_the_start_up_counts_the_commands_own_time_as_idle(
    two_cores, idle_ticks, expected
) -> None:
    # The command kept one of two processors busy for the 200 ticks watched (1 s of its own
    # time): the other was idle for ``idle_ticks``. Its workers will take over its core.
    two_cores([(1000, 5000), (1000 + idle_ticks, 5200)], own=(3.0, 4.0))
    idle_cores.watch()
    assert idle_cores.idle_now(2, seconds=0.0) == expected


def test_a_watch_serves_one_reading_and_is_not_read_when_stale(two_cores, monkeypatch) -> None:
    clock = iter([10.0, 10.0 + idle_cores.WATCH_SECONDS + 1])
    monkeypatch.setattr(idle_cores.time, "monotonic", lambda: next(clock))
    # The watch's reading says busy; the fresh readings taken instead say idle.
    two_cores([(1000, 5000), (1000, 5200), (1200, 5400)], own=(0.0, 0.0, 0.0))
    idle_cores.watch()
    assert idle_cores.idle_now(2, seconds=0.0) == 2
    assert idle_cores._watch is None


def test_a_recent_watch_is_read_without_sampling_again(two_cores, monkeypatch) -> None:
    clock = iter([10.0, 10.5, 10.5])
    monkeypatch.setattr(idle_cores.time, "monotonic", lambda: next(clock))
    slept = []
    monkeypatch.setattr(idle_cores.time, "sleep", slept.append)
    two_cores([(1000, 5000), (1000, 5200)], own=(0.0, 0.0))
    idle_cores.watch()
    assert idle_cores.idle_now(2) == 1  # read since the watch: the machine was busy
    assert slept == [0.0]  # half a second watched already: more than the tenth it needs


def test_without_processor_times_every_core_counts_as_idle(monkeypatch) -> None:
    def unreadable():
        raise OSError("no /proc/stat here")

    monkeypatch.setattr(idle_cores, "_cpu_times", unreadable)
    monkeypatch.setattr(idle_cores, "_watch", None)
    assert idle_cores.idle_now(4, seconds=0.0) == 4
    idle_cores.watch()
    assert idle_cores._watch is None
