"""What a run returns: the tallies of every replication, with the scenario that produced them.

A :class:`RunResult` is the common currency of the engine (:func:`simulator.engine.run`), the
parallel runner, the statistics and the reports. The scenario it holds records the run's
replications and root seed (:func:`with_overrides`), so a result can always be re-run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.scenario import Scenario
from simulator.tally import Tally


@dataclass
class RunResult:
    """Tallies of every replication of a scenario, with what produced them."""

    scenario: Scenario
    tallies: list[Tally]
    metas: list[dict]
    wall_seconds: float
    extra: dict = field(default_factory=dict)

    def to_frame(self, table: str = "loss"):
        """Tidy pandas table of this run's result record (see :func:`simulator.frames.to_frame`).

        Parameters
        ----------
        table : str
            Which table: ``loss``, ``causes``, ``composition``, ``value``, ``attribution``,
            ``kpis`` or ``comparisons``.

        Returns
        -------
        pandas.DataFrame
        """
        from simulator.frames import to_frame  # the record builder imports this module

        return to_frame(self, table)

    @property
    def total(self) -> Tally:
        """All replications merged (a sum of counts)."""
        out = self.tallies[0]
        for t in self.tallies[1:]:
            out = out + t
        return out


def with_overrides(scenario: Scenario, replications: int | None, seed: int | None) -> Scenario:
    """Return the scenario with the run's replications and seed recorded in it."""
    sim = scenario.simulation.model_copy(
        update={k: v for k, v in (("replications", replications), ("seed", seed)) if v is not None}
    )
    return scenario.model_copy(update={"simulation": sim})
