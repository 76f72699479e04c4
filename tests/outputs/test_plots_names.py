"""Names from a scenario are printed as written, and titles fit: no mathtext, no clipping.

A ``$`` in a plan, event or scenario name used to start matplotlib's mathtext and crash the
plot (after the whole simulation had run). Every plot now escapes names before they become
labels, so the figures render and show the name literally.
"""

from __future__ import annotations

import io

import matplotlib
import pytest
from matplotlib.figure import Figure
from support.record_factories import small_record, with_bias

from simulator.outputs import plots
from simulator.outputs.plots.style import plain, title, words

matplotlib.use("Agg")

HOSTILE = "revenue_$ vs cost_$"


def renamed(record: dict, old: str, new: str) -> dict:
    """``record`` with plan ``old`` renamed ``new`` everywhere a plan is named."""
    for row in record["results"]:
        if row["plan"] == old:
            row["plan"] = new
    for row in record.get("kpis") or []:
        if row["plan"] == old:
            row["plan"] = new
    record["scenario"]["name"] = f"{HOSTILE} scenario"
    return record


def render(fig: Figure) -> None:
    """Draw the figure as PNG: where a mathtext error would be raised."""
    fig.savefig(io.BytesIO(), format="png", dpi=40)


@pytest.fixture(scope="module")
def hostile() -> dict:
    return renamed(with_bias(small_record()), "client", HOSTILE)


@pytest.mark.parametrize(
    "draw",
    [
        lambda r, ax: plots.loss_by_event(r, ax),
        lambda r, ax: plots.composition_bias(r, "page_viewed", "channel", ax),
        lambda r, ax: plots.attribution_bias(r, ax=ax),
        lambda r, ax: plots.kpi_bias(r, ax),
        lambda r, ax: plots.sweep_curves([("xhr", r), ("fetch", r)], ax, event="page_viewed"),
    ],
    ids=["loss", "bias", "attribution", "kpi", "sweep"],
)
def test_a_dollar_in_a_plan_name_renders_literally(hostile, draw):
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = draw(hostile, fig.add_subplot())
    render(fig)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    texts += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    assert any(t.startswith(plain(HOSTILE)) for t in texts), "the plan is named"
    assert not any(HOSTILE in t for t in texts), "never passed to mathtext unescaped"


def test_the_dashboard_and_standard_figures_render_with_a_dollar_name(hostile):
    for fig in plots.standard_figures(hostile).values():
        render(fig)
    assert plain(HOSTILE) in plots.standard_figures(hostile)["loss"].axes[0].get_title()


def test_plain_and_words():
    assert plain("a$b$") == r"a\$b\$"
    assert words("conversion_rate") == "conversion rate"
    assert words("cost_$") == r"cost \$"


def test_a_long_title_is_wrapped_to_the_axes_width():
    fig = Figure(figsize=(4, 3), layout="constrained")
    ax = fig.add_subplot()
    text = "Who is over- and under-represented: a_rather_long_event_name by acquisition channel"
    title(ax, text)
    assert "\n" in ax.get_title() and ax.get_title().replace("\n", " ") == text
    render(fig)
    box = ax.title.get_window_extent()
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width, "the title fits the figure"
