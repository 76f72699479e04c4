"""Command-line parts for parallel runs: ``--workers``/``--dask``/``--shards``, and ``sweep``.

:func:`add_parallel_arguments` and :func:`parallel_options` are shared by every subcommand that
simulates (``run``, ``sweep``, and others that call :func:`simulator.runner.run`), so the options
mean the same everywhere. Exit statuses follow :mod:`simulator.cli`: 0 success, 2 bad input, 130
interrupted; ``sweep`` exits 1 when it finished but some points failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_POINTS_FAILED = 1
"""``sweep`` finished, but some points failed (each is recorded in its ``.error.json``)."""
EXIT_INVALID = 2


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_parallel_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers``, ``--dask`` and ``--shards`` to a subcommand's parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    group = parser.add_argument_group("parallel runs (results are the same for any choice)")
    group.add_argument(
        "--workers",
        type=_count,
        metavar="N",
        help="worker processes (default: all cores; 1 runs in this process)",
    )
    group.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on a Dask cluster: its scheduler address (tcp://host:8786), or 'local' to "
        "start one here with --workers processes; needs pip install 'trackloss[dask]'",
    )
    group.add_argument(
        "--shards",
        type=_count,
        metavar="K",
        help="split each replication into K shards by user ranges (default: automatic, "
        "about 200000 users per shard, dividing server.instances)",
    )


def parallel_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`simulator.runner.run` chosen on the command line."""
    return {"workers": args.workers, "dask_address": args.dask, "shards": args.shards}


def progress_option(args: argparse.Namespace) -> bool | str:
    """``"auto"`` (terminal or notebook only) unless ``--quiet`` was given."""
    return False if args.quiet else "auto"


def add_sweep(commands: argparse._SubParsersAction) -> None:
    """Declare the ``sweep`` subcommand."""
    from simulator.cli import add_scenario_options

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
    from simulator.executors import ExecutorError, OptionError
    from simulator.grid import grid, link, parse_axis
    from simulator.loading import ScenarioError
    from simulator.sweep import SweepError, run_sweep
    from simulator.sweep_summary import format_table

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
        for problem in error.problems:
            print(f"{error.source}: {problem}", file=sys.stderr)
        return EXIT_INVALID
    except (SweepError, ExecutorError, OptionError) as error:
        print(f"trackloss sweep: {error}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print(
            f"trackloss sweep: finished points are kept in {args.out}; "
            "run the same command with --resume to finish",
            file=sys.stderr,
        )
        raise
    print(format_table(report))
    if report.failed:
        print(f"{len(report.failed)} of {len(report.records)} points failed", file=sys.stderr)
        return EXIT_POINTS_FAILED
    return EXIT_OK


__all__ = [
    "EXIT_POINTS_FAILED",
    "add_parallel_arguments",
    "add_sweep",
    "cmd_sweep",
    "parallel_options",
    "progress_option",
]
