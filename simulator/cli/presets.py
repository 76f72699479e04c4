"""``trackloss presets``: list the calibrated scenarios shipped in ``scenarios/``."""

from __future__ import annotations

import argparse
import sys

from simulator.cli.options import EXIT_NO_PRESETS, EXIT_OK


def add_presets(commands: argparse._SubParsersAction) -> None:
    """Declare the ``presets`` command."""
    p = commands.add_parser(
        "presets",
        help="list the calibrated scenario presets",
        description="List the scenario files shipped in scenarios/ with their one-line "
        "description. Every number in them is commented with its published source.",
    )
    p.set_defaults(handler=cmd_presets)


def cmd_presets(args: argparse.Namespace) -> int:
    """List the presets; exit 1 when the scenarios folder is missing."""
    from simulator.config.presets import PresetsMissing, format_presets, list_presets, scenarios_dir

    folder = scenarios_dir()
    try:
        presets = list_presets(folder)
    except PresetsMissing as error:
        print(f"trackloss presets: {error}", file=sys.stderr)
        return EXIT_NO_PRESETS
    print(format_presets(presets, folder))
    return EXIT_OK


__all__ = ["add_presets", "cmd_presets"]
