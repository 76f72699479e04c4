"""``trackloss estimate DATA``: a site's own loss from its own logs; and ``run --export-events``.

``estimate`` reads one row per received copy (CSV, Parquet or JSON Lines), pairs the client and
server copies of each event by their key, and estimates per event type and segment how many
true events there were, with intervals from a bootstrap over visitors. ``run --export-events``
writes the same kind of log from a simulated site, together with its truth.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simulator.cli.options import (
    EXIT_INVALID,
    EXIT_OK,
    progress_option,
    report_problem,
    unwritable,
)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0.0 or value != value:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``run``'s event export options (``--export-events DIR`` and its companions)."""
    parser.add_argument(
        "--export-events",
        type=Path,
        metavar="DIR",
        help="also write the first replication's received copies (one row per copy) and its "
        "truth as Parquet into DIR (needs the 'estimate' extra)",
    )
    parser.add_argument(
        "--export-plan",
        metavar="NAME",
        help="plan whose copies are exported (default: the first plan with dual events)",
    )
    parser.add_argument(
        "--export-sample",
        type=_share,
        default=1.0,
        metavar="RATE",
        help="share of visitors exported, in (0, 1] (default 1)",
    )


def export_problem(args: argparse.Namespace, scenario: Any) -> str | None:
    """Say why the requested export cannot be written (before simulating), or ``None``."""
    folder = getattr(args, "export_events", None)
    if folder is None:
        return None
    names = [p.name for p in scenario.plans]
    if args.export_plan is not None and args.export_plan not in names:
        return f"--export-plan: no plan named {args.export_plan!r} (plans: {', '.join(names)})"
    if folder.exists() and not folder.is_dir():
        return f"{folder}: --export-events needs a folder, this is a file"
    if problem := unwritable(folder / "copies.parquet") if folder.is_dir() else None:
        return f"{folder}: cannot write the export: {problem}"
    try:
        from simulator.experiments.event_export import require_pyarrow

        require_pyarrow()
    except ImportError as error:
        return f"--export-events: {error}"
    return None


def write_export(args: argparse.Namespace, scenario: Any) -> None:
    """Write the event export if ``--export-events`` was given."""
    if getattr(args, "export_events", None) is None:
        return
    from simulator.experiments.event_export import export_events

    meta = export_events(
        scenario, args.export_events, args.export_plan, args.export_sample, args.shards
    )
    print(
        f"exported plan {meta['plan']!r}: {meta['copies']:,} copies and "
        f"{meta['true_events']:,} true events into {args.export_events}"
    )


