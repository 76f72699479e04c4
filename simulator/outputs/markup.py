"""A tiny document model: headings, paragraphs, lists, tables and figures, as Markdown or HTML.

Reports are built once as a list of :class:`Block` and rendered by :func:`to_markdown` or
:func:`to_html`, so both formats always say the same thing. Every text is plain text: each
renderer escapes it, so a scenario or plan name can never inject markup (a newline cannot
forge a Markdown heading or table row, ``<script>`` never reaches the page as a tag).

HTML output is one self-contained page: inline CSS, no scripts, nothing fetched from elsewhere.
It opens with a table of contents linking to every section, shows numbers right-aligned in
tabular figures, and lets wide tables scroll inside their own box, so the page never scrolls
sideways on a narrow screen.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from simulator.replications.files import write_bytes_atomic, write_text_atomic


@dataclass(frozen=True)
class Picture:
    """An image of a figure: where it is (``data:`` URI or a relative file) and its CSS size."""

    src: str
    width: int
    height: int


@dataclass
class Block:
    """One piece of a report: ``kind`` is h1, h2, h3, p, list, table or figure.

    A figure carries its :class:`Picture` in ``picture`` and its caption in ``text``. A
    paragraph may carry a short bold ``lead`` shown before its text.
    """

    kind: str
    text: str = ""
    items: list[str] = field(default_factory=list)
    header: Sequence[str] = ()
    rows: list[Sequence[str]] = field(default_factory=list)
    picture: Picture | None = None
    lead: str = ""


_LINE_BREAKS = re.compile(r"\r\n|\r|\n|\u2028|\u2029|\x85|\x0b|\x0c")
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~&])")
_LONE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_BLOCK_START = re.compile(r"^(\s*)([-+#=]|\d{1,9}(?=[.)]))")


def one_line(text: object) -> str:
    """``text`` as a string on one line: every kind of line break becomes a space."""
    return _LINE_BREAKS.sub(" ", str(text))


def md_text(text: object, starts_block: bool = False) -> str:
    """Escape plain text for Markdown so that it shows as written.

    Backslashes, pipes, emphasis, code, links and raw HTML or entity starts are
    backslash-escaped, and line breaks become spaces. With ``starts_block`` (a paragraph or a
    list item), a leading heading, list or quote marker is escaped too.
    """
    out = _MD_SPECIAL.sub(r"\\\1", one_line(text))
    out = _LONE_UNDERSCORE.sub(r"\\_", out)
    match = _BLOCK_START.match(out) if starts_block else None
    if match:
        if match.group(2).isdigit():  # "1." starts an ordered list: escape the dot
            out = out[: match.end()] + "\\" + out[match.end() :]
        else:
            out = out[: match.start(2)] + "\\" + out[match.start(2) :]
    return out


def anchors(blocks: Sequence[Block]) -> dict[int, str]:
    """A unique ``id`` for each h2 and h3 block, keyed by its position in ``blocks``."""
    taken: set[str] = set()
    out = {}
    for i, b in enumerate(blocks):
        if b.kind not in ("h2", "h3"):
            continue
        base = re.sub(r"[^a-z0-9]+", "-", b.text.lower()).strip("-") or "section"
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        out[i] = slug
    return out


def to_markdown(blocks: Sequence[Block]) -> str:
    """Render blocks as GitHub-flavoured Markdown (figures as links to their image files)."""
    out = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append(f"{'#' * int(b.kind[1])} {md_text(b.text)}")
        elif b.kind == "p":
            lead = f"**{md_text(b.lead)}** " if b.lead else ""
            out.append(lead + md_text(b.text, starts_block=not lead))
        elif b.kind == "list":
            out.append("\n".join(f"- {md_text(item, starts_block=True)}" for item in b.items))
        elif b.kind == "table":
            lines = ["| " + " | ".join(md_text(h) for h in b.header) + " |"]
            lines.append("|" + "|".join(" --- " for _ in b.header) + "|")
            lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
        elif b.kind == "figure" and b.picture and not b.picture.src.startswith("data:"):
            out.append(f"![{md_text(b.text)}](<{quote(b.picture.src)}>)")
    return "\n\n".join(out) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
.table-box { overflow-x: auto; max-width: 100%; margin: 0.5rem 0 1.5rem; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #f4f4f6; }
td:not(.num) { min-width: 8rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1rem 0 2rem; } img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9rem; }
h2 { border-bottom: 2px solid #333; padding-bottom: 0.2rem; margin-top: 2rem; }
nav.toc { background: #f8f8fa; border: 1px solid #e2e2e6; padding: 0.5rem 1rem; }
nav.toc ul { margin: 0.2rem 0; padding-left: 1.2rem; }
nav.toc ul ul { padding-left: 0.4rem; } nav.toc ul ul li { display: inline; margin-right: 0.9rem; }
ul.headline { margin-top: 0.2rem; }
"""

