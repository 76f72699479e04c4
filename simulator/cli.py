"""The ``trackloss`` command line: validate scenarios, print their schema, run them.

Each subcommand is one ``_add_<name>`` function that declares its arguments and one
``_cmd_<name>`` function that does the work and returns the exit status. Bad input (an invalid
scenario, a malformed ``--set``, an unwritable ``--json`` path) is reported in one line per
problem and exits with status 2; a traceback always means a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from simulator import __version__
from simulator.loading import ScenarioError, load_scenario
from simulator.output_files import write_json_atomic

EXIT_OK = 0
EXIT_INVALID = 2
"""Exit status for bad input: an invalid scenario, override or output path."""
EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells expect."""

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``trackloss`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for bad input, 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("trackloss: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subparser per subcommand.

    Returns
    -------
    argparse.ArgumentParser
        The parser; each subcommand sets ``handler`` to the function that runs it.
    """
    parser = argparse.ArgumentParser(
        prog="trackloss",
        description="Simulate how much analytics data never arrives, and how biased the rest "
        "is, for client, server, hybrid and dual tracking.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    from simulator.cli_sweep import add_sweep
    from simulator.compare_command import add_compare
    from simulator.plot_command import add_plot

    for add in (_add_run, _add_validate, _add_schema, add_plot, add_compare, add_sweep):
        add(commands)
    from simulator.presets import add_presets
    from simulator.recommend_command import add_recommend

    add_recommend(commands)
    add_presets(commands)
    return parser


# --------------------------------------------------------------------------- argument types


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def add_scenario_options(
    parser: argparse.ArgumentParser, *, replications: str, seed: str, overrides: str
) -> None:
    """Add ``--replications``, ``--seed`` and ``--set`` (validated the same way everywhere).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        A subcommand's parser.
    replications, seed, overrides : str
        Help texts for the three options.
    """
    parser.add_argument("--replications", type=_positive_int, metavar="N", help=replications)
    parser.add_argument("--seed", type=_seed, metavar="S", help=seed)
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help=overrides,
    )  # fmt: skip


def _print_problems(error: ScenarioError, stream: Any) -> None:
    for problem in error.problems:
        print(f"{error.source}: {problem}", file=stream)


# --------------------------------------------------------------------------- validate


def _add_validate(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "validate",
        help="check scenario files",
        description="Check scenario files; print FILE: ok, or every problem with its path.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario TOML files")
    p.set_defaults(handler=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for name in args.files:
        try:
            load_scenario(name)
        except ScenarioError as error:
            _print_problems(error, sys.stdout)
            status = EXIT_INVALID
        else:
            print(f"{name}: ok")
    return status


# --------------------------------------------------------------------------- schema


def _add_schema(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "schema",
        help="print the scenario JSON Schema",
        description="Print the JSON Schema of scenario files (for editors and other tools).",
    )
    p.set_defaults(handler=_cmd_schema)


def _cmd_schema(args: argparse.Namespace) -> int:
    from simulator.scenario import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return EXIT_OK


# --------------------------------------------------------------------------- run


def _add_run(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "run",
        help="simulate a scenario and report what each tracking plan loses",
        description="Simulate a scenario and print, per plan and event type, the true count, "
        "what arrived, the loss with its 95% CI, the top causes and duplicates.",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario TOML file")
    add_scenario_options(
        p,
        replications="independent replications (default: the scenario's simulation.replications)",
        seed="root seed (default: simulation.seed)",
        overrides="override a scenario field, e.g. --set population.users=5000 (repeatable)",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write every number as JSON")
    p.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="also write the full report (bias, KPIs, methods) as Markdown (.md) or HTML (.html)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--plots", type=Path, metavar="DIR", help="also write the standard plots (PNG) into DIR"
    )
    from simulator.cli_sweep import add_parallel_arguments

    add_parallel_arguments(p)
    p.set_defaults(handler=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.scenario, args.overrides)
    except ScenarioError as error:
        _print_problems(error, sys.stderr)
        return EXIT_INVALID
    if args.json is not None and (problem := _unwritable(args.json)):
        # Checked before simulating, so a typo in the path does not cost a whole run.
        print(f"{args.json}: cannot write JSON: {problem}", file=sys.stderr)
        return EXIT_INVALID
    if args.report is not None and (problem := _report_problem(args.report)):
        print(f"{args.report}: cannot write the report: {problem}", file=sys.stderr)
        return EXIT_INVALID
    if args.plots is not None:
        from simulator.plot_command import plots_dir_problem

        if problem := plots_dir_problem(args.plots):
            print(problem, file=sys.stderr)
            return EXIT_INVALID
    # Imported here so that validate and schema work without loading the engine.
    from simulator import report, results, runner
    from simulator.cli_sweep import parallel_options, progress_option
    from simulator.executors import ExecutorError, OptionError

    try:
        result = runner.run(
            scenario,
            replications=args.replications,
            seed=args.seed,
            progress=progress_option(args),
            **parallel_options(args),
        )
    except (ExecutorError, OptionError) as error:
        print(f"trackloss run: {error}", file=sys.stderr)
        return EXIT_INVALID
    summary = results.summarise(result)
    print(report.format_summary(summary))
    if args.json is not None:
        write_json_atomic(args.json, summary)
    if args.report is not None:
        from simulator.document import write_report

        write_report(summary, args.report)
    if args.plots is not None:
        from simulator.plot_command import write_run_plots

        write_run_plots(summary, args.plots)
    return EXIT_OK


def _report_problem(path: Path) -> str | None:
    """Say why a report could not be written to ``path`` (suffix or folder), or ``None``."""
    from simulator.document import SUFFIXES

    if path.suffix.lower() not in SUFFIXES:
        return f"the name must end in {', '.join(SUFFIXES)}, got {path.suffix or 'no suffix'!r}"
    return _unwritable(path)


def _unwritable(path: Path) -> str | None:
    """Say why a JSON result could not be written to ``path``, or return ``None``."""
    if path.is_dir():
        return "it is a folder"
    folder = path.parent
    if not folder.is_dir():
        return f"folder {str(folder)!r} does not exist"
    if not os.access(folder, os.W_OK):
        return f"folder {str(folder)!r} is not writable"
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
