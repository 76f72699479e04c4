"""Processes of a process group, read from /proc (Linux): for tests of interrupts and orphans."""

from __future__ import annotations

from pathlib import Path


def live_members(group: int) -> list[int]:
    """Process ids of a process group that are still running (zombies excluded)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive
