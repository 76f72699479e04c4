"""``trackloss presets``: list the calibrated scenarios shipped with the package."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.cli.options import EXIT_NO_PRESETS, EXIT_OK

if TYPE_CHECKING:
    from simulator.config.presets import Preset


def add_presets(commands: argparse._SubParsersAction) -> None:
    """Declare the ``presets`` command."""
    p = commands.add_parser(
        "presets",
        help="list the calibrated scenario presets",
        description="List the scenario presets shipped with trackloss, with their one-line "
        "description. Any command that takes a scenario file also takes a preset's name "
        "(trackloss run baseline). Every number in them is commented with its published "
        "source (docs/sources.md).",
    )
    p.set_defaults(handler=cmd_presets)


def checked_presets(folder: Path | None = None) -> list[Preset]:
    """List the presets, each with its first validation problem if it has one.

    Parameters
    ----------
    folder : pathlib.Path, optional
        Where the presets are; the installed ones by default.

    Returns
    -------
    list of simulator.config.presets.Preset
        As :func:`~simulator.config.presets.list_presets`, with ``problem`` set for a file
        that does not load.

    Raises
    ------
    simulator.config.presets.PresetsMissing
        When there is no presets folder, or it holds no scenario file.
    """
    from simulator.config.loading import ScenarioError, load_scenario
    from simulator.config.presets import list_presets

    out = []
    for preset in list_presets(folder):
        if preset.problem is None:
            try:
                load_scenario(preset.path)
            except ScenarioError as error:
                preset = dataclasses.replace(preset, problem=error.problems[0])
        out.append(preset)
    return out


def cmd_presets(args: argparse.Namespace) -> int:
    """List the presets; exit 1 when the scenarios folder is missing."""
    from simulator.config.presets import PresetsMissing, format_presets, scenarios_dir

    folder = scenarios_dir()
    try:
        presets = checked_presets(folder)
    except PresetsMissing as error:
        print(f"trackloss presets: {error}", file=sys.stderr)
        return EXIT_NO_PRESETS
    print(format_presets(presets, folder))
    return EXIT_OK


__all__ = ["add_presets", "checked_presets", "cmd_presets"]
