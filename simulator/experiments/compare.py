"""Two scenarios on common random numbers: what changes when one setting of a site changes.

Both scenarios run from the same root seed with the same number of replications (those of A,
unless told otherwise), so replication ``i`` of A and of B draw the same streams and their
differences are paired (:func:`simulator.stats.comparison.compare_runs`).
"""

from __future__ import annotations

from typing import Any

from simulator.config.scenario import Scenario
from simulator.replications.runner import run
from simulator.stats.comparison import compare_runs
from simulator.stats.summary import summarise
from simulator.version import __version__


def compare(
    a: Scenario,
    b: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    progress: bool | str = False,
    **parallel: Any,
) -> dict:
    """Run two scenarios on the same visitors and compare their losses and KPI bias.

    Parameters
    ----------
    a, b : Scenario
        The scenarios; plans and events are matched by name.
    replications, seed : int, optional
        Of both runs; A's ``simulation`` settings by default.
    progress : bool or str
        Show a progress bar (``"auto"``: on a terminal or in a notebook).
    **parallel
        ``workers``, ``executor``, ``dask_address``, ``shards`` for
        :func:`simulator.replications.runner.run` (results are the same for any choice).

    Returns
    -------
    dict
        ``version``, ``comparison`` (loss and KPI differences, b minus a, with paired 95%
        intervals and p-values) and the full result records ``a`` and ``b``.

    Examples
    --------
    >>> import simulator as tl
    >>> base = tl.load_scenario("scenarios/baseline.toml", ["population.users=300"])
    >>> proxy = tl.load_scenario("scenarios/first_party_proxy.toml", ["population.users=300"])
    >>> record = tl.compare(base, proxy, replications=2, workers=1)
    >>> sorted(record)
    ['a', 'b', 'comparison', 'version']
    """
    seed = a.simulation.seed if seed is None else seed
    replications = a.simulation.replications if replications is None else replications
    options = {"replications": replications, "seed": seed, "progress": progress, **parallel}
    run_a = run(a, **options)
    run_b = run(b, **options)
    return {
        "version": __version__,
        "comparison": compare_runs(run_a, run_b),
        "a": summarise(run_a),
        "b": summarise(run_b),
    }


__all__ = ["compare"]
