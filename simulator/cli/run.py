"""``trackloss run SCENARIO``: simulate a scenario and report what each tracking plan loses."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.cli.options import (
    EXIT_INVALID,
    EXIT_OK,
    add_memory_argument,
    add_parallel_arguments,
    add_scenario_options,
    memory_options,
    parallel_options,
    print_problems,
    progress_option,
    unwritable,
)


def add_run(commands: argparse._SubParsersAction) -> None:
    """Declare the ``run`` command."""
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
    add_parallel_arguments(p)
    add_memory_argument(p)
    p.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the ``run`` command; return the exit status."""
    from simulator.config.loading import ScenarioError, load_scenario

    try:
        scenario = load_scenario(args.scenario, args.overrides)
    except ScenarioError as error:
        print_problems(error, sys.stderr)
        return EXIT_INVALID
    if args.json is not None and (problem := unwritable(args.json)):
        # Checked before simulating, so a typo in the path does not cost a whole run.
        print(f"{args.json}: cannot write JSON: {problem}", file=sys.stderr)
        return EXIT_INVALID
    if args.report is not None and (problem := report_problem(args.report)):
        print(f"{args.report}: cannot write the report: {problem}", file=sys.stderr)
        return EXIT_INVALID
    if args.plots is not None:
        from simulator.cli.plot import plots_dir_problem

        if problem := plots_dir_problem(args.plots):
            print(problem, file=sys.stderr)
            return EXIT_INVALID
    # Imported here so that validate and schema work without loading the engine.
    from simulator.outputs.terminal import format_summary
    from simulator.replications.executors import ExecutorError, OptionError
    from simulator.replications.files import write_json_atomic
    from simulator.replications.runner import run
    from simulator.stats.summary import summarise

    try:
        result = run(
            scenario,
            replications=args.replications,
            seed=args.seed,
            progress=progress_option(args),
            **parallel_options(args),
            **memory_options(args),
        )
    except (ExecutorError, OptionError) as error:
        print(f"trackloss run: {error}", file=sys.stderr)
        return EXIT_INVALID
    summary = summarise(result)
    print(format_summary(summary))
    if args.json is not None:
        write_json_atomic(args.json, summary)
    if args.report is not None:
        from simulator.outputs.document import write_report

        write_report(summary, args.report)
    if args.plots is not None:
        from simulator.cli.plot import write_run_plots

        write_run_plots(summary, args.plots)
    return EXIT_OK


def report_problem(path: Path) -> str | None:
    """Say why a report could not be written to ``path`` (suffix or folder), or ``None``."""
    from simulator.outputs.document import SUFFIXES

    if path.suffix.lower() not in SUFFIXES:
        return f"the name must end in {', '.join(SUFFIXES)}, got {path.suffix or 'no suffix'!r}"
    return unwritable(path)


__all__ = ["add_run", "cmd_run", "report_problem"]
