"""The ``trackloss`` entry point: one parser with a subcommand per module of this package.

Each command module has an ``add_<name>`` function that declares its arguments and a
``cmd_<name>`` function that does the work and returns the exit status
(:mod:`simulator.cli.options`).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
from collections.abc import Callable, Sequence

from simulator.cli.compare import add_compare
from simulator.cli.estimate import add_estimate
from simulator.cli.export import add_export
from simulator.cli.lab import add_lab
from simulator.cli.options import EXIT_INTERRUPTED, EXIT_PIPE_CLOSED, close_stdout_quietly
from simulator.cli.plot import add_plot
from simulator.cli.presets import add_presets
from simulator.cli.recommend import add_recommend
from simulator.cli.run import add_run
from simulator.cli.sweep import add_sweep
from simulator.cli.validate import add_schema, add_validate
from simulator.replications import idle_cores
from simulator.replications.allocator import keep_freed_memory
from simulator.version import __version__

idle_cores.watch()  # a run that starts a pool reads the processors' idle time from here on

Handler = Callable[[argparse.Namespace], int]
YOUNG_OBJECTS = 10_000
"""The program's collector threshold: net allocations between looks at the young objects."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``trackloss`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for bad input, 130 when interrupted, 141 when the
        reader of standard output went away.
    """
    parser = build_parser()
    offer_completion(parser)
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("trackloss: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away, as `| head` does
        close_stdout_quietly()
        return EXIT_PIPE_CLOSED


def program() -> int:
    """The ``trackloss`` program: :func:`main` on the command line's arguments, then exit.

    At its end, the interpreter's own shutdown collects the reference cycles of everything
    still alive, pydantic's validators and scipy's functions among them: 0.2 to 0.3 s after
    every command. All of it lives until the process ends anyway, so it is frozen out of those
    collections, by an exit handler registered first and so run last: after the threads have
    been joined (a pool shut down at Ctrl-C may still need the collector to let its threads
    go) and the other exit handlers have run, just before the modules are torn down.
    (In-process callers, such as tests, call :func:`main` and keep their collector as it was.)

    The program also has the C allocator keep the arrays a run frees for the next ones
    (:func:`~simulator.replications.allocator.keep_freed_memory`), which spares the kernel's
    page faults: a tenth of a large replication's time. Its pool workers inherit that.

    Two more settings serve every command's start, and hold for the program's life:

    * the collector looks at young objects every :data:`YOUNG_OBJECTS` allocations instead of
      every 700: what a command's imports allocate (modules, classes, validators) lives until
      the end, and the default threshold collected it some 130 times in a run's start
      (10 to 40 ms). The run's own data lives in arrays, so the collector has little else to do;
    * numpy's and scipy's OpenBLAS start one thread, unless ``OPENBLAS_NUM_THREADS`` says
      otherwise: the matrices trackloss multiplies are a few columns wide, and a thread per core
      otherwise spins at import, 0.15 to 0.2 s of processor time (20 ms of a run's wall time
      on 2 cores) taken from the command and from any other process on the machine.

    Returns
    -------
    int
        The exit status of :func:`main`.
    """
    atexit.register(gc.freeze)
    gc.set_threshold(YOUNG_OBJECTS)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: no command imported it
    keep_freed_memory()
    return main()


def offer_completion(parser: argparse.ArgumentParser) -> None:
    """Answer a shell's tab-completion request, when ``argcomplete`` is installed.

    The shell asks by running ``trackloss`` with ``_ARGCOMPLETE`` set (after
    ``eval "$(register-python-argcomplete trackloss)"``); ``argcomplete`` then prints the
    candidates and exits. Otherwise, or without the package, this does nothing.
    """
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:  # completion is optional: pip install 'trackloss[completion]'
        return
    argcomplete.autocomplete(parser)


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
    for add in (
        add_run, add_validate, add_schema, add_plot, add_compare, add_sweep, add_recommend,
        add_export, add_presets, add_estimate, add_lab,
    ):  # fmt: skip
        add(commands)
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(program())
