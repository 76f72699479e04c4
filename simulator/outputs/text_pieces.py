"""The estimate's text in pieces: lines, titles and tables, for the terminal and for a report.

The estimate's sections (:mod:`~simulator.outputs.estimate_report` and the modules it gathers)
say what they show as a list of pieces: a plain line, a :class:`Title` or a :class:`TextTable`.
:func:`as_lines` lays them out for the terminal (a title ends in a colon, a table's columns are
padded to line up); :func:`as_blocks` makes the headings, paragraphs, lists and tables of a
Markdown or HTML report (:mod:`~simulator.outputs.markup`) from the same pieces, so the two
never say different things.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simulator.outputs.markup import Block

WARNING = "WARNING: "
"""A line that starts with this is a warning: a paragraph led by "Warning" in a report."""
ITEM = "- "
"""A line that starts with this is an item of a list."""


@dataclass(frozen=True)
class Title:
    """A section's title: ``text (note):`` on the terminal, a heading and a paragraph in a report.

    The heading is of ``level`` (2 for a section, 3 for a part of one); the note, when given,
    is the paragraph under it.
    """

    text: str
    level: int = 2
    note: str = ""


@dataclass(frozen=True)
class TextTable:
    """A table of text cells; its first ``left`` columns align left, the others right."""

    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    left: int = 1

    def lines(self) -> list[str]:
        """The table as lines of text, each column padded to its widest cell."""
        widths = [
            max(len(r[i]) for r in [self.header, *self.rows]) for i in range(len(self.header))
        ]
        fmt = "  ".join(f"{{:{'<' if i < self.left else '>'}{w}}}" for i, w in enumerate(widths))
        return [fmt.format(*self.header), *(fmt.format(*r) for r in self.rows)]


Piece = str | Title | TextTable


def as_lines(pieces: Sequence[Piece]) -> list[str]:
    """The pieces as terminal lines.

    Parameters
    ----------
    pieces : sequence
        Lines (``""`` is a blank line), titles and tables.

    Returns
    -------
    list of str
        One string per line.
    """
    lines: list[str] = []
    for piece in pieces:
        if isinstance(piece, TextTable):
            lines += piece.lines()
        elif isinstance(piece, Title):
            lines.append(f"{piece.text} ({piece.note}):" if piece.note else f"{piece.text}:")
        else:
            lines.append(piece)
    return lines


def as_blocks(pieces: Sequence[Piece]) -> list[Block]:
    """The pieces as report blocks.

    A title becomes a heading, a table a table, a line led by :data:`WARNING` a paragraph led
    by "Warning", consecutive lines led by :data:`ITEM` one list, and any other line a
    paragraph (blank lines only separate).

    Parameters
    ----------
    pieces : sequence
        Lines, titles and tables.

    Returns
    -------
    list of Block
        The blocks, in order.
    """
    blocks: list[Block] = []
    for piece in pieces:
        if isinstance(piece, TextTable):
            blocks.append(Block("table", header=list(piece.header), rows=list(piece.rows)))
        elif isinstance(piece, Title):
            blocks.append(Block(f"h{piece.level}", piece.text))
            if piece.note:
                blocks.append(Block("p", piece.note[0].upper() + piece.note[1:] + "."))
        elif piece.startswith(ITEM):
            if not blocks or blocks[-1].kind != "list":
                blocks.append(Block("list"))
            blocks[-1].items.append(piece[len(ITEM) :])
        elif piece.startswith(WARNING):
            blocks.append(Block("p", piece[len(WARNING) :], lead="Warning:"))
        elif piece:
            blocks.append(Block("p", piece))
    return blocks


__all__ = ["ITEM", "WARNING", "Piece", "TextTable", "Title", "as_blocks", "as_lines"]
