"""``trackloss plot`` and ``trackloss run --plots``: draw result records into image files.

Figures are drawn with the Agg backend and never through pyplot, so nothing opens a window and
nothing stays in memory between plots. The format follows the output file's suffix (``.png``,
``.svg``, ``.pdf``). Bad input (a missing file, a record without what the plot needs, an
unknown event name) is one line on stderr and exit status 2, as for every other subcommand.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from simulator.cli.options import EXIT_INVALID, EXIT_OK, print_problems, unwritable

KINDS = (
    "loss",
    "bias",
    "attribution",
    "kpi",
    "dashboard",
    "sweep",
    "unload",
    "compare",
    "recommend",
)

UNLOAD_TRANSPORTS = ("xhr", "fetch", "fetch_keepalive", "beacon")
"""Transports the unload plot compares: plain ``fetch`` too, cancelled by the unload like xhr."""


def add_plot(commands: argparse._SubParsersAction) -> None:
    """Declare the ``plot`` subcommand and its arguments."""
    p = commands.add_parser(
        "plot",
        help="draw a result record (or a sweep folder, or unload survival) as an image",
        description="Draw a plot into a PNG, SVG or PDF file (format from the suffix of -o). "
        "SOURCE is a result JSON (run --json) for loss, bias, attribution, kpi and dashboard; "
        "a sweep output folder for sweep; a scenario TOML for unload; the JSON of compare "
        "--json for compare, and of recommend --json for recommend.",
    )
    p.add_argument(
        "source",
        metavar="SOURCE",
        help="result, compare or recommend JSON, sweep folder or scenario TOML",
    )
    p.add_argument("--kind", choices=KINDS, required=True, help="which plot")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="image file to write (.png, .svg or .pdf)",
    )
    p.add_argument(
        "--event", help="event type (bias: composition of; attribution: credit of; sweep: loss of)"
    )
    p.add_argument("--dimension", help="bias: device, browser, country, channel, ...")
    p.add_argument("--kpi", help="sweep: draw this KPI's relative bias instead of a loss")
    p.add_argument(
        "--beside",
        action="append",
        default=[],
        type=Path,
        metavar="RECORD",
        help="loss, bias, kpi, dashboard: also draw this record's plans, e.g. an estimate "
        "from your logs (estimate --json) beside a simulated run (repeatable)",
    )
    p.add_argument(
        "--parameter",
        metavar="PATH",
        help="sweep: the swept setting for the x axis, e.g. client.transport",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="unload: override a scenario field (repeatable)",
    )
    p.add_argument(
        "--pages",
        type=int,
        default=400,
        metavar="N",
        help="unload: synthetic pages per point (default 400)",
    )
    p.add_argument("--seed", type=int, metavar="S", help="unload: root seed (default: scenario's)")
    p.add_argument(
        "--connection",
        choices=("scenario", "cold", "warm"),
        default="scenario",
        help="unload: the collector connection of each page: as the scenario draws it for a "
        "page in the middle of a visit (default), or cold or warm on every page",
    )
    p.set_defaults(handler=cmd_plot)


def cmd_plot(args: argparse.Namespace) -> int:
    """Run ``trackloss plot``; return the exit status."""
    from simulator.config.loading import ScenarioError
    from simulator.outputs.plots import RecordError

    fmt = output_format(args.output)
    problem = None if fmt else f"{args.output}: the file name must end in .png, .svg or .pdf"
    if not problem and (reason := unwritable(args.output)):
        problem = f"{args.output}: cannot write the plot: {reason}"
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_INVALID
    try:
        fig = draw(args)
    except ScenarioError as error:
        print_problems(error, sys.stderr)
        return EXIT_INVALID
    except (RecordError, ValueError) as error:
        message = str(error)
        if not message.startswith(args.source):
            message = f"{args.source}: {message}"
        print(message, file=sys.stderr)
        return EXIT_INVALID
    save_atomic(fig, args.output)
    return EXIT_OK


def draw(args: argparse.Namespace):
    """Make the figure ``args`` asks for (raises RecordError, ScenarioError or ValueError)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from simulator.outputs import plots
    from simulator.outputs.record_validation import validate_record

    kind = args.kind
    if args.beside and kind not in ("loss", "bias", "kpi", "dashboard"):
        raise ValueError(f"--beside: only for --kind loss, bias, kpi or dashboard, not {kind}")
    if kind == "unload":
        from simulator.config.loading import load_scenario
        from simulator.experiments.unload_survival import unload_survival
        from simulator.outputs.plots.unload import panels_size

        if args.pages < 1:
            raise ValueError(f"--pages must be at least 1, got {args.pages}")
        scenario = load_scenario(args.source, args.overrides)
        data = unload_survival(
            scenario,
            pages=args.pages,
            event=args.event,
            seed=args.seed,
            transports=UNLOAD_TRANSPORTS,
            connection=args.connection,
        )
        return plots.unload_survival_panels(data, Figure(figsize=panels_size(data)))
    if kind == "sweep":
        points = plots.load_sweep(args.source, args.parameter)
        fig = Figure(figsize=(9, 5), layout="constrained")
        label, linked = _swept_axis(points, args.parameter)
        plots.sweep_curves(
            points,
            fig.add_subplot(),
            event=args.event,
            kpi=args.kpi,
            parameter=label,
            linked=linked,
        )
        return fig
    if kind == "compare":
        from simulator.outputs.plots.comparison import comparison_size

        record = plots.read_record(args.source, plots.check_comparison)
        return plots.comparison_figure(record, Figure(figsize=comparison_size(record)))
    if kind == "recommend":
        from simulator.outputs.plots.recommendation import recommendation_size

        record = plots.read_record(args.source, plots.check_recommendation)
        return plots.recommendation_paths(record, Figure(figsize=recommendation_size(record)))
    record = validate_record(plots.load_record(args.source))
    if args.beside:
        record = plots.side_by_side(record, [_beside(p) for p in args.beside])
    if kind == "dashboard":
        return plots.dashboard(
            record, Figure(figsize=(16, 10.5)), event=args.event, dimension=args.dimension
        )
    n = len(record["results"])
    size = {
        "loss": (max(8.0, 0.38 * n + 4), 5.5),
        "bias": (10, 5),
        "attribution": (10, 5),
        "kpi": (9, 5.5),
    }[kind]
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.add_subplot()
    if kind == "loss":
        events = [args.event] if args.event else None
        plots.loss_by_event(record, ax, events=events)
    elif kind == "bias":
        plots.composition_bias(record, args.event, args.dimension, ax)
    elif kind == "attribution":
        plots.attribution_bias(record, args.event, ax)
    else:
        plots.kpi_bias(record, ax)
    return fig


