"""The full report of a run, in Markdown or self-contained HTML, written for marketers.

:func:`build` turns the result record of :func:`simulator.results.summarise` into a list of
blocks (headings, paragraphs, tables, lists); :func:`to_markdown` and :func:`to_html` render
them, and :func:`write_report` picks the format from the file name. The report opens with a
headline paragraph per plan in plain words, then tables per topic (loss and causes, composition
bias, value bias, attribution, KPIs, plan comparisons) and the method notes. Everything comes
from the record, so a report can be rebuilt from a saved JSON file.
"""

from __future__ import annotations

import html
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.report import format_causes, format_count

CAUSE_WORDS = {
    "blocked": "ad and privacy blockers",
    "unload": "page unloads",
    "network": "network failures",
    "queue_full": "a full server queue",
    "retries_exhausted": "exhausted retries",
    "process_exit": "server restarts",
    "never_returned": "visitors who never came back to resend",
    "no_javascript": "visitors without JavaScript",
    "withheld": "respecting visitors' opt-outs",
    "pending": "events still in flight at the end",
}
NARRATED_DIMENSIONS = ("device", "browser", "country", "channel")
"""Dimensions a headline may name a shift in (blocker kind is the cause, not news)."""
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


@dataclass
class Block:
    """One piece of a report: ``kind`` is h1, h2, h3, p, list or table."""

    kind: str
    text: str = ""
    items: list[str] = field(default_factory=list)
    header: Sequence[str] = ()
    rows: list[Sequence[str]] = field(default_factory=list)


# --------------------------------------------------------------------------- formatting


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def pct(x: Any, digits: int = 1, sign: bool = False) -> str:
    """A fraction as a percentage (``0.182`` -> ``18.2%``); ``-`` when unknown."""
    if not _finite(x):
        return "-"
    text = f"{100 * x + 0.0:{'+' if sign else ''}.{digits}f}"
    return text + "%"


def pct_range(ci: Any, digits: int = 1, sign: bool = False) -> str:
    """A ``[low, high]`` interval as ``17.9–18.5%``, or ``-1.6% to +0.4%`` when signed."""
    if not isinstance(ci, Sequence) or len(ci) != 2 or not all(_finite(v) for v in ci):
        return "-"
    if sign or min(ci) < 0:
        return f"{pct(ci[0], digits, sign)} to {pct(ci[1], digits, sign)}"
    return f"{pct(ci[0], digits)[:-1]}–{pct(ci[1], digits)}"


