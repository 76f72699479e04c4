"""The lab against the model: share of events delivered in Chromium and in the simulator.

One panel per connection state (rows) and latency (columns); in each, the share delivered
against the gap between the send and the page's end, one colour per transport: markers with
95% Wilson intervals for the browser, a dashed line for the simulator's browser model on the
same cells (:mod:`simulator.experiments.lab.model_side`).
"""

from __future__ import annotations

import csv
from pathlib import Path

from matplotlib.figure import Figure

from simulator.experiments.lab.cells import TRANSPORTS
from simulator.experiments.lab.model_side import cell_key, model_shares
from simulator.outputs.plots.records import RecordError
from simulator.outputs.plots.style import percent_axis, series_style, title, words
from simulator.stats.intervals import wilson


def read_lab_rows(path: str | Path) -> list[dict]:
    """The rows of a lab results file, with counts as integers.

    Raises
    ------
    RecordError
        When the file lacks the lab's columns or a count is not a whole number.
    """
    with Path(path).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise RecordError(f"{path}: no lab results in it")
    out = []
    for number, row in enumerate(rows, start=2):
        try:
            for name in ("gap_ms", "latency_ms", "trials", "delivered", "acknowledged"):
                row[name] = int(row[name])
        except (KeyError, TypeError, ValueError) as error:
            raise RecordError(f"{path}: line {number} is not a lab results row ({error})") from None
        out.append(row)
    return out


def lab_against_model_figure(
    path: str | Path, *, preflight: str = "off", page_end: str = "navigate"
) -> Figure:
    """Draw the lab's delivered shares against the model's, for one preflight and page end.

    Parameters
    ----------
    path : str or pathlib.Path
        A results file written by ``trackloss lab``.
    preflight, page_end : str
        Which cells to show.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    RecordError
        When the file has no cells with that preflight and page end.
    """
    rows = [
        r for r in read_lab_rows(path) if r["preflight"] == preflight and r["page_end"] == page_end
    ]
    if not rows:
        raise RecordError(f"{path}: no cells with preflight {preflight} and page end {page_end}")
    model = model_shares(rows)
    connections = sorted({r["connection"] for r in rows})
    latencies = sorted({r["latency_ms"] for r in rows})
    fig = Figure(figsize=(3.2 * len(latencies) + 1.8, 2.6 * len(connections)), layout="constrained")
    axes = fig.subplots(len(connections), len(latencies), squeeze=False, sharey=True)
    transports = [t for t in TRANSPORTS if any(r["transport"] == t for r in rows)]
    for i, connection in enumerate(connections):
        for j, latency in enumerate(latencies):
            ax = axes[i][j]
            for k, transport in enumerate(transports):
                _draw(ax, rows, model, connection, latency, transport, series_style(k))
            title(ax, f"{connection}, latency {latency} ms")
            ax.set_xlabel("gap from send to page end (ms)")
            percent_axis(ax)
            ax.set_ylim(-0.05, 1.05)
        axes[i][0].set_ylabel("delivered")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize="small")
    browser = f"{rows[0]['browser']} {rows[0]['browser_version']}"
    fig.suptitle(
        f"{words(browser)} (markers, 95% interval) against the model (dashed)\n"
        f"preflight {preflight}, page end {page_end}"
    )
    return fig


def _draw(ax, rows, model, connection, latency, transport, style) -> None:  # noqa: ANN001
    cells = sorted(
        (r["gap_ms"], r)
        for r in rows
        if (r["connection"], r["latency_ms"], r["transport"]) == (connection, latency, transport)
    )
    if not cells:
        return
    gaps = [gap for gap, _ in cells]
    shares = [r["delivered"] / r["trials"] for _, r in cells]
    bounds = [wilson(r["delivered"], r["trials"]) for _, r in cells]
    below = [max(s - lo, 0.0) for s, (lo, _) in zip(shares, bounds, strict=True)]
    above = [max(hi - s, 0.0) for s, (_, hi) in zip(shares, bounds, strict=True)]
    ax.errorbar(gaps, shares, yerr=[below, above], color=style["color"], marker=style["marker"],
                linestyle="none", capsize=2, label=words(transport))  # fmt: skip
    ax.plot(gaps, [model[cell_key(r)] for _, r in cells], color=style["color"],
            linestyle="--", linewidth=1)  # fmt: skip
