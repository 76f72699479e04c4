"""trackloss: simulate how much analytics data never arrives, and how biased the rest is.

The public API, for notebooks and scripts (``import simulator as tl``):

========================  =================================================================
``load_scenario``         read, merge and validate a scenario TOML file (with ``--set`` style
                          overrides)
``run``                   simulate a scenario's replications (in parallel, same bytes anyway)
``RunResult``             what ``run`` returns: one tally per replication, with the scenario
``summarise``             the result record: loss, causes, bias, KPIs and comparisons with
                          95% intervals
``compare``               two scenarios on common random numbers
``recommend``             the best path (client, server, hybrid, dual) per event type
``run_sweep``             a grid of settings, one result file per point, resumable
``unload_survival``       how much of an event fired just before an unload survives
``to_frame``              tidy pandas tables of a result record
``sweep_frame``           one table of every point of a sweep, the varied settings as columns
``plots``                 the plotting functions (``ax=None`` in, Axes or Figure out)
========================  =================================================================

Names load on first use, so ``import simulator`` stays fast.

Examples
--------
>>> import simulator as tl
>>> scenario = tl.load_scenario("scenarios/baseline.toml", ["population.users=300"])
>>> record = tl.summarise(tl.run(scenario, replications=2, workers=1))
>>> tl.to_frame(record, "loss").columns[:3].tolist()
['plan', 'event', 'path']
"""

from __future__ import annotations

import importlib
from typing import Any

from simulator.version import __version__

_WHERE = {
    "load_scenario": "simulator.config.loading",
    "run": "simulator.replications.runner",
    "RunResult": "simulator.replications.result",
    "summarise": "simulator.stats.summary",
    "compare": "simulator.experiments.compare",
    "recommend": "simulator.experiments.recommend",
    "run_sweep": "simulator.experiments.sweep",
    "unload_survival": "simulator.experiments.unload_survival",
    "to_frame": "simulator.outputs.frames",
    "sweep_frame": "simulator.outputs.sweep_frames",
    "plots": "simulator.outputs.plots",
}

__all__ = [*_WHERE, "__version__"]


def __getattr__(name: str) -> Any:
    """Load a public name from the stage that defines it, on first use."""
    if name not in _WHERE:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    module = importlib.import_module(_WHERE[name])
    value = module if name == "plots" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
