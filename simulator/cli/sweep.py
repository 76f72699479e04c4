"""``trackloss sweep``: run a scenario over a grid of overrides, one result file per point.

It exits 1 when it finished but some points failed (:mod:`simulator.cli.options`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.cli.options import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_POINTS_FAILED,
    add_parallel_arguments,
    add_scenario_options,
    parallel_options,
    print_problems,
    progress_option,
    say,
)


def add_sweep(commands: argparse._SubParsersAction) -> None:
    """Declare the ``sweep`` subcommand."""
    p = commands.add_parser(
        "sweep",
        help="run a scenario over a grid of values, one result file per point",
        description="Run SCENARIO at every point of a grid of overrides and write one JSON "
        "result per point into OUTDIR (atomically), plus summary.csv. VALUES is "
        "start:stop:count or a comma list read like --set values. Every point uses the same "
        "seed, so points are compared on the same visitors. An interrupted sweep keeps its "
        "finished points: rerun with --resume. A point that fails (for example shares that no "
        "longer sum to 1) is recorded in its .error.json and the sweep goes on.",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario TOML file")
    p.add_argument(
        "--vary",
        dest="axes",
        action="append",
        default=[],
        metavar="PATH=VALUES",
        help="an axis of the grid, e.g. population.segments[0].blockers.extension_privacy="
        "0:0.6:7 or client.transport=xhr,beacon (repeatable; the grid is their product)",
    )
    p.add_argument(
        "--vary-linked",
        dest="axes",
        action="append",
        nargs="+",
        metavar="PATH=VALUES",
        help="several paths that move together step by step (same number of values each), "
        "e.g. two blocker shares that must keep summing to 1 (repeatable)",
    )
    add_scenario_options(
        p,
        replications="replications per point",
        seed="root seed of every point",
        overrides="override a field at every point (repeatable)",
    )
    p.add_argument("-o", "--out", required=True, type=Path, metavar="OUTDIR", help="output folder")
    p.add_argument("--resume", action="store_true", help="finish a sweep begun in OUTDIR")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_parallel_arguments(p)
    p.set_defaults(handler=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run the ``sweep`` subcommand; return the exit status."""
    from simulator.config.loading import ScenarioError
    from simulator.experiments.grid import grid, link, parse_axis
    from simulator.experiments.sweep import SweepError, run_sweep
    from simulator.outputs.sweep_table import format_table
    from simulator.replications.executors import ExecutorError, OptionError

    if args.seed is not None and args.seed < 0:
        print(f"--seed: must be 0 or more, got {args.seed}", file=sys.stderr)
        return EXIT_INVALID
    try:
        # In the order given: the first axis varies slowest.
        axes = [
            link([parse_axis(t) for t in item]) if isinstance(item, list) else parse_axis(item)
            for item in args.axes
        ]
        if not axes:
            raise ValueError("nothing to vary: give at least one --vary or --vary-linked")
        grid(axes)  # two axes on one path
    except ValueError as error:
        print(f"trackloss sweep: {error}", file=sys.stderr)
        return EXIT_INVALID
    try:
        report = run_sweep(
            args.scenario,
            axes,
            args.out,
            overrides=args.overrides,
            replications=args.replications,
            seed=args.seed,
            resume=args.resume,
            progress=progress_option(args),
            **parallel_options(args),
        )
    except ScenarioError as error:
        print_problems(error, sys.stderr)
        return EXIT_INVALID
    except (SweepError, ExecutorError, OptionError) as error:
        print(f"trackloss sweep: {error}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as error:  # a full disk or a folder made read-only during the sweep
        from simulator.replications.files import write_failure

        print(
            f"{error.filename or args.out}: cannot write: {write_failure(error)}; the points "
            f"finished before are kept in {args.out}: free space, then run the same command "
            "with --resume",
            file=sys.stderr,
        )
        return EXIT_INVALID
    except KeyboardInterrupt:
        print(
            f"trackloss sweep: finished points are kept in {args.out}; "
            "run the same command with --resume to finish",
            file=sys.stderr,
        )
        raise
    say(format_table(report))
    if report.failed:
        print(f"{len(report.failed)} of {len(report.records)} points failed", file=sys.stderr)
        return EXIT_POINTS_FAILED
    return EXIT_OK


__all__ = ["add_sweep", "cmd_sweep"]