def add_estimate(commands: argparse._SubParsersAction) -> None:
    """Declare the ``estimate`` command."""
    p = commands.add_parser(
        "estimate",
        help="estimate your own loss per event type and segment from your logs",
        description="Read one row per received copy (CSV, Parquet or JSON Lines; columns "
        "event_key, path, event, time (when the collector received the copy), visitor), pair "
        "each event's client and server copies, "
        "and estimate per event type and segment the true count (Chapman, Lincoln-Petersen) "
        "and the client's loss, with intervals from a bootstrap over visitors.",
    )
    p.add_argument("data", metavar="DATA", type=Path, help="log file or folder of files")
    p.add_argument("--format", choices=("csv", "parquet", "jsonl"), help="file format")
    p.add_argument(
        "--by", default="", metavar="COLS", help="segment columns, e.g. device,browser,country"
    )
    p.add_argument(
        "--columns",
        metavar="MAP",
        help="column names, as ours=theirs pairs (event_key=messageId,path=source) or a TOML "
        "file with a [columns] table",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument(
        "--late-after",
        type=_seconds,
        default=86_400.0,
        metavar="SECONDS",
        help="a path whose first copy of an event arrives more than this after the event's "
        "first copy is late: left out of the table and counted apart (default 86400, a day)",
    )
    p.add_argument(
        "--respect-choice",
        action="store_true",
        help="the site sends nothing for visitors who opted out: the report marks them as not "
        "estimable",
    )
    p.add_argument(
        "--kpi",
        action="append",
        default=[],
        metavar="NAME=NUM/DEN",
        help="a KPI to give raw and corrected, as a ratio of event types, value:<event> or "
        "visitors, e.g. conversion=order_completed/session_started (repeatable)",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write every number as JSON")
    p.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="also write the report as Markdown (.md) or HTML (.html)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--write-scenario",
        type=Path,
        metavar="PATH",
        help="also write a scenario TOML whose segments, blocked shares and unload-loss knobs "
        "come from the estimates (for trackloss run or recommend)",
    )
    p.set_defaults(handler=cmd_estimate)


def column_mapping(text: str | None) -> dict[str, str]:
    """Parse ``--columns``: ``ours=theirs`` pairs, or a TOML file with a ``[columns]`` table.

    Raises
    ------
    ValueError
        With a one-line message naming what is wrong.
    """
    if not text:
        return {}
    path = Path(text)
    if path.suffix == ".toml":
        import tomllib

        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("columns")
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ValueError(f"{path}: cannot read the column mapping: {error}") from None
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise ValueError(f'{path}: expected a [columns] table of ours = "theirs" names')
        return dict(table)
    pairs = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        ours, sep, theirs = item.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise ValueError(f"--columns: expected ours=theirs, got {item!r}")
        pairs[ours.strip()] = theirs.strip()
    return pairs


def cmd_estimate(args: argparse.Namespace) -> int:
    """Run the ``estimate`` command; return the exit status."""
    for path in (args.json, args.report, args.write_scenario):
        if path is not None and (problem := unwritable(path)):
            print(f"{path}: cannot write: {problem}", file=sys.stderr)
            return EXIT_INVALID
    if args.report is not None and (problem := report_problem(args.report)):
        print(f"{args.report}: cannot write the report: {problem}", file=sys.stderr)
        return EXIT_INVALID
    try:
        columns = column_mapping(args.columns)
        from simulator.experiments.estimate.estimation import estimate
        from simulator.experiments.estimate.kpi_estimates import KPIError, parse_kpi
        from simulator.experiments.estimate.reading import LogError

        kpis = [parse_kpi(text) for text in args.kpi]
    except (ValueError, ImportError) as error:
        print(f"trackloss estimate: {error}", file=sys.stderr)
        return EXIT_INVALID
    by = tuple(b.strip() for b in args.by.split(",") if b.strip())
    from simulator.experiments.estimate.estimation import STAGES
    from simulator.replications.progress import progress_bar

    # The stages take unequal times (reading and pairing most of it): no rate, no time left.
    line = "{desc} (stage {n_fmt} of {total_fmt}, {elapsed})"
    with progress_bar(len(STAGES), "estimate", "stage", progress_option(args), line) as bar:

        def stage(name: str) -> None:
            bar.n = STAGES.index(name) + 1
            bar.set_description_str(f"estimate: {name}")

        try:
            record = estimate(
                args.data, by, columns, args.format, args.seed,
                late_after=args.late_after, respect_choice=args.respect_choice, kpis=kpis,
                on_stage=stage,
            )  # fmt: skip
        except (LogError, KPIError, ImportError) as error:
            bar.close()
            print(f"trackloss estimate: {error}", file=sys.stderr)
            return EXIT_INVALID
        bar.set_description_str("estimate: done")
    from simulator.outputs.estimate_report import format_estimate, write_estimate_report
    from simulator.replications.files import write_json_atomic, write_text_atomic

    print(format_estimate(record))
    if args.json is not None:
        write_json_atomic(args.json, record)
    if args.report is not None:
        write_estimate_report(record, args.report)
    if args.write_scenario is not None:
        from simulator.experiments.estimate.scenario_writer import scenario_text

        name = args.write_scenario.stem
        bots = record["bots"]
        text = scenario_text(
            record["site"], name, str(args.data), bots["server_only_visitors"],
            bots.get("silent_mix"),
        )  # fmt: skip
        write_text_atomic(args.write_scenario, text)
        print(f"wrote the scenario {args.write_scenario}")
    return EXIT_OK


__all__ = [
    "add_estimate", "add_export_arguments", "cmd_estimate", "column_mapping", "export_problem",
    "write_export",
]  # fmt: skip
