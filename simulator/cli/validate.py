"""``trackloss validate FILE...`` and ``trackloss schema``: check scenarios without running them.

``validate --print FILE`` prints the scenario a run of ``FILE`` would use (merged over what it
``extends``, with ``--set`` applied and every default stated) as TOML that validates again.
"""

from __future__ import annotations

import argparse
import json
import sys

from simulator.cli.options import EXIT_INVALID, EXIT_OK, add_scenario_options, print_problems


def add_validate(commands: argparse._SubParsersAction) -> None:
    """Declare the ``validate`` command."""
    p = commands.add_parser(
        "validate",
        help="check scenario files",
        description="Check scenario files; print FILE: ok, or every problem with its path.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario TOML files")
    p.add_argument(
        "--print",
        dest="print_toml",
        action="store_true",
        help="print the effective scenario (merged, overridden, every default) as TOML; "
        "one FILE only",
    )
    add_scenario_options(
        p,
        replications="check with N replications (sets simulation.replications)",
        seed="check with root seed S (sets simulation.seed)",
        overrides="override a scenario field before validating (repeatable)",
    )
    p.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate every file; return 0 when all are valid, else 2.

    With ``--print``, print the one file's effective scenario as TOML on stdout (problems go
    to stderr, so the output can be redirected to a file).
    """
    from simulator.config.loading import ScenarioError, load_scenario

    if args.print_toml and len(args.files) != 1:
        print("trackloss validate: --print takes exactly one FILE", file=sys.stderr)
        return EXIT_INVALID
    overrides = list(args.overrides)
    if args.replications is not None:
        overrides.append(f"simulation.replications={args.replications}")
    if args.seed is not None:
        overrides.append(f"simulation.seed={args.seed}")
    status = EXIT_OK
    for name in args.files:
        try:
            scenario = load_scenario(name, overrides)
        except ScenarioError as error:
            print_problems(error, sys.stderr if args.print_toml else sys.stdout)
            status = EXIT_INVALID
            continue
        if args.print_toml:
            from simulator.config.as_written import scenario_toml

            sys.stdout.write(scenario_toml(scenario))
        else:
            print(f"{name}: ok")
    return status


def add_schema(commands: argparse._SubParsersAction) -> None:
    """Declare the ``schema`` command."""
    p = commands.add_parser(
        "schema",
        help="print the scenario JSON Schema",
        description="Print the JSON Schema of scenario files as written, with or without "
        "'extends' (for editors and other tools).",
    )
    p.set_defaults(handler=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of scenario files."""
    from simulator.config.as_written import file_schema

    print(json.dumps(file_schema(), indent=2))
    return EXIT_OK


__all__ = ["add_schema", "add_validate", "cmd_schema", "cmd_validate"]
