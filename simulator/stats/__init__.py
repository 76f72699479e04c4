"""Estimates from a run's tallies: loss, bias, attribution, KPIs and comparisons, with intervals.

Numbers only, no prose: :func:`~simulator.stats.summary.summarise` turns a run into the result
record that every output reads.
"""
