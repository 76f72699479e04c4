"""What a run returns: the tallies of every replication, with the scenario that produced them.

A :class:`RunResult` is the common currency of the runner
(:func:`simulator.replications.runner.run`), the statistics, the experiments and the reports;
:func:`simulator.outputs.frames.to_frame` turns one into tidy tables. The scenario it holds records
the run's replications and root seed (:func:`with_overrides`), so a result can always be re-run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.config.scenario import Scenario
from simulator.model.tally import Tally


@dataclass
class RunResult:
    """Tallies of every replication of a scenario, with what produced them."""

    scenario: Scenario
    tallies: list[Tally]
    metas: list[dict]
    wall_seconds: float
    extra: dict = field(default_factory=dict)

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
