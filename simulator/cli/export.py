"""``trackloss export RECORD --table NAME``: one table of a saved result as CSV or Parquet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.cli.options import EXIT_INVALID, EXIT_OK, say, unwritable

TABLE_NAMES = (
    "loss", "causes", "composition", "value", "attribution", "kpis", "comparisons", "replications",
)  # fmt: skip
"""The tables of a record (the same as :data:`simulator.outputs.frames.TABLES`)."""


def add_export(commands: argparse._SubParsersAction) -> None:
    """Declare the ``export`` command."""
    p = commands.add_parser(
        "export",
        help="write one table of a saved result (run --json) as CSV or Parquet",
        description="Write one tidy table of a result record written by 'trackloss run --json': "
        "one row per plan and event (loss), per cause, per category (composition), per "
        "replication (replications), and so on, with intervals as _lo/_hi columns. CSV goes "
        "to standard output unless -o is given.",
    )
    p.add_argument("record", metavar="RECORD", type=Path, help="result JSON (run --json)")
    p.add_argument(
        "--table", choices=TABLE_NAMES, default="loss", help="which table (default: loss)"
    )
    p.add_argument(
        "--format", choices=("csv", "parquet"), default="csv",
        help="csv (default) or parquet (needs pip install 'trackloss[parquet]')",
    )  # fmt: skip
    p.add_argument("-o", "--output", type=Path, metavar="PATH", help="file to write")
    p.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """Run the ``export`` command; return the exit status."""
    from simulator.outputs.record_validation import InvalidRecord, read_record
    from simulator.outputs.table_export import (
        ExportUnavailable,
        export_table,
        parquet_available,
        table_csv,
    )
    from simulator.replications.files import write_failure

    if args.format == "parquet" and args.output is None:
        print("trackloss export: --format parquet needs -o PATH", file=sys.stderr)
        return EXIT_INVALID
    if args.format == "parquet" and not parquet_available():
        print(
            "trackloss export: Parquet needs the pyarrow package: "
            "pip install 'trackloss[parquet]' (or use --format csv)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if args.output is not None and (problem := unwritable(args.output)):
        print(f"{args.output}: cannot write the table: {problem}", file=sys.stderr)
        return EXIT_INVALID
    try:
        record = read_record(args.record)
    except InvalidRecord as error:
        print(error, file=sys.stderr)
        return EXIT_INVALID
    try:
        if args.output is None:
            say(table_csv(record, args.table).rstrip("\n"))
        else:
            export_table(record, args.table, args.format, args.output)
    except ExportUnavailable as error:
        print(f"trackloss export: {error}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as error:
        where = error.filename or args.output
        print(f"{where}: cannot write the table: {write_failure(error)}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


__all__ = ["TABLE_NAMES", "add_export", "cmd_export"]
