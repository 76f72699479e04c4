"""The recommendation as a report: Markdown or one self-contained HTML page, with its figure.

The blocks come from a record of :func:`simulator.experiments.recommend.recommend` (a saved
``--json`` file too): the decision and each path's loss, the figure of loss and context lost on
every path (:func:`simulator.outputs.plots.recommendation_paths`), context coverage, the largest
composition shift, and the paragraph per event of
:func:`simulator.outputs.recommend_report.narrated`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simulator.experiments.recommend_rules import PATH_ORDER
from simulator.outputs import markup
from simulator.outputs.formatting import finite, percent, plural
from simulator.outputs.markup import Block, Picture, write_document
from simulator.outputs.recommend_report import cell, costs_text, narrated
from simulator.outputs.report_figures import as_uris, recommendation_images

"""Report file suffixes and the format each one writes."""
FIGURE_CAPTION = "Loss and context lost on every path, recommended path circled (95% CI)"


def blocks(record: Mapping[str, Any], figures: Mapping[str, Picture] | None = None) -> list[Block]:
    """The recommendation as report blocks (Markdown or HTML, see :mod:`simulator.outputs.markup`).

    Parameters
    ----------
    record : mapping
        The record of :func:`simulator.experiments.recommend.recommend`.
    figures : mapping of str to Picture, optional
        The ``recommend`` figure (:func:`simulator.outputs.report_figures.recommendation_images`),
        placed after the decision table; without it the report has no figure.

    Returns
    -------
    list of Block
        A heading, what was simulated and how, a table of the decision and each path's loss,
        the figure of loss and context lost on every path, a table of context coverage (true
        events arriving with their context) for the events that need it, a table of the
        largest composition shift per path, and a paragraph per event.
    """
    record = narrated(record)
    sc = record["scenario"]
    costs = costs_text(record["costs"])
    respect = record["mode"]["respect_choice"]
    measured = "loss among visitors who did not opt out" if respect else "loss"
    out = [
        Block("h2", "Client or server? Recommendation per event"),
        Block(
            "p",
            f"Scenario {sc['name']}, {sc['users']:,} users, "
            f"{plural(sc['replications'], 'replication')}, seed {sc['seed']}, every path on the "
            f"same visitors. Loss budget "
            f"{percent(record['loss_budget'])}; engineering costs {costs}. "
            f"{record['mode']['statement']} Figures are percentages with 95% intervals "
            f"({record['interval_method']}).",
        ),
    ]
    rows, context_rows = [], []
    for event in record["events"]:
        paths = event["paths"]
        losses = [
            cell(paths[p].get("budget_loss"), paths[p].get("budget_loss_ci")) if p in paths else "-"
            for p in PATH_ORDER
        ]
        rows.append(
            [event["event"], event["recommendation"], event["decided_by"], *losses,
             event["context_lost"]["short"]]
        )  # fmt: skip
        if event.get("needs_context"):
            context_rows.append(
                [event["event"], ", ".join(event["needs_context"])]
                + [
                    cell(paths[p].get("context_coverage"), paths[p].get("context_coverage_ci"))
                    if p in paths
                    else "-"
                    for p in PATH_ORDER
                ]
            )
    header = ["event", "recommendation", "decided by", *(f"{p} {measured}" for p in PATH_ORDER)]
    out.append(Block("table", header=[*header, "context lost"], rows=rows))
    if figures and "recommend" in figures:
        out.append(Block("figure", FIGURE_CAPTION, picture=figures["recommend"]))
    if context_rows:
        out.append(Block("h3", "True events that arrive with the context they need"))
        out.append(Block("table", header=["event", "needs", *PATH_ORDER], rows=context_rows))
    shift_rows = [
        [event["event"]] + [_shift_text(event["paths"].get(path)) for path in PATH_ORDER]
        for event in record["events"]
        if event.get("kind") != "offsite"
    ]
    out.append(Block("h3", "Largest composition shift of what arrives (TVD, dimension)"))
    out.append(Block("table", header=["event", *PATH_ORDER], rows=shift_rows))
    out.append(Block("h3", "In plain words"))
    out.append(Block("list", items=[event["paragraph"] for event in record["events"]]))
    return out


def _shift_text(m: Mapping[str, Any] | None) -> str:
    shift = (m or {}).get("shift") or {}
    if not finite(shift.get("tvd")):
        return "-"
    return f"{cell(shift['tvd'], shift.get('tvd_ci'))} {shift['dimension']}"


def to_markdown(record: Mapping[str, Any], pictures: Mapping[str, Picture] | None = None) -> str:
    """The recommendation as Markdown (see :func:`blocks`).

    Parameters
    ----------
    record : mapping
        The record of :func:`simulator.experiments.recommend.recommend`.
    pictures : mapping of str to Picture, optional
        The figure as an image file beside the Markdown (see :func:`write_report`).
    """
    return markup.to_markdown(blocks(record, pictures))


def to_html(record: Mapping[str, Any], plots: bool = True) -> str:
    """The recommendation as one self-contained HTML page, its figure embedded (see :func:`blocks`).

    Parameters
    ----------
    record : mapping
        The record of :func:`simulator.experiments.recommend.recommend`.
    plots : bool
        Whether to draw and embed the figure.
    """
    figures = as_uris(recommendation_images(record)) if plots else None
    return markup.to_html(
        [Block("h1", f"Recommendation: {record['scenario']['name']}")] + blocks(record, figures)
    )


def write_report(record: Mapping[str, Any], path: str | Path) -> Path:
    """Write the recommendation report: Markdown for ``.md``, HTML for ``.html``.

    HTML is one self-contained file. Markdown links its figure, written beside it as
    ``<name>-recommend.png``.

    Parameters
    ----------
    record : mapping
        The record of :func:`simulator.experiments.recommend.recommend`.
    path : str or pathlib.Path
        Destination; its suffix chooses the format.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        When the suffix is neither Markdown nor HTML.
    """
    return write_document(
        path,
        lambda: to_html(record),
        lambda pictures: to_markdown(record, pictures),
        lambda: recommendation_images(record),
    )


__all__ = ["FIGURE_CAPTION", "blocks", "to_html", "to_markdown", "write_report"]