_NUMBER = re.compile(
    r"^[−+\-]?(?:[\d,.]+|inf|nan)(?:\s?(?:%|pts|s))?"
    r"(?:\s?(?:–|to)\s?[−+\-]?[\d,.]+(?:\s?(?:%|pts|s))?)?$|^[<>]\s?[\d.]+%?$|^-$|^$"
    r"|^[−+\-]?[\d,.]+%? \[[−+\-]?[\d,.]+, [−+\-]?[\d,.]+\]$"
)
"""A number, a range, a dash, or a figure with its interval in brackets (``4.9 [4.6, 5.2]``)."""


def is_number(text: object) -> bool:
    """Whether a table cell holds a number (or an interval, or a dash): it is right-aligned."""
    return bool(_NUMBER.match(str(text).strip()))


def _table_html(b: Block) -> str:
    columns = list(zip(*b.rows, strict=True)) if b.rows else [() for _ in b.header]
    numeric = [bool(col) and all(is_number(c) for c in col) for col in columns]
    head = "".join(
        f'<th{" class=num" if num else ""} scope="col">{html.escape(one_line(h))}</th>'
        for h, num in zip(b.header, numeric, strict=True)
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if num else ''}>{html.escape(one_line(c))}</td>"
            for c, num in zip(row, numeric, strict=True)
        )
        + "</tr>"
        for row in b.rows
    )
    return (
        f'<div class="table-box"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _toc_html(blocks: Sequence[Block], ids: dict[int, str]) -> str:
    items, open_sub = [], False
    for i, b in enumerate(blocks):
        if i not in ids:
            continue
        link = f'<a href="#{ids[i]}">{html.escape(one_line(b.text))}</a>'
        if b.kind == "h2":
            if open_sub:
                items.append("</ul></li>")
                open_sub = False
            elif items:
                items.append("</li>")
            items.append(f"<li>{link}")
        elif b.kind == "h3" and items:
            if not open_sub:
                items.append("<ul>")
                open_sub = True
            items.append(f"<li>{link}</li> ")  # a space between: the line may break there
    if items:
        items.append("</ul></li>" if open_sub else "</li>")
    return '<nav class="toc"><strong>Contents</strong><ul>' + "".join(items) + "</ul></nav>"


def to_html(blocks: Sequence[Block]) -> str:
    """Render blocks as one self-contained HTML page (inline CSS, no external resources)."""
    title = next((b.text for b in blocks if b.kind == "h1"), "Tracking loss report")
    ids = anchors(blocks)
    body, toc_done = [], False
    for i, b in enumerate(blocks):
        text = html.escape(one_line(b.text))
        if b.kind == "h2" and not toc_done:
            body.append(_toc_html(blocks, ids))
            toc_done = True
        if b.kind == "h1":
            body.append(f"<h1>{text}</h1>")
        elif b.kind in ("h2", "h3"):
            body.append(f'<{b.kind} id="{ids[i]}">{text}</{b.kind}>')
        elif b.kind == "p":
            lead = f"<strong>{html.escape(one_line(b.lead))}</strong> " if b.lead else ""
            body.append(f"<p>{lead}{text}</p>")
        elif b.kind == "list":
            body.append("<ul>" + "".join(f"<li>{html.escape(one_line(t))}</li>" for t in b.items))
            body[-1] += "</ul>"
        elif b.kind == "table":
            body.append(_table_html(b))
        elif b.kind == "figure" and b.picture is not None:
            p = b.picture
            body.append(
                f'<figure><img alt="{text}" src="{html.escape(p.src)}" width="{p.width}" '
                f'height="{p.height}"><figcaption>{text}</figcaption></figure>'
            )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(one_line(title))}</title>\n<style>{_CSS}</style>\n</head>\n"
        "<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
"""File suffixes a report may have, and the format each one means."""


def report_format(path: str | Path) -> str | None:
    """``"markdown"`` or ``"html"`` from a file name's suffix; ``None`` if neither."""
    return SUFFIXES.get(Path(path).suffix.lower())


def write_document(
    path: str | Path,
    html_text: Callable[[], str],
    markdown_text: Callable[[Mapping[str, Picture]], str],
    images: Callable[[], Mapping[str, tuple[bytes, int, int]]],
) -> Path:
    """Write a report: one self-contained HTML file, or Markdown with its figures beside it.

    Parameters
    ----------
    path : str or pathlib.Path
        Destination; its suffix (:data:`SUFFIXES`) chooses the format.
    html_text : callable
        Makes the whole HTML page (figures inlined).
    markdown_text : callable
        Makes the Markdown text from the pictures written beside it, by figure name.
    images : callable
        Makes the figures as ``{name: (png bytes, width, height)}``; each is written as
        ``<stem>-<name>.png`` next to ``path``.

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
    if fmt == "html":
        write_text_atomic(path, html_text())
        return path
    pictures = {}
    for name, (png, width, height) in images().items():
        image = path.with_name(f"{path.stem}-{name}.png")
        write_bytes_atomic(image, png)
        pictures[name] = Picture(image.name, width, height)
    write_text_atomic(path, markdown_text(pictures))
    return path


__all__ = [
    "SUFFIXES",
    "report_format",
    "write_document",
    "Block",
    "Picture",
    "anchors",
    "is_number",
    "md_text",
    "one_line",
    "to_html",
    "to_markdown",
]
