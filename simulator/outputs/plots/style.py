"""Colours, hatches and axes helpers shared by every plot.

Colours come from the Okabe–Ito palette (safe for the common colour-vision deficiencies), and
every colour is paired with a hatch pattern, a marker or a line style, so that a plot printed in
grayscale still tells its series apart. Plans always get the same style in every plot of a
record, and loss causes always get the same style in every loss chart.
"""

from __future__ import annotations

import textwrap

from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, PercentFormatter
from matplotlib.transforms import offset_copy

from simulator.model.tally import CAUSES

OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
"""Okabe & Ito (2008) colour-blind-safe palette, most distinct colours first."""

HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "--", "++", "**", "||")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))

TITLE_CHARS_PER_INCH = 9.5
"""Characters of a title (12 pt) that fit in an inch, a little under the average, for wrapping."""
CAUSE_ORDER = (*CAUSES, "pending")
"""Loss causes in the order they are stacked (the result record's cause names)."""

_CAUSE_COLOURS = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#999999",
    "#FFFFFF",
    "#000000",
)
_CAUSE_HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "--", "++", "**", "")

TRUTH_STYLE = {"facecolor": "white", "edgecolor": "black", "hatch": "...."}
"""How the true value is drawn next to what a plan received."""


def cause_style(cause: str) -> dict:
    """Bar style (``color``, ``hatch``, ``edgecolor``) of a loss cause.

    Parameters
    ----------
    cause : str
        A cause name from the result record; unknown names get a gray style.

    Returns
    -------
    dict
        Keyword arguments for :meth:`matplotlib.axes.Axes.bar`.
    """
    if cause in CAUSE_ORDER:
        i = CAUSE_ORDER.index(cause)
        return {"color": _CAUSE_COLOURS[i], "hatch": _CAUSE_HATCHES[i], "edgecolor": "black"}
    return {"color": "#BBBBBB", "hatch": "", "edgecolor": "black"}


def series_style(index: int) -> dict:
    """Colour, hatch, marker and line style of the ``index``-th series (a plan, a transport).

    Parameters
    ----------
    index : int
        Position of the series (0, 1, 2, ...); styles repeat after eight.

    Returns
    -------
    dict
        ``color``, ``hatch``, ``marker`` and ``linestyle``.
    """
    return {
        "color": OKABE_ITO[index % len(OKABE_ITO)],
        "hatch": HATCHES[index % len(HATCHES)],
        "marker": MARKERS[index % len(MARKERS)],
        "linestyle": LINESTYLES[index % len(LINESTYLES)],
    }


def bar_style(index: int) -> dict:
    """Keyword arguments for :meth:`~matplotlib.axes.Axes.bar` for the ``index``-th series."""
    s = series_style(index)
    return {"facecolor": s["color"], "hatch": s["hatch"], "edgecolor": "black", "linewidth": 0.6}


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """Return ``ax``, or the Axes of a new pyplot figure of ``figsize`` inches.

    A pyplot figure (rather than a bare :class:`~matplotlib.figure.Figure`) is made when no Axes
    is given so that notebooks display it; the command line always passes its own Axes.
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # only here: the command line never loads pyplot

    fig = plt.figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def plain(text: object) -> str:
    r"""``text`` as matplotlib should print it, literally: a ``$`` never starts mathtext.

    Every name that comes from a scenario (plan, event, category, KPI, scenario name) goes
    through this before it becomes a label, so ``revenue_$ vs cost_$`` prints as written.

    Examples
    --------
    >>> plain("revenue_$ vs cost_$")
    'revenue_\\$ vs cost_\\$'
    """
    return str(text).replace("$", r"\$")


def words(name: object) -> str:
    """A snake_case name in words, for a reader (``conversion_rate`` -> ``conversion rate``)."""
    return plain(str(name).replace("_", " "))


def title(ax: Axes, text: str, **kwargs) -> None:
    """Set ``ax``'s title, wrapped to the width of the axes so that it is never clipped.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    text : str
        The title, already escaped with :func:`plain` where it holds names.
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.set_title`.
    """
    inches = ax.get_window_extent().width / ax.get_figure(root=True).dpi
    ax.set_title(wrap_text(text, max(24, int(TITLE_CHARS_PER_INCH * inches))), **kwargs)


def wrap_text(text: str, width: int) -> str:
    """Wrap each line of ``text`` to ``width`` characters, at spaces only (never at hyphens)."""
    return "\n".join(
        textwrap.fill(line, width, break_on_hyphens=False) for line in text.split("\n")
    )


def points_axis(ax: Axes, axis: str = "x") -> None:
    """Show differences of fractions on ``axis`` in signed percentage points (0.01 -> +1)."""
    fmt = FuncFormatter(lambda v, _: "0" if abs(v) < 1e-12 else f"{100 * v:+.3g}")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)


def percent_axis(ax: Axes, axis: str = "y", decimals: int | None = None) -> None:
    """Show fractions on ``axis`` (``"x"`` or ``"y"``) as percentages (0.05 -> 5%)."""
    fmt = PercentFormatter(xmax=1.0, decimals=decimals)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def legend_beside(ax: Axes, title: str, handles=None, labels=None, pad: float = 0.0) -> None:
    """Put the legend to the right of the axes, small and frameless, with ``title``.

    ``handles`` default to the axes' own; ``labels`` default to the handles' labels; ``pad``
    moves the legend further right by that many points (past a right-hand axis).
    """
    if handles is None:
        handles, _ = ax.get_legend_handles_labels()
    if labels is None:
        labels = [h.get_label() for h in handles]
    anchor = offset_copy(ax.transAxes, fig=ax.figure, x=pad + 4.0, y=0.0, units="points")
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0),
              bbox_transform=anchor, frameon=False, fontsize="small", title=title,
              title_fontsize="small")  # fmt: skip


def group_offsets(n: int, width: float = 0.8) -> tuple[list[float], float]:
    """Offsets of ``n`` bars side by side in a group ``width`` wide, and the width of each."""
    bar = width / max(n, 1)
    return [(i - (n - 1) / 2) * bar for i in range(n)], bar
