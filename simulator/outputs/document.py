"""The full report of a run, in Markdown or self-contained HTML, written for marketers.

:func:`build` turns the result record of :func:`simulator.stats.summary.summarise` into blocks
(:mod:`simulator.outputs.markup`), and :func:`write_report` renders them in the format the file name
asks for. The report opens with short headline bullets per plan in plain words
(:mod:`simulator.outputs.headlines`), then tables per topic (loss and causes, composition bias,
value bias, attribution, KPIs, plan comparisons), each followed by its figure
(:mod:`simulator.outputs.report_figures`), and the method notes. Everything comes from the
record, so a report can be rebuilt from a saved JSON file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simulator.outputs.formatting import (
    count,
    finite,
    number,
    p_value,
    percent,
    percent_range,
    points,
    points_range,
)
from simulator.outputs.headlines import headline_items
from simulator.outputs.markup import (
    SUFFIXES,
    Block,
    Picture,
    report_format,
    to_html,
    to_markdown,
    write_document,
)
from simulator.outputs.opt_out import choice_blocks
from simulator.outputs.report_figures import figure_images, figure_uris
from simulator.outputs.terminal import format_causes


def build(summary: Mapping[str, Any], figures: Mapping[str, str] | None = None) -> list[Block]:
    """Lay out the report of a run as blocks.

    Parameters
    ----------
    summary : mapping
        The record returned by :func:`simulator.stats.summary.summarise` (or read back from JSON).
    figures : mapping of str to Picture, optional
        The figures (``loss``, ``bias``, ``attribution``, ``kpi``, ``dashboard``), each placed
        after its section; see :func:`figure_uris`.

    Returns
    -------
    list of Block
        Title, what was simulated, headlines per plan, tables, method notes.
    """
    figures = figures or {}
    sc = summary.get("scenario", {}) or {}
    run = summary.get("run", {}) or {}
    results = summary.get("results", [])
    plans = list(dict.fromkeys(r["plan"] for r in results))
    reps = sc.get("replications", 1)
    blocks = [Block("h1", f"Tracking loss report: {sc.get('name', '?')}")]
    if sc.get("description"):
        blocks.append(Block("p", sc["description"]))
    volume = ", ".join(
        f"{count(run[k])} {label}"
        for k, label in (("users", "users"), ("visits", "sessions"), ("events", "events"))
        if finite(run.get(k))
    )
    blocks.append(
        Block(
            "p",
            f"Simulated {volume or 'the scenario'}"
            f"{' per replication' if reps and reps > 1 else ''}; {reps} replication"
            f"{'' if reps == 1 else 's'}, root seed {sc.get('seed', '?')}, trackloss "
            f"{summary.get('version', '?')}. Counts are means per replication; every interval "
            "is 95%.",
        )
    )
    blocks += _headline_section(summary, plans)
    blocks += _loss_section(results) + _figure(figures, "loss", "Loss by event type and cause")
    blocks += choice_blocks(summary)
    blocks += _composition_section(results)
    blocks += _figure(figures, "bias", "Shares of true and received events")
    blocks += _value_section(results)
    blocks += _attribution_section(results)
    blocks += _figure(figures, "attribution", "Channel credit, true and received")
    blocks += _kpi_section(summary.get("kpis", []))
    blocks += _figure(figures, "kpi", "Relative bias of each KPI")
    blocks += _comparison_section(summary.get("comparisons", []))
    blocks += _figure(figures, "dashboard", "Overview of the run")
    blocks += _method_section(summary)
    return blocks


def _headline_section(summary: Mapping[str, Any], plans: list[str]) -> list[Block]:
    """A short bullet list per plan; what an earlier plan already said is not repeated.

    Two plans say the same of an event when its row is the same but for the path's name (a
    dual plan delivers events exactly as the server plan does): the later plan refers to the
    earlier one instead of repeating it.
    """
    unnamed = {
        **summary,
        "results": [{**r, "path": "-"} for r in summary.get("results", [])],
    }
    out = [Block("h2", "Headlines")]
    said: dict[str, str] = {}
    for plan in plans:
        items = headline_items(summary, plan)
        keys = headline_items(unnamed, plan)
        new = [s for s, key in zip(items, keys, strict=True) if key not in said]
        same = list(dict.fromkeys(said[key] for key in keys if key in said))
        if same:
            which = f"plan {same[0]}" if len(same) == 1 else f"plans {_and(same)}"
            new.append(f"Everything else as {which}." if new else f"The same as {which}.")
        for key in keys:
            said.setdefault(key, plan)
        out += [Block("h3", f"Plan {plan}"), Block("list", items=new or ["Nothing to report."])]
    return out


def _and(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1]


def _loss_section(results: list) -> list[Block]:
    header = ("plan", "event", "path", "truth", "received", "loss", "95% CI", "top causes",
              "duplicates", "bots")  # fmt: skip
    rows = [
        (r["plan"], r["event"], r.get("path", "?"), count(r.get("truth"), 0),
         count(r.get("received"), 0), percent(r.get("loss")), percent_range(r.get("loss_ci")),
         format_causes(r.get("causes") or {}), count(r.get("duplicates"), 0),
         count(r.get("bots"), 0))
        for r in results
    ]  # fmt: skip
    return [
        Block("h2", "Loss by event type"),
        Block("p", "Loss is the share of true events that never arrived; causes are shares of "
                   "the true count. Duplicates and bots arrive on top of what happened."),
        Block("table", header=header, rows=rows),
    ]  # fmt: skip


def _composition_section(results: list) -> list[Block]:
    out = [
        Block("h2", "Composition bias"),
        Block("p", "Per dimension: total variation distance (TVD) between the mix of received "
                   "and true events, the p-value of the test that loss is independent of the "
                   "dimension, and the category whose share moved most (received minus true, in "
                   "percentage points)."),
    ]  # fmt: skip
    header = ("plan", "dimension", "TVD", "95% CI", "p (loss independent)", "largest shift")
    unchanged = []
    for event in dict.fromkeys(r["event"] for r in results):
        rows: dict[tuple, list[str]] = {}  # identical rows of several plans become one
        for r in (r for r in results if r["event"] == event):
            shifted = [
                (dim, b) for dim, b in (r.get("bias") or {}).items() if (b.get("tvd") or 0) > 0
            ]
            if r.get("bias") and not shifted:
                unchanged.append(f"{event} ({r['plan']})")
            for dim, b in shifted:
                cells = (dim, percent(b.get("tvd"), 2), percent_range(b.get("tvd_ci"), 2),
                         p_value(b.get("p_value")), _largest_shift(b))  # fmt: skip
                rows.setdefault(cells, []).append(r["plan"])
        if rows:
            table = [(", ".join(plans), *cells) for cells, plans in rows.items()]
            order = list(dict.fromkeys(row[1] for row in table))
            table.sort(key=lambda row: order.index(row[1]))  # by dimension, plans side by side
            out += [Block("h3", event), Block("table", header=header, rows=table)]
    if unchanged:
        out.append(
            Block("p", "Received exactly as it happened (nothing lost or added, so no shift): "
                       + ", ".join(unchanged) + ".")
        )  # fmt: skip
    return out


def _largest_shift(record: Mapping[str, Any]) -> str:
    shares = [(c, s) for c, s in record.get("shares", {}).items() if finite(s.get("diff"))]
    if not shares:
        return "-"
    cat, s = max(shares, key=lambda cs: abs(cs[1]["diff"]))
    return (
        f"{cat}: {percent(s['truth'])} → {percent(s['received'])} "
        f"({points(s['diff'])}, 95% CI {points_range(s.get('diff_ci'))})"
    )


def _value_section(results: list) -> list[Block]:
    rows = []
    for r in results:
        v = r.get("value")
        if not v or "mean_truth" not in v:
            continue
        rows.append(
            (r["plan"], r["event"], count(v.get("truth"), 0),
             count(v.get("received"), 0), percent(v.get("total_relative_bias"), 1, True),
             percent_range(v.get("total_relative_bias_ci"), 1, True),
             count(v.get("mean_truth"), 2), count(v.get("mean_received"), 2),
             percent(v.get("mean_relative_bias"), 1, True),
             percent_range(v.get("mean_relative_bias_ci"), 1, True))
        )  # fmt: skip
    if not rows:
        return []
    header = ("plan", "event", "true total", "received total", "total bias", "95% CI",
              "true mean", "received mean", "mean bias", "95% CI")  # fmt: skip
    return [
        Block("h2", "Value bias"),
        Block("p", "Revenue received against revenue that happened. A mean that moves means "
                   "the visitors lost spend differently from those kept."),
        Block("table", header=header, rows=rows),
    ]  # fmt: skip


def _attribution_section(results: list) -> list[Block]:
    rows = []
    for r in results:
        a = r.get("attribution")
        if not a:
            continue
        shifts = sorted(a["channels"].items(), key=lambda cs: -abs(cs[1].get("diff") or 0))
        moved = ", ".join(
            f"{c} {percent(s.get('truth'))} → {percent(s.get('received'))}" for c, s in shifts[:3]
        )
        rows.append((r["plan"], r["event"], percent(a.get("unattributed")),
                     percent_range(a.get("unattributed_ci")), moved or "-"))  # fmt: skip
    if not rows:
        return []
    return [
        Block("h2", "Attribution"),
        Block("p", "Share of conversions credited to each acquisition channel from received "
                   "data (true → received). Deliveries without browser context (UTM, "
                   "referrer) cannot be credited and count as unattributed."),
        Block("table", header=("plan", "event", "unattributed", "95% CI",
                               "largest channel shifts"), rows=rows),
    ]  # fmt: skip


def _kpi_section(kpis: list) -> list[Block]:
    if not kpis:
        return []
    rows = [
        (k["plan"], k["name"], f"{k.get('numerator')} / {k.get('denominator')}",
         ", ".join(k.get("paths") or []), number(k.get("truth")), number(k.get("observed")),
         percent(k.get("relative_bias"), 1, True),
         percent_range(k.get("relative_bias_ci"), 1, True),
         k.get("note") or "")
        for k in kpis
    ]  # fmt: skip
    header = ("plan", "KPI", "definition", "paths", "truth", "recorded", "relative bias",
              "95% CI", "note")  # fmt: skip
    return [
        Block("h2", "KPIs"),
        Block("p", "Each KPI computed from what analytics received under the plan, against "
                   "the truth. A plan that sends the numerator and the denominator by different "
                   "paths divides numbers with different losses."),
        Block("table", header=header, rows=rows),
    ]  # fmt: skip


def _comparison_section(comparisons: list) -> list[Block]:
    if not comparisons:
        return []
    rows = [
        (c["event"], f"{c['plan_a']} ({c.get('path_a', '?')})",
         f"{c['plan_b']} ({c.get('path_b', '?')})", percent(c.get("loss_a")),
         percent(c.get("loss_b")),
         percent(c.get("loss_diff"), 1, True), percent_range(c.get("loss_diff_ci"), 1, True),
         p_value(c.get("p_value")))
        for c in comparisons
    ]  # fmt: skip
    return [
        Block("h2", "Plan comparisons"),
        Block("p", "Loss of plan b minus loss of plan a, on the same simulated visitors."),
        Block("table", header=("event", "plan a", "plan b", "loss a", "loss b", "b − a",
                               "95% CI", "p"), rows=rows),
    ]  # fmt: skip


def _method_section(summary: Mapping[str, Any]) -> list[Block]:
    labels = {
        "loss": "Loss intervals",
        "composition": "Composition shares",
        "mcar_test": "Loss-independence test",
        "value": "Value bias",
        "attribution": "Attribution",
        "kpis": "KPIs",
        "comparisons": "Plan comparisons",
    }
    methods = summary.get("methods") or {"loss": summary.get("interval_method", "-")}
    items = [f"{labels.get(k, k)}: {v}." for k, v in methods.items()]
    items += [
        "Truth is every human event that happened; received is what analytics shows: "
        "delivered events plus the duplicates and bot events the collector kept.",
        "Intervals from one replication treat events as independent; a blocked visitor loses "
        "all their events together, so run several replications for honest intervals.",
        "TVD is at least zero, so with small samples it is biased upward; judge whether any "
        "shift exists by the p-value. With few replications the loss-independence test has "
        "little power.",
    ]
    return [Block("h2", "Methods"), Block("list", items=items)]


def _figure(figures: Mapping[str, Picture], name: str, caption: str) -> list[Block]:
    return [Block("figure", caption, picture=figures[name])] if name in figures else []


def render(
    summary: Mapping[str, Any], fmt: str, plots: bool = True, pictures: Mapping | None = None
) -> str:
    """The report of ``summary`` as ``"markdown"`` or ``"html"`` text.

    Parameters
    ----------
    summary : mapping
        The result record.
    fmt : str
        ``"markdown"`` or ``"html"``.
    plots : bool
        Embed the standard plots in HTML.
    pictures : mapping of str to Picture, optional
        Figures to link from Markdown (image files written beside it, see :func:`write_report`);
        without them Markdown has no figures.
    """
    if fmt == "html":
        return to_html(build(summary, figure_uris(summary) if plots else None))
    return to_markdown(build(summary, pictures))


def write_report(summary: Mapping[str, Any], path: str | Path) -> Path:
    """Write the report to ``path``: Markdown for ``.md``, HTML for ``.html``.

    HTML is one self-contained file. Markdown links its figures, written beside it as
    ``<name>-<figure>.png`` (for ``report.md``: ``report-loss.png``, ...).

    Parameters
    ----------
    summary : mapping
        The record returned by :func:`simulator.stats.summary.summarise`.
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
        lambda: render(summary, "html"),
        lambda pictures: render(summary, "markdown", pictures=pictures),
        lambda: figure_images(summary),
    )


__all__ = [
    "SUFFIXES",
    "build",
    "render",
    "report_format",
    "write_report",
]
