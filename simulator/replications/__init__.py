"""Replications of a scenario over executors (this process, a process pool, Dask): the one run.

:func:`~simulator.replications.runner.run` spawns one seed per replication, cuts large populations
into shards, and returns a :class:`~simulator.replications.result.RunResult` whose bytes do not
depend on the executor or the number of workers.
"""
