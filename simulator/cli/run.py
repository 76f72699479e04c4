"""``trackloss run SCENARIO``: simulate a scenario and report what each tracking plan loses."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.cli.estimate import add_export_arguments, export_problem, write_export
from simulator.cli.options import (
    EXIT_INVALID,
    EXIT_OK,
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
    add_export_arguments(p)
    add_memory_argument(p)
    p.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the ``run`` command; return the exit status."""
    scenario = load_or_explain(args.scenario, args.overrides)
    if scenario is None or json_unwritable(args.json):
        return EXIT_INVALID
    if args.report is not None and (problem := report_problem(args.report)):
        print(f"{args.report}: cannot write the report: {problem}", file=sys.stderr)
        return EXIT_INVALID
    if args.plots is not None:
        from simulator.cli.plot import plots_dir_problem

        if problem := plots_dir_problem(args.plots):
            print(problem, file=sys.stderr)
            return EXIT_INVALID
    if problem := export_problem(args, scenario):
        print(problem, file=sys.stderr)
        return EXIT_INVALID
    # Imported here so that validate and schema work without loading the engine.
    from simulator.replications.executors import ExecutorError, OptionError
    from simulator.replications.runner import run

    try:
        result = run(
            scenario,
            replications=args.replications,
            seed=args.seed,
            progress=progress_option(args),
            meanwhile=import_reporting,
            **parallel_options(args),
            **memory_options(args),
        )
    except (ExecutorError, OptionError) as error:
        print(f"trackloss run: {error}", file=sys.stderr)
        return EXIT_INVALID
    from simulator.outputs.terminal import format_summary
    from simulator.stats.summary import summarise

    summary = summarise(result)
    say(format_summary(summary))
    status = write_outputs(summary, args)
    write_export(args, scenario)
    return status


def import_reporting() -> None:
    """Import the statistics and the results table (0.4 to 0.5 s, most of it scipy's).

    A run calls it while its replications run: with workers forked as soon as the engine is
    imported, it overlaps their work instead of delaying their start.
    """
    importlib.import_module("simulator.stats.summary")
    importlib.import_module("simulator.outputs.terminal")


def write_outputs(summary: dict, args: argparse.Namespace) -> int:
    """Write the JSON record, report and plots that ``args`` ask for; return the exit status.

    A write that fails (full disk, a folder made read-only during the run) is reported in one
    line with the path and the reason, the other files are still written, and the last line
    says which files hold the results; the exit status is then :data:`EXIT_INVALID`.
    """
    from simulator.replications.files import write_json_atomic

    def write_report(path: Path) -> None:
        from simulator.outputs.document import write_report

        write_report(summary, path)

    def write_plots(folder: Path) -> None:
        from simulator.cli.plot import write_run_plots

        write_run_plots(summary, folder)

    wanted = [
        (args.json, "the JSON record", lambda p: write_json_atomic(p, summary)),
        (args.report, "the report", write_report),
        (args.plots, "the plots", write_plots),
    ]
    return write_files(wanted, "trackloss run")


def write_files(wanted: list[tuple[Path | None, str, Callable[[Path], Any]]], command: str) -> int:
    """Write each result file, reporting a failure in one line; return the exit status.

    Parameters
    ----------
    wanted : list of (path or None, what, write)
        The destination (``None``: not asked for), what it holds in words ("the report"), and
        the function writing it there.
    command : str
        The command's name, to start the closing line with.

    Returns
    -------
    int
        :data:`EXIT_OK`, or :data:`EXIT_INVALID` when some file could not be written: each
        failure is then printed with its path and reason (full disk, unwritable folder), the
        other files are still written (nothing written before is lost: every write is atomic),
        and a last line says which files hold the results, or that none was written.
    """
    from simulator.replications.files import write_failure

    written, failed = [], []
    for path, what, write in wanted:
        if path is None:
            continue
        try:
            write(path)
        except OSError as error:
            where = error.filename if error.filename else path
            print(f"{where}: cannot write {what}: {write_failure(error)}", file=sys.stderr)
            failed.append(what)
        else:
            written.append(f"{what} in {path}")
    if not failed:
        return EXIT_OK
    kept = f"written: {'; '.join(written)}" if written else "no result file was written"
    print(f"{command}: {' and '.join(failed)} not written; {kept}", file=sys.stderr)
    return EXIT_INVALID


__all__ = ["add_run", "cmd_run", "write_files", "write_outputs"]
