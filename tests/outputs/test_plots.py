"""Plot functions on bare ``Figure()`` objects: what is drawn equals what the record says."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure
from support.record_factories import DIMENSIONS, small_record, with_bias

from simulator.outputs import plots
from simulator.outputs.formatting import CAUSE_WORDS, percent, share
from simulator.outputs.plots.records import RecordError, category_error, row_of

matplotlib.use("Agg")


def new_ax():
    return Figure().add_subplot()


def bars(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def errorbars(ax) -> list[ErrorbarContainer]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def error_segments(container: ErrorbarContainer) -> np.ndarray:
    """(n, 2, 2) array of the error bars' end points."""
    return np.array(container.lines[2][0].get_segments())


@pytest.fixture
def record() -> dict:
    return small_record()


@pytest.fixture
def biased() -> dict:
    return with_bias(small_record())


# --------------------------------------------------------------------------- loss


def test_loss_bars_stack_each_cause_and_carry_the_loss_interval(record):
    ax = plots.loss_by_event(record, new_ax())
    rows = [row_of(record, p, e) for e in plots_events(record) for p in ("client", "server")]
    causes = [c for c in plots.style.CAUSE_ORDER if any(r["causes"].get(c) for r in rows)]
    stacks = bars(ax)
    assert [c.get_label() for c in stacks] == causes
    heights = np.array([[p.get_height() for p in c.patches] for c in stacks])
    for i, row in enumerate(rows):
        assert heights[:, i] == pytest.approx([row["causes"].get(c, 0.0) for c in causes])
    (ci,) = errorbars(ax)
    assert ci.get_label() == "95% CI"
    seg = error_segments(ci)
    assert seg[:, 0, 1] == pytest.approx([r["loss_ci"][0] for r in rows])
    assert seg[:, 1, 1] == pytest.approx([r["loss_ci"][1] for r in rows])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["client", "server"] * len(
        plots_events(record)
    )
    assert "%" in ax.get_ylabel()
    assert ax.get_legend() is not None


def plots_events(record) -> list[str]:
    return list(dict.fromkeys(r["event"] for r in record["results"]))


def test_loss_subsets_and_bad_names(record):
    ax = plots.loss_by_event(record, new_ax(), plans=["server"], events=["page_viewed"])
    assert len(error_segments(errorbars(ax)[0])) == 1
    with pytest.raises(RecordError, match=r"unknown event 'nope' \(allowed: session_started"):
        plots.loss_by_event(record, new_ax(), events=["nope"])
    with pytest.raises(RecordError, match="no 'results'"):
        plots.loss_by_event({"results": []}, new_ax())


def test_over_count_is_on_its_own_scale_and_the_loss_axis_starts_at_zero(record):
    row = row_of(record, "server", "page_viewed")
    row["bots"], row["received"] = 100.0, row["delivered"] + 100.0
    row["net_error"] = row["received"] / row["truth"] - 1
    ax = plots.loss_by_event(record, new_ax(), events=["page_viewed"])
    assert not [line for line in ax.lines if line.get_marker() == "D"]
    (right,) = [other for other in ax.figure.axes if other is not ax]
    (marker,) = [line for line in right.lines if line.get_marker() == "D"]
    assert marker.get_ydata() == pytest.approx([row["net_error"]])
    assert marker.get_ydata()[0] > 0 and right.get_ylim()[0] == 0.0
    assert ax.get_ylim()[0] == 0.0, "over-count no longer drags the loss axis below zero"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("right scale" in t for t in legend)


