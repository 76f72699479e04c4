"""``trackloss recommend SCENARIO``: which path each event type should take, with the evidence.

Runs the scenario's visitors through one plan per path (see :mod:`simulator.experiments.recommend`),
prints the table and a paragraph per event, and optionally writes the record as JSON (``--json``)
and as a report (``--report PATH.md`` or ``PATH.html``). Bad input (an invalid scenario or override,
a loss budget outside 0-1, an unwritable output path) is reported in one line and exits with status
2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.cli.options import (
    EXIT_INVALID,
    add_memory_argument,
    add_parallel_arguments,
    add_scenario_options,
    json_unwritable,
    load_or_explain,
    memory_options,
    parallel_options,
    progress_option,
    report_problem,
    say,
)
from simulator.cli.run import write_files


def _budget(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number between 0 and 1, got {text!r}"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (a share), got {value:g}")
    return value


def add_recommend(commands: argparse._SubParsersAction) -> None:
    """Declare the ``recommend`` subcommand on the CLI's subparsers."""
    p = commands.add_parser(
        "recommend",
        help="recommend client, server, hybrid or dual tracking per event type",
        description="Simulate every path each event type can take on the same visitors, then "
        "recommend one per event: the seed article's rules first (client-only, offsite, "
        "sensitive and mission-critical events), measurements second (least context loss "
        "within the loss budget, ties to the cheaper path).",
    )
    p.add_argument(
        "scenario", metavar="SCENARIO", help="scenario TOML file (its plans are ignored)"
    )
    p.add_argument(
        "--loss-budget",
        type=_budget,
        metavar="SHARE",
        help="largest acceptable loss, e.g. 0.05 (default: the scenario's recommend.loss_budget)",
    )
    p.add_argument(
        "--respect-choice",
        action="store_true",
        help="evaluate every path with respect_blocker_choice = true (opted-out visitors' "
        "events withheld on every path)",
    )
    add_scenario_options(
        p,
        replications="replications (default: simulation.replications)",
        seed="root seed (default: simulation.seed)",
        overrides="override a scenario field, e.g. --set population.users=5000 (repeatable)",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the record as JSON")
    p.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="also write it as Markdown (.md) or HTML (.html)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar, no paragraphs")
    add_parallel_arguments(p)
    add_memory_argument(p)
    p.set_defaults(handler=_cmd_recommend)


def _cmd_recommend(args: argparse.Namespace) -> int:
    scenario = load_or_explain(args.scenario, args.overrides)
    if scenario is None or json_unwritable(args.json):
        return EXIT_INVALID
    if args.report is not None:
        if problem := report_problem(args.report):
            print(f"{args.report}: cannot write the report: {problem}", file=sys.stderr)
            return EXIT_INVALID
    from simulator.experiments.recommend import recommend
    from simulator.outputs.recommend_document import write_report
    from simulator.outputs.recommend_report import format_recommendation, narrated
    from simulator.replications.executors import ExecutorError, OptionError
    from simulator.replications.files import write_json_atomic

    try:
        record = recommend(
            scenario,
            loss_budget=args.loss_budget,
            respect_choice=args.respect_choice,
            replications=args.replications,
            seed=args.seed,
            progress=progress_option(args),
            **parallel_options(args),
            **memory_options(args),
        )
    except (ExecutorError, OptionError) as error:
        print(f"trackloss recommend: {error}", file=sys.stderr)
        return EXIT_INVALID
    record = narrated(record)
    say(format_recommendation(record, paragraphs=not args.quiet))

    wanted = [
        (args.json, "the JSON record", lambda p: write_json_atomic(p, record)),
        (args.report, "the report", lambda p: write_report(record, p)),
    ]
    return write_files(wanted, "trackloss recommend")


__all__ = ["add_recommend"]
