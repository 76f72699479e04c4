"""The scenario's ``[recommend]`` table: loss budget, tie margin and the cost of each path.

:mod:`simulator.experiments.recommend_rules` decides with these settings; they sit here so a
scenario can declare them without depending on the statistics.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from simulator.config.frozen import Frozen
from simulator.config.limits import MAX_AMOUNT

PATH_ORDER = ("client", "server", "hybrid", "dual")
"""Every path, cheapest first under the default costs."""
DEFAULT_COSTS = {"client": 1.0, "server": 2.0, "hybrid": 3.0, "dual": 4.0}
"""Relative engineering cost of each path (seed article: server and hybrid need extra work)."""

PathName = Literal["client", "server", "hybrid", "dual"]


class RecommendConfig(Frozen):
    """The scenario's ``[recommend]`` table: loss budget, tie margin and engineering costs.

    Parameters
    ----------
    loss_budget : float
        Largest acceptable loss (a share of true events); ``--loss-budget`` overrides it.
    tie_margin : float
        Differences smaller than this (a share) count as ties even when significant.
    costs : dict
        Relative cost per path; paths left out keep :data:`DEFAULT_COSTS`.
    """

    loss_budget: float = Field(default=0.05, ge=0, le=1)
    tie_margin: float = Field(default=0.005, ge=0, le=1)
    costs: dict[PathName, Annotated[float, Field(gt=0, le=MAX_AMOUNT)]] = {}

    def cost(self, path: str) -> float:
        """Engineering cost of ``path`` (configured, else the default)."""
        return self.costs.get(path, DEFAULT_COSTS[path])

    def all_costs(self) -> dict[str, float]:
        """Cost of every path, in :data:`PATH_ORDER`."""
        return {p: self.cost(p) for p in PATH_ORDER}
