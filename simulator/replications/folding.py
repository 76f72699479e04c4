"""Fold task results into a run as they arrive, in task order, keeping memory flat.

Tasks finish in any order; a result is added as soon as every task before it has been, so
shards are summed in shard order and replications merged in replication order whatever the
executor: the same additions in the same order give the same bytes. A completed replication is
reduced at once to a :class:`~simulator.replications.result.ReplicationTally`, and its full tally
added into the run's total, so a run holds one full tally per replication being assembled plus
the total, never one per task.
"""

from __future__ import annotations

from collections.abc import Sequence

from simulator.config.scenario import Scenario
from simulator.model.tally import Tally
from simulator.replications.result import ReplicationTally, RunResult

MEAN_META = frozenset({"outage_seconds", "client_page_loop"})
"""Run counts that describe the whole site or the run rather than add up over shards: averaged."""


def merge_metas(metas: Sequence[dict]) -> dict:
    """Combine the run counts of one replication's shards: sums, except :data:`MEAN_META`.

    Parameters
    ----------
    metas : sequence of dict
        The run counts of each shard, in shard order.

    Returns
    -------
    dict
        One replication's run counts.
    """
    out = {}
    for key in metas[0]:
        values = [m[key] for m in metas]
        out[key] = sum(values) / len(values) if key in MEAN_META else sum(values)
    return out


class RunFold:
    """Running totals of a run, fed one task result at a time in any order.

    Parameters
    ----------
    replications : sequence of int
        The replication of every task, in task order (replication-major, then shard order).
    """

    def __init__(self, replications: Sequence[int]) -> None:
        self.replications = list(replications)
        self.waiting: dict[int, tuple[Tally, dict]] = {}
        self.next = 0
        self.current: Tally | None = None
        self.current_metas: list[dict] = []
        self.tallies: list[ReplicationTally] = []
        self.metas: list[dict] = []
        self.total: Tally | None = None

    def add(self, index: int, result: tuple[Tally, dict]) -> None:
        """Take the result of task ``index``; fold it and every waiting successor it unblocks.

        Parameters
        ----------
        index : int
            Position of the task in task order.
        result : tuple of (Tally, dict)
            What the task returned: its tally and its run counts. The tally is added into in
            place: the fold owns it from now on.
        """
        self.waiting[index] = result
        while self.next in self.waiting:
            self._fold(*self.waiting.pop(self.next))
            self.next += 1

    def _fold(self, tally: Tally, meta: dict) -> None:
        i = self.next
        if not tally.counts.flags.writeable:  # e.g. deserialised from a read-only buffer
            tally = Tally(tally.layout, tally.counts.copy())
        if self.current is None:
            self.current = tally
        else:
            self.current.counts += tally.counts  # shards of one replication, in shard order
        self.current_metas.append(meta)
        last = i + 1 == len(self.replications) or self.replications[i + 1] != self.replications[i]
        if last:
            self._close_replication()

    def _close_replication(self) -> None:
        done, metas = self.current, self.current_metas
        self.current, self.current_metas = None, []
        self.tallies.append(ReplicationTally.of(done))
        self.metas.append(metas[0] if len(metas) == 1 else merge_metas(metas))
        if self.total is None:
            self.total = done  # owned by the fold: adding into it below is safe
        else:
            self.total.counts += done.counts  # replications, in replication order

    def result(self, scenario: Scenario, wall_seconds: float, shards: int) -> RunResult:
        """The finished run.

        Parameters
        ----------
        scenario : Scenario
            The scenario run, with its replications and seed.
        wall_seconds : float
            Elapsed time.
        shards : int
            Shards per replication, recorded in ``extra["shards"]``.

        Returns
        -------
        RunResult
            Raises :class:`ValueError` if a task's result is missing.
        """
        if self.next != len(self.replications) or self.total is None:
            raise ValueError(f"{len(self.replications) - self.next} task results are missing")
        return RunResult(
            scenario, self.tallies, self.metas, wall_seconds, self.total, extra={"shards": shards}
        )


__all__ = ["MEAN_META", "RunFold", "merge_metas"]
