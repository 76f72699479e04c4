"""Every source a comment cites can be found in ``docs/sources.md``.

Presets, defaults, notebooks and tests cite published figures by section (a section sign and
a number such as 2b) and by item of section 5; a citation that names no heading of
``docs/sources.md`` would leave a number without a traceable source.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "docs" / "sources.md"
CITING = ("scenarios", "simulator", "notebooks", "tests", "bench", "README.md")
SUFFIXES = (".py", ".toml", ".ipynb", ".md")

CITATION = re.compile(r"§(\d+[a-z]?)")
ITEM_CITATION = re.compile(r"§(\d+) item (\d+)")
HEADING = re.compile(r"^#+ §(\d+[a-z]?)\b", re.M)
ITEM = re.compile(r"^\*\*Item (\d+)\.\*\*", re.M)


def citing_lines() -> list[tuple[str, str]]:
    """Every line that cites a section, as ``(where, line)``."""
    paths = []
    for name in CITING:
        path = ROOT / name
        paths += [path] if path.is_file() else sorted(path.rglob("*"))
    return [
        (f"{path.relative_to(ROOT)}:{n}", line)
        for path in paths
        if path.is_file() and path.suffix in SUFFIXES and path != Path(__file__).resolve()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "§" in line
    ]


def sections() -> dict[str, str]:
    """Each section's heading label and the text under it, up to the next heading."""
    text = SOURCES.read_text(encoding="utf-8")
    marks = list(HEADING.finditer(text))
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return {m[1]: text[m.end() : end] for m, end in zip(marks, ends, strict=True)}


def test_sections_are_headed_once_each():
    labels = HEADING.findall(SOURCES.read_text(encoding="utf-8"))
    assert len(labels) == len(set(labels)) > 10


def test_the_product_cites_sources_by_section():
    assert len(citing_lines()) > 100  # the check below has something to check


def test_every_cited_section_is_a_heading_of_the_sources():
    known = set(sections())
    missing = [
        f"{where}: §{label}"
        for where, line in citing_lines()
        for label in CITATION.findall(line)
        if label not in known
    ]
    assert missing == []


def test_every_cited_item_is_an_item_of_its_section():
    items = {label: set(ITEM.findall(body)) for label, body in sections().items()}
    cited = [(w, s, i) for w, line in citing_lines() for s, i in ITEM_CITATION.findall(line)]
    assert cited, "no item citations found: the pattern is out of date"
    missing = [f"{w}: §{s} item {i}" for w, s, i in cited if i not in items.get(s, set())]
    assert missing == []


LEAVES = ["1a", "1b", "2a", "2b", "2c", "3a", "3b", "3c", "3f", "4a", "4b", "4c", "5", "7", "7a"]
SYNTHESES = {"7a"}
"""Sections that draw together sources listed elsewhere, so they carry no link of their own."""


@pytest.mark.parametrize("label", LEAVES)
def test_each_section_names_where_its_figures_come_from_and_what_they_calibrate(label):
    body = sections()[label]
    if label not in SYNTHESES:
        assert re.search(r"<https?://[^>]+>", body), f"§{label} gives no link"
    assert "Calibrates" in body, f"§{label} does not say what it calibrates"


def test_the_seed_article_is_listed_with_its_title_and_link():
    text = SOURCES.read_text(encoding="utf-8")
    seed = text[text.index("## The seed article") :]
    assert '"When to Track on the Client vs. Server"' in seed
    assert "<https://segment.com/academy/" in seed
