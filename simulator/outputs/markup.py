"""A tiny document model: headings, paragraphs, lists and tables, as Markdown or HTML.

Reports are built once as a list of :class:`Block` and rendered by :func:`to_markdown` or
:func:`to_html`, so both formats always say the same thing. HTML output is one self-contained
page: inline CSS, no scripts, nothing fetched from elsewhere. In paragraph text, ``**bold**``
is the only markup.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Block:
    """One piece of a report: ``kind`` is h1, h2, h3, p, list, table or figure.

    A figure carries its image as a ``data:`` URI in ``image`` and its caption in ``text``;
    only HTML shows it (Markdown stays plain text).
    """

    kind: str
    text: str = ""
    items: list[str] = field(default_factory=list)
    header: Sequence[str] = ()
    rows: list[Sequence[str]] = field(default_factory=list)
    image: str = ""


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
figure { margin: 1rem 0 2rem; } img { max-width: 100%; height: auto; }
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
        elif b.kind == "figure" and b.image.startswith("data:"):
            caption = html.escape(b.text)
            body.append(
                f'<figure><img alt="{caption}" src="{html.escape(b.image)}">'
                f"<figcaption>{caption}</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


__all__ = ["Block", "to_html", "to_markdown"]
