"""``trackloss lab``: how much of an event sent just before a page ends arrives in Chromium.

The grid covers transports, gaps, latencies, connections, preflights and page ends.

Playwright and the browser are imported and started only when the command runs, so
``trackloss --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.cli.options import EXIT_INVALID, EXIT_OK, positive_int, progress_option, say

CHROMIUM = "/usr/bin/chromium"


def _levels(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _milliseconds(text: str) -> list[int]:
    try:
        return [int(part) for part in _levels(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be whole milliseconds separated by commas, got {text!r}"
        ) from None


def add_lab(commands: argparse._SubParsersAction) -> None:
    """Declare the ``lab`` subcommand."""
    p = commands.add_parser(
        "lab",
        help="measure page-unload survival in a real browser (headless Chromium)",
        description="Play every cell of a grid in headless Chromium against a collector on "
        "127.0.0.1 and write one CSV row per cell: events delivered and acknowledged, and "
        "teardown-time quantiles. Latency above 0 is added to every packet between the browser "
        "and the collector inside a private network namespace (needs root, iptables and "
        "pip install 'trackloss[lab]'). Finished cells are written as they end; an interrupted "
        "run is finished with --resume.",
    )
    p.add_argument("-o", "--out", type=Path, required=True, metavar="CSV", help="results file")
    p.add_argument("--resume", action="store_true", help="keep the cells already in CSV")
    p.add_argument("--transports", type=_levels, default=None, metavar="LIST",
                   help="xhr,fetch,fetch_keepalive,beacon (default: all)")  # fmt: skip
    p.add_argument("--gaps", type=_milliseconds, default=None, metavar="MS",
                   help="milliseconds from the send to the page's end (default 0,50,100,250,"
                   "500,1000)")  # fmt: skip
    p.add_argument("--latencies", type=_milliseconds, default=None, metavar="MS",
                   help="one-way latency to the collector in ms (default 50,200,500)")  # fmt: skip
    p.add_argument("--connections", type=_levels, default=None, metavar="LIST",
                   help="cold,warm (default: both)")  # fmt: skip
    p.add_argument("--preflight", type=_levels, default=None, metavar="LIST",
                   help="off,on (default: both)")  # fmt: skip
    p.add_argument("--page-ends", type=_levels, default=None, metavar="LIST",
                   help="navigate,close (default: both)")  # fmt: skip
    p.add_argument("--trials", type=positive_int, default=50, help="page loads per cell (50)")
    p.add_argument("--concurrent", type=positive_int, default=4,
                   help="trials played at once, each in its own browser context (4)")  # fmt: skip
    p.add_argument("--browser", default=CHROMIUM, metavar="PATH",
                   help=f"the Chromium to drive (default {CHROMIUM})")  # fmt: skip
    p.add_argument("--plot", type=Path, metavar="PNG", help="also draw the lab against the model")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_lab)


def cmd_lab(args: argparse.Namespace) -> int:
    """Run the ``lab`` subcommand; return the exit status."""
    from simulator.experiments.lab import cells
    from simulator.experiments.lab.browser import BrowserUnavailable
    from simulator.experiments.lab.network import LatencyUnavailable
    from simulator.experiments.lab.results import ResultsMismatch
    from simulator.experiments.lab.run import run_lab

    chosen = {
        "transports": args.transports,
        "gaps": args.gaps,
        "latencies": args.latencies,
        "connections": args.connections,
        "preflights": args.preflight,
        "page_ends": args.page_ends,
    }
    try:
        grid = cells.grid(**{k: v for k, v in chosen.items() if v is not None}, trials=args.trials)
    except ValueError as error:
        print(f"trackloss lab: {error}", file=sys.stderr)
        return EXIT_INVALID
    if args.out.exists() and not args.resume:
        print(
            f"trackloss lab: {args.out} exists: pass --resume to finish it, or choose another "
            "--out",
            file=sys.stderr,
        )
        return EXIT_INVALID
    try:
        summary = run_lab(
            grid,
            args.out,
            executable=args.browser,
            concurrent=args.concurrent,
            progress=progress_option(args),
        )
    except LatencyUnavailable as error:
        print(
            f"trackloss lab: latency cannot be emulated here: {error}; run with --latencies 0 "
            "to measure without it",
            file=sys.stderr,
        )
        return EXIT_INVALID
    except (BrowserUnavailable, ResultsMismatch) as error:
        print(f"trackloss lab: {error}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as error:
        from simulator.replications.files import write_failure

        print(f"{error.filename or args.out}: cannot write: {write_failure(error)}",
              file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    except KeyboardInterrupt:
        print(
            f"trackloss lab: finished cells are kept in {args.out}; run the same command with "
            "--resume to finish",
            file=sys.stderr,
        )
        raise
    say(
        f"{summary['browser']} {summary['version']}: {summary['measured']} cells measured, "
        f"{summary['kept']} kept, in {summary['seconds']:.0f} s "
        f"(latency: {summary['latency_method']}); results in {summary['path']}"
    )
    if args.plot is not None:
        return _plot(args.out, args.plot)
    return EXIT_OK


def _plot(results: Path, image: Path) -> int:
    from simulator.outputs.plots.lab import lab_against_model_figure
    from simulator.replications.files import write_failure

    try:
        lab_against_model_figure(results).savefig(image, dpi=120)
    except OSError as error:
        print(f"{image}: cannot write: {write_failure(error)}", file=sys.stderr)
        return EXIT_INVALID
    say(f"figure in {image}")
    return EXIT_OK


__all__ = ["add_lab", "cmd_lab"]