def p_text(p: Any) -> str:
    """A p-value for a table (``<0.001`` below a thousandth)."""
    if not _finite(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _excludes_zero(ci: Any) -> bool:
    return (
        isinstance(ci, Sequence)
        and len(ci) == 2
        and all(_finite(v) for v in ci)
        and (ci[0] > 0 or ci[1] < 0)
    )


# --------------------------------------------------------------------------- headlines


def _key_events(summary: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> list[str]:
    """Events worth a sentence: sessions, page views, conversions, mission-critical, worst."""
    config = summary.get("scenario", {}).get("config", {}) or {}
    declared = {e.get("name"): e for e in config.get("events", [])}
    funnel = [n for n, e in declared.items() if e.get("kind") == "funnel"]
    wanted = []
    for name, e in declared.items():
        if (
            e.get("kind") in ("session_start", "page_view")
            or e.get("has_value")
            or e.get("mission_critical")
            or (funnel and name == funnel[-1])
        ):
            wanted.append(name)
    lossy = [r for r in rows if _finite(r.get("loss"))]
    if lossy:
        worst = max(lossy, key=lambda r: r["loss"])
        if worst["loss"] > 0 and worst["event"] not in wanted:
            wanted.append(worst["event"])
    present = [r["event"] for r in rows]
    return [n for n in present if n in wanted] or present[:3]


def event_sentence(row: Mapping[str, Any]) -> str:
    """One plain sentence on an event under a plan: loss with its interval, cause, over-count."""
    name, path = row.get("event", "?"), row.get("path", "?")
    loss = row.get("loss")
    if not _finite(loss):
        return f"{name}: never happened in the simulation."
    causes = row.get("causes") or {}
    ci = pct_range(row.get("loss_ci"))
    if loss <= 0:
        text = f"{name}: nothing lost on the {path} path"
    elif loss < 0.0005:
        text = f"{name}: almost nothing lost on the {path} path (under 0.1%, 95% CI {ci})"
    else:
        text = f"{name}: {pct(loss)} lost on the {path} path (95% CI {ci})"
    if loss > 0 and causes:
        top = max(causes, key=lambda c: causes[c])
        text += f", mostly to {CAUSE_WORDS.get(top, top)}"
    truth = row.get("truth") or 0
    extra = (row.get("bots") or 0) + (row.get("duplicates") or 0)
    if truth > 0 and extra / truth >= 0.005:
        parts = []
        if row.get("bots"):
            parts.append(f"bots {pct(row['bots'] / truth)}")
        if row.get("duplicates"):
            parts.append(f"duplicates {pct(row['duplicates'] / truth)}")
        text += f"; analytics also counts {pct(extra / truth)} extra ({', '.join(parts)})"
    return text + "."


def kpi_sentence(row: Mapping[str, Any]) -> str | None:
    """Say how wrong a recorded KPI is, when its interval excludes zero."""
    bias, ci = row.get("relative_bias"), row.get("relative_bias_ci")
    if not _finite(bias) or not _excludes_zero(ci):
        return None
    name = str(row.get("name", "?")).replace("_", " ")
    way = "too high" if bias > 0 else "too low"
    return f"The recorded {name} is {pct(abs(bias))} {way} (95% CI {pct_range(ci, sign=True)})."


def shift_sentence(row: Mapping[str, Any]) -> str | None:
    """Name the largest clear composition shift of an event among the narrated dimensions."""
    best = None
    for dim in NARRATED_DIMENSIONS:
        record = (row.get("bias") or {}).get(dim)
        if not record:
            continue
        for cat, s in record.get("shares", {}).items():
            if _finite(s.get("diff")) and _excludes_zero(s.get("diff_ci")):
                if best is None or abs(s["diff"]) > abs(best[2]["diff"]):
                    best = (dim, cat, s)
    if best is None or abs(best[2]["diff"]) < 0.001:
        return None
    dim, cat, s = best
    way = "over" if s["diff"] > 0 else "under"
    return (
        f"Among {row['event']} events received, {cat} ({dim}) is {way}-represented: "
        f"{pct(s['received'])} of received against {pct(s['truth'])} of true events."
    )


def headline(summary: Mapping[str, Any], plan: str) -> str:
    """The plain-words paragraph for one plan."""
    rows = [r for r in summary.get("results", []) if r.get("plan") == plan]
    by_event = {r["event"]: r for r in rows}
    parts = [event_sentence(by_event[e]) for e in _key_events(summary, rows)]
    for k in summary.get("kpis", []):
        if k.get("plan") == plan and (s := kpi_sentence(k)):
            parts.append(s)
    firsts = [r for r in rows if r["event"] in _key_events(summary, rows)]
    for r in firsts[:1]:
        if s := shift_sentence(r):
            parts.append(s)
    return " ".join(parts)


# --------------------------------------------------------------------------- the document


def build(summary: Mapping[str, Any]) -> list[Block]:
    """Lay out the report of a run as blocks.

    Parameters
    ----------
    summary : mapping
        The record returned by :func:`simulator.results.summarise` (or read back from JSON).

    Returns
    -------
    list of Block
        Title, what was simulated, headlines per plan, tables, method notes.
    """
    sc = summary.get("scenario", {}) or {}
    run = summary.get("run", {}) or {}
    results = summary.get("results", [])
    plans = list(dict.fromkeys(r["plan"] for r in results))
    reps = sc.get("replications", 1)
    blocks = [Block("h1", f"Tracking loss report: {sc.get('name', '?')}")]
    if sc.get("description"):
        blocks.append(Block("p", sc["description"]))
    volume = ", ".join(
        f"{format_count(run[k])} {label}"
        for k, label in (("users", "users"), ("visits", "sessions"), ("events", "events"))
        if _finite(run.get(k))
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
    blocks.append(Block("h2", "Headlines"))
    for plan in plans:
        blocks.append(Block("p", f"**Plan {plan}.** {headline(summary, plan)}"))
    blocks += _loss_section(results)
    blocks += _composition_section(results)
    blocks += _value_section(results)
    blocks += _attribution_section(results)
    blocks += _kpi_section(summary.get("kpis", []))
    blocks += _comparison_section(summary.get("comparisons", []))
    blocks += _method_section(summary)
    return blocks


def _loss_section(results: list) -> list[Block]:
    header = ("plan", "event", "path", "truth", "received", "loss", "95% CI", "top causes",
              "duplicates", "bots")  # fmt: skip
    rows = [
        (r["plan"], r["event"], r.get("path", "?"), format_count(r.get("truth"), 0),
         format_count(r.get("received"), 0), pct(r.get("loss")), pct_range(r.get("loss_ci")),
         format_causes(r.get("causes") or {}), format_count(r.get("duplicates"), 0),
         format_count(r.get("bots"), 0))
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
        rows = []
        for r in (r for r in results if r["event"] == event):
            shifted = [
                (dim, b) for dim, b in (r.get("bias") or {}).items() if (b.get("tvd") or 0) > 0
            ]
            if r.get("bias") and not shifted:
                unchanged.append(f"{event} ({r['plan']})")
            for dim, b in shifted:
                rows.append((r["plan"], dim, pct(b.get("tvd"), 2), pct_range(b.get("tvd_ci"), 2),
                             p_text(b.get("p_value")), _largest_shift(b)))  # fmt: skip
        if rows:
            out += [Block("h3", event), Block("table", header=header, rows=rows)]
    if unchanged:
        out.append(
            Block("p", "Received exactly as it happened (nothing lost or added, so no shift): "
                       + ", ".join(unchanged) + ".")
        )  # fmt: skip
    return out


def _largest_shift(record: Mapping[str, Any]) -> str:
    shares = [(c, s) for c, s in record.get("shares", {}).items() if _finite(s.get("diff"))]
    if not shares:
        return "-"
    cat, s = max(shares, key=lambda cs: abs(cs[1]["diff"]))
    return (
        f"{cat}: {pct(s['truth'])} → {pct(s['received'])} "
        f"({pct(s['diff'], 1, True)[:-1]} pts, CI {pct_range(s.get('diff_ci'), 1, True)[:-1]})"
    )


def _value_section(results: list) -> list[Block]:
    rows = []
    for r in results:
        v = r.get("value")
        if not v or "mean_truth" not in v:
            continue
        rows.append(
            (r["plan"], r["event"], format_count(v.get("truth"), 0),
             format_count(v.get("received"), 0), pct(v.get("total_relative_bias"), 1, True),
             pct_range(v.get("total_relative_bias_ci"), 1, True),
             format_count(v.get("mean_truth"), 2), format_count(v.get("mean_received"), 2),
             pct(v.get("mean_relative_bias"), 1, True),
             pct_range(v.get("mean_relative_bias_ci"), 1, True))
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
            f"{c} {pct(s.get('truth'))} → {pct(s.get('received'))}" for c, s in shifts[:3]
        )
        rows.append((r["plan"], r["event"], pct(a.get("unattributed")),
                     pct_range(a.get("unattributed_ci")), moved or "-"))  # fmt: skip
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
         ", ".join(k.get("paths") or []), _number(k.get("truth")), _number(k.get("observed")),
         pct(k.get("relative_bias"), 1, True), pct_range(k.get("relative_bias_ci"), 1, True),
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


def _number(x: Any) -> str:
    if not _finite(x):
        return "-"
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.4f}"


def _comparison_section(comparisons: list) -> list[Block]:
    if not comparisons:
        return []
    rows = [
        (c["event"], f"{c['plan_a']} ({c.get('path_a', '?')})",
         f"{c['plan_b']} ({c.get('path_b', '?')})", pct(c.get("loss_a")), pct(c.get("loss_b")),
         pct(c.get("loss_diff"), 1, True), pct_range(c.get("loss_diff_ci"), 1, True),
         p_text(c.get("p_value")))
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


# --------------------------------------------------------------------------- rendering


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    """Render blocks as GitHub-flavoured Markdown."""
    out = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append(f"{'#' * int(b.kind[1])} {b.text}")
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "list":
            out.append("\n".join(f"- {item}" for item in b.items))
        elif b.kind == "table":
            lines = ["| " + " | ".join(_md_cell(h) for h in b.header) + " |"]
            lines.append("|" + "|".join(" --- " for _ in b.header) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f4f4f6; }
td { font-variant-numeric: tabular-nums; }
h2 { border-bottom: 2px solid #333; padding-bottom: 0.2rem; margin-top: 2rem; }
"""


def _inline_html(text: str) -> str:
    """Escape text; ``**bold**`` pairs become ``<strong>``."""
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def to_html(blocks: Sequence[Block]) -> str:
    """Render blocks as one self-contained HTML page (inline CSS, no external resources)."""
    title = next((b.text for b in blocks if b.kind == "h1"), "Tracking loss report")
    body = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            body.append(f"<{b.kind}>{_inline_html(b.text)}</{b.kind}>")
        elif b.kind == "p":
            body.append(f"<p>{_inline_html(b.text)}</p>")
        elif b.kind == "list":
            body.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "table":
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in b.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                for row in b.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def report_format(path: str | Path) -> str | None:
    """``"markdown"`` or ``"html"`` from a file name's suffix; ``None`` if neither."""
    return SUFFIXES.get(Path(path).suffix.lower())


def render(summary: Mapping[str, Any], fmt: str) -> str:
    """The report of ``summary`` as ``"markdown"`` or ``"html"`` text."""
    blocks = build(summary)
    return to_html(blocks) if fmt == "html" else to_markdown(blocks)


def write_report(summary: Mapping[str, Any], path: str | Path) -> Path:
    """Write the report to ``path``: Markdown for ``.md``, HTML for ``.html``.

    Parameters
    ----------
    summary : mapping
        The record returned by :func:`simulator.results.summarise`.
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
    path = Path(path)
    fmt = report_format(path)
    if fmt is None:
        raise ValueError(
            f"report file must end in {', '.join(SUFFIXES)}, got {path.suffix or 'no suffix'!r}"
        )
    text = render(summary, fmt)
    # Written beside the target and moved into place, so a failure never leaves half a report.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = [
    "Block",
    "build",
    "event_sentence",
    "headline",
    "kpi_sentence",
    "pct",
    "pct_range",
    "render",
    "report_format",
    "shift_sentence",
    "to_html",
    "to_markdown",
    "write_report",
]
