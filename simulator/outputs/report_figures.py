"""The figures of a report, drawn at the width the page shows them.

A run's report shows the standard plots of :mod:`simulator.outputs.plots` (loss, composition,
KPIs, the overview dashboard) and the attribution plot; a recommendation's report shows the
loss and context lost on every path (:func:`simulator.outputs.plots.recommendation_paths`). A
figure wider than the page's text column is redrawn at the column's width, keeping its height
and the size of its text in points; scaling a wide image down in the page instead shrinks its
text to a few pixels. Images carry twice the pixels they are shown at, and their CSS size, so
the page reserves their space while loading.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

from simulator.outputs.markup import Picture

DISPLAY_INCHES = 12.0
"""Widest figure in the report, in inches at 96 CSS pixels each: about the page's text column.

A wider figure is redrawn at this width and its own height (its text keeps its size in points)
rather than scaled down in the page, which would shrink its text to a few pixels."""
PIXELS_PER_INCH = 96
PIXEL_DENSITY = 2
"""Images have twice the pixels they are shown at, so they stay sharp on high-density screens."""


def figure_images(summary: Mapping[str, Any]) -> dict[str, tuple[bytes, int, int]]:
    """The report's figures as PNG bytes with the CSS width and height to show them at.

    The standard plots (``loss``, ``bias``, ``kpi``, ``dashboard``) and, when the record has
    attribution, the ``attribution`` plot; each no wider than :data:`DISPLAY_INCHES`. Plots are
    optional decoration: a record they cannot draw gives an empty dict, never an error, so the
    report is still written.
    """
    try:
        from matplotlib.figure import Figure

        from simulator.outputs.plots import attribution_bias, standard_figures

        figures = standard_figures(dict(summary), max_width=DISPLAY_INCHES)
        if any(r.get("attribution") for r in summary.get("results", [])):
            fig = Figure(figsize=(9, 5.5), layout="constrained")
            attribution_bias(dict(summary), ax=fig.add_subplot())
            figures["attribution"] = fig
        return {name: _png(fig) for name, fig in figures.items()}
    except Exception:  # noqa: BLE001 - a report without plots beats no report
        return {}


def recommendation_images(record: Mapping[str, Any]) -> dict[str, tuple[bytes, int, int]]:
    """A recommendation report's figure, ``recommend``, as PNG bytes with its CSS size.

    Parameters
    ----------
    record : mapping
        The record of :func:`simulator.experiments.recommend.recommend`.

    Returns
    -------
    dict
        ``{"recommend": (png, width, height)}``, or an empty dict when the record cannot be
        drawn (the report is then written without it).
    """
    try:
        from matplotlib.figure import Figure

        from simulator.outputs.plots.recommendation import recommendation_paths, recommendation_size

        fig = Figure(figsize=recommendation_size(dict(record)), layout="constrained")
        return {"recommend": _png(recommendation_paths(dict(record), fig))}
    except Exception:  # noqa: BLE001 - a report without plots beats no report
        return {}


def _png(fig: Any) -> tuple[bytes, int, int]:
    """A figure as PNG bytes, no wider than :data:`DISPLAY_INCHES`, with its CSS size."""
    width, height = fig.get_size_inches()
    width = min(width, DISPLAY_INCHES)
    fig.set_size_inches(width, height)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PIXELS_PER_INCH * PIXEL_DENSITY)
    return buffer.getvalue(), round(width * PIXELS_PER_INCH), round(height * PIXELS_PER_INCH)


def as_uris(images: Mapping[str, tuple[bytes, int, int]]) -> dict[str, Picture]:
    """PNG images (as :func:`figure_images` gives them) as ``data:`` URI pictures, for HTML."""
    return {
        name: Picture("data:image/png;base64," + base64.b64encode(png).decode(), w, h)
        for name, (png, w, h) in images.items()
    }


def figure_uris(summary: Mapping[str, Any]) -> dict[str, Picture]:
    """The report's figures (:func:`figure_images`) as ``data:`` URI pictures, for HTML."""
    return as_uris(figure_images(summary))


__all__ = [
    "DISPLAY_INCHES",
    "PIXELS_PER_INCH",
    "PIXEL_DENSITY",
    "as_uris",
    "figure_images",
    "figure_uris",
    "recommendation_images",
]