def _beside(path: Path) -> tuple[str, dict]:
    """A record to draw beside the first, labelled by its file name (errors name the file)."""
    from simulator.outputs import plots
    from simulator.outputs.record_validation import InvalidRecord, validate_record

    try:
        return path.stem, validate_record(plots.load_record(path))
    except InvalidRecord as error:
        raise plots.RecordError(f"{path}: {error}") from None


def _swept_axis(points, parameter: str | None) -> tuple[str, dict]:
    """The x axis's swept path and the paths linked to it (as ``load_sweep`` finds them)."""
    from simulator.outputs.plots.sweep_folder import (
        linked_parameters,
        swept_parameters,
        x_parameter,
    )

    groups = points.values() if isinstance(points, dict) else [points]
    records = [r for pairs in groups for _, r in pairs]
    varying = swept_parameters(records)
    label = parameter or (x_parameter(varying) if varying else "swept parameter")
    return label, linked_parameters(records, label)


def output_format(path: Path) -> str | None:
    """``"png"``, ``"svg"`` or ``"pdf"`` from the file's suffix, else ``None``."""
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in ("png", "svg", "pdf") else None


def plots_dir_problem(folder: Path) -> str | None:
    """Why ``run --plots DIR`` could not write into ``folder``, or ``None``."""
    if folder.exists() and not folder.is_dir():
        return f"{folder}: cannot write plots: it is a file, not a folder"
    parent = folder if folder.exists() else folder.parent
    if not parent.is_dir():
        return f"{folder}: cannot write plots: folder {str(parent)!r} does not exist"
    if not os.access(parent, os.W_OK):
        return f"{folder}: cannot write plots: folder {str(parent)!r} is not writable"
    return None


def write_run_plots(summary: dict, folder: Path) -> list[Path]:
    """Write the standard plots of a run's result record into ``folder`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from simulator.outputs.plots import write_standard_plots

    return write_standard_plots(summary, folder, "png")


def save_atomic(fig, path: Path) -> None:
    """Save ``fig`` so that ``path`` is never left half-written (temporary file, then rename)."""
    fmt = output_format(path) or "png"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".{fmt}")
    os.close(fd)
    try:
        fig.savefig(tmp, format=fmt, dpi=120)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
