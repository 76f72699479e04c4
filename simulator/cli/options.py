"""What every command shares: exit codes, argument types, scenario and parallel options, checks.

Bad input (an invalid scenario, a malformed ``--set``, an unwritable output path) is reported in
one line per problem and exits with :data:`EXIT_INVALID`; a traceback always means a bug.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
"""Success."""
EXIT_POINTS_FAILED = 1
"""``sweep`` finished, but some points failed (each is recorded in its ``.error.json``)."""
EXIT_NO_PRESETS = 1
"""``presets`` found no scenarios folder (not a user error, so not 2)."""
EXIT_INVALID = 2
"""Bad input: an invalid scenario, override, option or output path."""
EXIT_INTERRUPTED = 130
"""After Ctrl-C (128 + SIGINT), as shells expect."""
EXIT_PIPE_CLOSED = 141
"""The reader of standard output went away (``| head``): 128 + SIGPIPE, as other tools end."""


def whole_number(text: str) -> int:
    """Read a whole number, or raise :class:`argparse.ArgumentTypeError` saying what was given."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def positive_int(text: str) -> int:
    """Read a whole number of at least 1 (replications, workers, shards)."""
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seed_value(text: str) -> int:
    """Read a root seed: a whole number of 0 or more."""
    value = whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def add_scenario_options(
    parser: argparse.ArgumentParser, *, replications: str, seed: str, overrides: str
) -> None:
    """Add ``--replications``, ``--seed`` and ``--set`` (validated the same way everywhere).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        A command's parser.
    replications, seed, overrides : str
        Help texts for the three options.
    """
    parser.add_argument("--replications", type=positive_int, metavar="N", help=replications)
    parser.add_argument("--seed", type=seed_value, metavar="S", help=seed)
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help=overrides,
    )  # fmt: skip


def add_parallel_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers``, ``--dask`` and ``--shards`` to a command's parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.
    """
    group = parser.add_argument_group("parallel runs (results are the same for any choice)")
    group.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="worker processes (default: from the work, one for a small run, else up to all "
        "cores; 1 runs in this process)",
    )
    group.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on a Dask cluster: its scheduler address (tcp://host:8786), or 'local' to "
        "start one here with --workers processes; needs pip install 'trackloss[dask]'",
    )
    group.add_argument(
        "--shards",
        type=positive_int,
        metavar="K",
        help="split each replication into K shards by user ranges (default: automatic, "
        "about 200000 users per shard, dividing server.instances)",
    )


def parallel_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`simulator.replications.runner.run` chosen by the options."""
    return {"workers": args.workers, "dask_address": args.dask, "shards": args.shards}


SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def memory_size(text: str) -> float:
    """Read a memory size for ``--max-memory``: bytes, or a number with K, M, G or T.

    Units are powers of 1024 (``8G`` is 8 GiB); a trailing ``B`` or ``iB`` is allowed.

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not a positive size.
    """
    body = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = body[-1:] if body[-1:] in SIZE_UNITS and body[-1:] else ""
    try:
        value = float(body[: len(body) - len(unit)]) * SIZE_UNITS[unit]
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a size such as 8G or 512M, got {text!r}")
    return value


def add_memory_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--max-memory`` to a command that runs replications.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.
    """
    parser.add_argument(
        "--max-memory",
        type=memory_size,
        metavar="SIZE",
        help="refuse a run estimated to need more memory than SIZE (e.g. 8G, 512M; default: "
        "what this machine has available)",
    )


def memory_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``max_memory`` keyword of :func:`simulator.replications.runner.run` from the options."""
    return {"max_memory": args.max_memory}


def progress_option(args: argparse.Namespace) -> bool | str:
    """``"auto"`` (terminal or notebook only) unless ``--quiet`` was given."""
    return False if args.quiet else "auto"


def close_stdout_quietly() -> None:
    """After a closed pipe, point standard output at the null device so exit flushes quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing to flush
        pass
    finally:
        os.close(devnull)


def say(text: str) -> bool:
    """Print ``text`` to standard output; ``False`` if the reader has gone (``| head``).

    A command goes on after a closed pipe, so the files it was asked to write are still
    written, and ends without a ``BrokenPipeError`` traceback.
    """
    try:
        print(text, flush=True)
    except BrokenPipeError:
        close_stdout_quietly()
        return False
    return True


def load_or_explain(name: str | Path, overrides: list[str]) -> Any | None:
    """Load a scenario for a command, or print every problem with it and return ``None``.

    Parameters
    ----------
    name : str or pathlib.Path
        A scenario file, or a preset's name.
    overrides : list of str
        ``--set`` values.

    Returns
    -------
    Scenario or None
        The validated scenario; ``None`` after printing its problems to stderr (the command
        then exits with :data:`EXIT_INVALID`).
    """
    from simulator.config.loading import ScenarioError, load_scenario

    try:
        return load_scenario(name, overrides)
    except ScenarioError as error:
        print_problems(error, sys.stderr)
        return None


def json_unwritable(path: Path | None) -> bool:
    """Say (on stderr) why ``--json PATH`` cannot be written, before any simulation runs.

    Returns
    -------
    bool
        True when the path was given and cannot be written; the command then exits with
        :data:`EXIT_INVALID`, so a typo in the path does not cost a whole run.
    """
    if path is not None and (problem := unwritable(path)):
        print(f"{path}: cannot write JSON: {problem}", file=sys.stderr)
        return True
    return False


def print_problems(error: Any, stream: Any) -> None:
    """Print a :class:`~simulator.config.loading.ScenarioError`, one line per problem."""
    for problem in error.problems:
        print(f"{error.source}: {problem}", file=stream)


def unwritable(path: Path) -> str | None:
    """Say why a result file could not be written to ``path``, or return ``None``.

    Parameters
    ----------
    path : pathlib.Path
        Where a JSON record, report or image is to be written.

    Returns
    -------
    str or None
        The reason in a few words (a folder, a missing or read-only folder), or ``None``.
    """
    if path.is_dir():
        return "it is a folder"
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        return f"{str(existing)!r} is a file, not a folder"
    if not folder.is_dir():
        return f"folder {str(folder)!r} does not exist"
    if not os.access(folder, os.W_OK):
        return f"folder {str(folder)!r} is not writable"
    return None


def report_problem(path: Path) -> str | None:
    """Say why a report could not be written to ``path`` (suffix or folder), or ``None``.

    Parameters
    ----------
    path : pathlib.Path
        Where a report is to be written: Markdown or HTML, by its suffix.

    Returns
    -------
    str or None
        The reason in a few words, or ``None``.
    """
    from simulator.outputs.markup import SUFFIXES

    if path.suffix.lower() not in SUFFIXES:
        return f"the name must end in {', '.join(SUFFIXES)}, got {path.suffix or 'no suffix'!r}"
    return unwritable(path)
