"""``trackloss validate FILE...`` and ``trackloss schema``: check scenarios without running them."""

from __future__ import annotations

import argparse
import json
import sys

from simulator.cli.options import EXIT_INVALID, EXIT_OK, print_problems


def add_validate(commands: argparse._SubParsersAction) -> None:
    """Declare the ``validate`` command."""
    p = commands.add_parser(
        "validate",
        help="check scenario files",
        description="Check scenario files; print FILE: ok, or every problem with its path.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario TOML files")
    p.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate every file; return 0 when all are valid, else 2."""
    from simulator.config.loading import ScenarioError, load_scenario

    status = EXIT_OK
    for name in args.files:
        try:
            load_scenario(name)
        except ScenarioError as error:
            print_problems(error, sys.stdout)
            status = EXIT_INVALID
        else:
            print(f"{name}: ok")
    return status


def add_schema(commands: argparse._SubParsersAction) -> None:
    """Declare the ``schema`` command."""
    p = commands.add_parser(
        "schema",
        help="print the scenario JSON Schema",
        description="Print the JSON Schema of scenario files (for editors and other tools).",
    )
    p.set_defaults(handler=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the scenario JSON Schema."""
    from simulator.config.scenario import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return EXIT_OK


__all__ = ["add_schema", "add_validate", "cmd_schema", "cmd_validate"]
