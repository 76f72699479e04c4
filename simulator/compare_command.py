"""``trackloss compare A.toml B.toml``: two scenarios on common random numbers, differences only.

Both scenarios run from the same root seed with the same number of replications (those of A,
unless ``--seed`` or ``--replications`` say otherwise), so replication ``i`` of A and of B draw
the same streams and their differences are paired. The command prints the loss difference per
plan and event type and the KPI bias difference per plan, each b minus a with its 95% interval
and p-value; ``--json`` writes the comparison with both full result records.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator import __version__


def add_compare(commands: argparse._SubParsersAction) -> None:
    """Declare the ``compare`` subcommand on the CLI's subparsers."""
    from simulator.cli import add_scenario_options

    p = commands.add_parser(
        "compare",
        help="run two scenarios on common random numbers and report their differences",
        description="Run scenarios A and B from the same root seed (common random numbers) and "
        "print, per plan and event type, the loss of B minus the loss of A, and per plan and "
        "KPI the difference in relative bias, each with a paired 95%% CI and p-value. Plans "
        "and events are matched by name.",
    )
    p.add_argument("scenario_a", metavar="A", help="first scenario TOML file")
    p.add_argument("scenario_b", metavar="B", help="second scenario TOML file")
    add_scenario_options(
        p,
        replications="replications of each (default: A's simulation.replications)",
        seed="root seed of both (default: A's simulation.seed)",
        overrides="override a field in both scenarios (repeatable)",
    )
    p.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the comparison and both records"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    from simulator.cli_sweep import add_parallel_arguments

    add_parallel_arguments(p)
    p.set_defaults(handler=_cmd_compare)


def _cmd_compare(args: argparse.Namespace) -> int:
    from simulator.cli import (
        EXIT_INVALID,
        EXIT_OK,
        _print_problems,
        _unwritable,
        write_json_atomic,
    )
    from simulator.loading import ScenarioError, load_scenario

    scenarios, status = [], EXIT_OK
    for name in (args.scenario_a, args.scenario_b):
        try:
            scenarios.append(load_scenario(name, args.overrides))
        except ScenarioError as error:
            _print_problems(error, sys.stderr)
            status = EXIT_INVALID
    if status != EXIT_OK:
        return status
    if args.json is not None and (problem := _unwritable(args.json)):
        print(f"{args.json}: cannot write JSON: {problem}", file=sys.stderr)
        return EXIT_INVALID
    from simulator import comparison, results, runner
    from simulator.cli_sweep import parallel_options, progress_option
    from simulator.executors import ExecutorError, OptionError

    a, b = scenarios
    seed = a.simulation.seed if args.seed is None else args.seed
    reps = a.simulation.replications if args.replications is None else args.replications
    options = {"replications": reps, "seed": seed, "progress": progress_option(args),
               **parallel_options(args)}  # fmt: skip
    try:
        run_a = runner.run(a, **options)
        run_b = runner.run(b, **options)
    except (ExecutorError, OptionError) as error:
        print(f"trackloss compare: {error}", file=sys.stderr)
        return EXIT_INVALID
    record = comparison.compare_runs(run_a, run_b)
    print(comparison.format_comparison(record))
    if args.json is not None:
        write_json_atomic(
            args.json,
            {
                "version": __version__,
                "comparison": record,
                "a": results.summarise(run_a),
                "b": results.summarise(run_b),
            },
        )
    return EXIT_OK


__all__ = ["add_compare"]
