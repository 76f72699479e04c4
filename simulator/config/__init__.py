"""Scenarios: TOML files read, merged (``extends``), overridden (``--set``) and validated.

The result is a frozen :class:`~simulator.config.scenario.Scenario`, with its distributions,
tracking settings, KPI and recommendation specs. Problems are reported all at once, each with its
dotted path (:mod:`~simulator.config.problems`). This stage loads no numerical or plotting
library, so validating a file is fast.
"""
