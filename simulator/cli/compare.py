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
    say,
)
from simulator.cli.run import write_files


def add_compare(commands: argparse._SubParsersAction) -> None:
    """Declare the ``compare`` subcommand on the CLI's subparsers."""
    p = commands.add_parser(
        "compare",
        help="run two scenarios on common random numbers and report their differences",
        description="Run scenarios A and B from the same root seed (common random numbers) and "
        "print, per plan and event type, the loss of B minus the loss of A, and per plan and "
        "KPI the difference in relative bias, each with a paired 95% CI and p-value. Plans "
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
    add_parallel_arguments(p)
    add_memory_argument(p)
    p.set_defaults(handler=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    """Run the ``compare`` command; return the exit status."""
    from simulator.replications.files import write_json_atomic

    # Both are checked, so every problem of either file is shown at once.
    names = (args.scenario_a, args.scenario_b)
    scenarios = [load_or_explain(name, args.overrides) for name in names]
    if None in scenarios or json_unwritable(args.json):
        return EXIT_INVALID
    from simulator.experiments.compare import compare
    from simulator.outputs.terminal import format_comparison
    from simulator.replications.executors import ExecutorError, OptionError

    try:
        record = compare(
            *scenarios,
            replications=args.replications,
            seed=args.seed,
            progress=progress_option(args),
            **parallel_options(args),
            **memory_options(args),
        )
    except (ExecutorError, OptionError) as error:
        print(f"trackloss compare: {error}", file=sys.stderr)
        return EXIT_INVALID
    say(format_comparison(record["comparison"]))
    wanted = [(args.json, "the JSON record", lambda p: write_json_atomic(p, record))]
    return write_files(wanted, "trackloss compare")


__all__ = ["add_compare"]