def test_thin_causes_are_listed_with_their_largest_share(record):
    ax = plots.loss_by_event(record, new_ax())
    rows = record["results"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    for container in bars(ax):
        cause = container.get_label()
        top = max(r["causes"].get(cause, 0.0) for r in rows if r["loss"] is not None)
        (entry,) = [t for t in legend if t.startswith(CAUSE_WORDS[cause])]
        assert entry.endswith(f"(max {share(top)})")


def test_a_zero_bar_is_told_apart_from_a_cell_without_data(record):
    server = row_of(record, "server", "page_viewed")
    server["loss"], server["loss_ci"] = 0.0, [0.0, 0.0]
    server["causes"] = {c: 0.0 for c in server["causes"]}
    client = row_of(record, "client", "page_viewed")
    client["loss"], client["loss_ci"] = None, None
    ax = plots.loss_by_event(record, new_ax(), events=["page_viewed"])
    texts = {t.get_text(): t.get_position()[0] for t in ax.texts}
    ticks = {t.get_text(): x for t, x in zip(ax.get_xticklabels(), ax.get_xticks(), strict=True)}
    assert texts == {"no data": ticks["client"], "0": ticks["server"]}


def test_new_figure_when_no_axes_given(record):
    import matplotlib.pyplot as plt

    ax = plots.loss_by_event(record)
    assert ax.figure is not None
    plt.close(ax.figure)


# --------------------------------------------------------------------------- composition


def dots(container: ErrorbarContainer) -> np.ndarray:
    """x of each dot of a horizontal dot plot."""
    return np.asarray(container.lines[0].get_xdata())


def test_composition_dots_are_received_minus_true_with_the_interval_of_that_difference(biased):
    ax = plots.composition_bias(biased, "page_viewed", "channel", new_ax())
    assert not bars(ax), "a dot plot, not share bars"
    categories = DIMENSIONS["channel"]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert [t.split(" (true")[0] for t in ticks] == categories
    containers = errorbars(ax)
    assert [c.get_label().split("\n")[0] for c in containers] == ["client", "server"]
    for plan, ci in zip(("client", "server"), containers, strict=True):
        shares = row_of(biased, plan, "page_viewed")["bias"]["channel"]["shares"]
        assert dots(ci) == pytest.approx(
            [shares[c]["received"] - shares[c]["truth"] for c in categories]
        )
        seg = error_segments(ci)
        assert seg[:, 0, 0] == pytest.approx([shares[c]["diff_ci"][0] for c in categories])
        assert seg[:, 1, 0] == pytest.approx([shares[c]["diff_ci"][1] for c in categories])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "TVD" in legend[0] and "p = " in legend[0]
    assert "points" in ax.get_xlabel() and ax.get_ylabel() == "channel"
    low, high = ax.get_xlim()
    assert low == pytest.approx(-high), "over- and under-representation on one scale"


def test_composition_defaults_to_the_clearest_bias_and_rejects_unknown_names(biased):
    event, dimension = plots.default_focus(biased)
    assert dimension == "channel"  # the larger shift in record_factories
    ax = plots.composition_bias(biased, ax=new_ax())
    assert ax.get_ylabel() == dimension and event in ax.get_title()
    with pytest.raises(RecordError, match=r"unknown dimension for page_viewed 'planet'"):
        plots.composition_bias(biased, "page_viewed", "planet", new_ax())
    with pytest.raises(RecordError, match="no composition bias"):
        plots.composition_bias(small_record_without_bias(), ax=new_ax())


def small_record_without_bias() -> dict:
    record = small_record()
    for row in record["results"]:
        row.pop("bias", None)
        row.pop("attribution", None)
    return record


def test_category_error_turns_shares_into_per_segment_loss(biased):
    out = category_error(biased, "client", "page_viewed", "device")
    row = row_of(biased, "client", "page_viewed")
    for c in out:
        expected = c["received_share"] * row["received"] / (c["truth_share"] * row["truth"]) - 1
        assert c["error"] == pytest.approx(expected)
    assert [c["category"] for c in out] == DIMENSIONS["device"]


def test_attribution_adds_the_unattributed_share(biased):
    ax = plots.attribution_bias(biased, ax=new_ax())
    containers = errorbars(ax)
    assert [c.get_label() for c in containers] == ["client", "server"]
    labels = [t.get_text().split(" (true")[0] for t in ax.get_yticklabels()]
    assert labels == [*DIMENSIONS["channel"], "(unattributed)"]
    server = row_of(biased, "server", "order_completed")["attribution"]
    assert dots(containers[1])[-1] == pytest.approx(server["unattributed"])  # true share is 0
    channels = server["channels"]
    assert dots(containers[1])[:-1] == pytest.approx(
        [channels[c]["received"] - channels[c]["truth"] for c in DIMENSIONS["channel"]]
    )
    seg = error_segments(containers[1])
    assert seg[-1, :, 0] == pytest.approx(server["unattributed_ci"])
    with pytest.raises(RecordError, match="no attribution"):
        plots.attribution_bias(small_record_without_bias(), ax=new_ax())


# --------------------------------------------------------------------------- KPI


def test_kpi_bars_are_relative_biases_with_intervals_and_a_zero_line(biased):
    for k in biased["kpis"]:  # what each KPI divides, as a real record says
        k["numerator"], k["denominator"] = {
            "conversion_rate": ("order_completed", "sessions"),
            "average_order_value": ("value:order_completed", "order_completed"),
            "cart_to_order_rate": ("order_completed", "added_to_cart"),
        }[k["name"]]
    ax = plots.kpi_bias(biased, new_ax())
    containers = bars(ax)
    assert [c.get_label() for c in containers] == ["client", "server"]
    names = ["conversion_rate", "average_order_value", "cart_to_order_rate"]
    for plan, container, ci in zip(("client", "server"), containers, errorbars(ax), strict=True):
        kpis = {k["name"]: k for k in biased["kpis"] if k["plan"] == plan}
        assert [p.get_width() for p in container.patches] == pytest.approx(
            [kpis[n]["relative_bias"] for n in names]
        )
        seg = error_segments(ci)
        assert seg[:, 0, 0] == pytest.approx([kpis[n]["relative_bias_ci"][0] for n in names])
        assert seg[:, 1, 0] == pytest.approx([kpis[n]["relative_bias_ci"][1] for n in names])
    assert any(list(line.get_xdata()) == [0, 0] for line in ax.lines), "zero line"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert [t.split("\n")[0] for t in labels] == [n.replace("_", " ") for n in names]
    truth = {k["name"]: k["truth"] for k in biased["kpis"]}
    assert labels[0].endswith(f"(true {percent(truth['conversion_rate'], 2)})")
    assert labels[1].endswith(f"(true {truth['average_order_value']:,.2f} per order completed)")
    assert "%" in ax.get_xlabel()
    assert biased["scenario"]["name"] in ax.get_title()


def test_a_kpi_without_bias_says_so(biased):
    row = next(k for k in biased["kpis"] if k["plan"] == "server")
    row["relative_bias"], row["relative_bias_ci"] = 0.0, [0.0, 0.0]
    zeros = [k for k in biased["kpis"] if k["relative_bias"] == 0]
    ax = plots.kpi_bias(biased, new_ax())
    assert [t.get_text() for t in ax.texts] == ["0 (no bias)"] * len(zeros)
    assert [t.xy for t in ax.texts][0][0] == 0.0


def test_kpi_needs_kpis(record):
    with pytest.raises(RecordError, match="no KPIs"):
        plots.kpi_bias({**record, "kpis": []}, new_ax())


# --------------------------------------------------------------------------- dashboard


def dashboard_titles(fig: Figure) -> list:
    """The loss Axes' title and the lower panels' titles (over their half of the page)."""
    lower = fig.subfigs[1].subfigs
    return [fig.axes[0].title, *(panel._suptitle for panel in lower)]


def test_dashboard_has_loss_bias_and_kpi_panels(biased):
    fig = plots.dashboard(biased, Figure(figsize=(16, 10)))
    titles = [t.get_text() for t in dashboard_titles(fig)]
    assert len(fig.axes) == 3
    assert titles[0].startswith("Events lost per plan")
    assert titles[1].startswith("Who is over- and under") and titles[2].startswith("KPIs")
    assert "replications" in fig.get_suptitle()


@pytest.mark.parametrize(("drawn", "shown"), [(12, 12), (16, 16), (16, 12)])
def test_dashboard_titles_stay_on_the_page(biased, drawn, shown):
    """Also when a figure drawn 16 inches wide is shown at 12, as a page narrower than it does."""
    fig = plots.dashboard(biased, Figure(figsize=(drawn, 10.5)))
    fig.set_size_inches(shown, 10.5)
    fig.draw_without_rendering()
    page = fig.bbox
    for text in [*dashboard_titles(fig), fig._suptitle]:
        box = text.get_window_extent()
        assert page.x0 <= box.x0 and box.x1 <= page.x1, (text.get_text(), box, page)


def test_dashboard_says_what_an_older_record_lacks():
    fig = plots.dashboard(small_record_without_bias() | {"kpis": []}, Figure())
    texts = [t.get_text() for ax in fig.axes[1:] for t in ax.texts]
    assert any("No composition bias" in t for t in texts)
    assert any("No KPI bias" in t for t in texts)


def test_standard_plots_are_written_in_the_requested_format(biased, tmp_path):
    written = plots.write_standard_plots(biased, tmp_path / "plots", "svg")
    assert [p.name for p in written] == ["loss.svg", "bias.svg", "kpi.svg", "dashboard.svg"]
    for path in written:
        assert b"<svg" in path.read_bytes()[:500]
    with pytest.raises(ValueError, match="fmt must be one of"):
        plots.write_standard_plots(biased, tmp_path, "gif")


def test_standard_figures_render_to_bytes_for_embedding(biased):
    figures = plots.standard_figures(biased)
    assert list(figures) == ["loss", "bias", "kpi", "dashboard"]
    assert plots.figure_bytes(figures["kpi"], "png").startswith(b"\x89PNG")
    assert b"<svg" in plots.figure_bytes(figures["loss"])[:500]
    assert list(plots.standard_figures(small_record_without_bias() | {"kpis": []})) == [
        "loss",
        "dashboard",
    ]


def test_bias_plots_draw_a_real_records_numbers(record):
    """The record of a real run carries bias and KPI keys; the plots draw exactly its numbers."""
    assert plots.records.has_bias(record) and record["kpis"]
    event, dimension = plots.default_focus(record)
    ax = plots.composition_bias(record, event, dimension, new_ax())
    for container in errorbars(ax):
        plan = container.get_label().split("\n")[0]
        shares = row_of(record, plan, event)["bias"][dimension]["shares"]
        assert dots(container) == pytest.approx(
            [s["received"] - s["truth"] for s in shares.values()]
        )
    ax = plots.kpi_bias(record, new_ax())
    for container in bars(ax):
        drawn = [k for k in record["kpis"] if k["plan"] == container.get_label()]
        expected = [k["relative_bias"] for k in drawn if k["relative_bias"] is not None]
        assert [p.get_width() for p in container.patches] == pytest.approx(expected)
    ax = plots.attribution_bias(record, ax=new_ax())
    assert ax.get_yticklabels()[-1].get_text().startswith("(unattributed)")
    fig = plots.dashboard(record, Figure(figsize=(16, 10)))
    placeholders = [
        t for ax in fig.axes[1:] for t in ax.texts if "in this result record" in t.get_text()
    ]
    assert len(fig.axes) == 3 and placeholders == []
