"""The HTML report as a browser shows it: headless Chromium at a desktop and a narrow width.

Checks what a reader meets: the page never scrolls sideways at 760 px (wide tables scroll in
their own box), every image loads, every contents link lands on a section, and figures are
shown at the width they were drawn at on a desktop screen (so their text keeps its size).
Skipped where no Chromium is installed (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support.bias_factories import two_devices
from support.running import run

from simulator.outputs.document import write_report
from simulator.stats.summary import summarise

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium)"
)

PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const links = [...document.querySelectorAll('a[href^="#"]')].map(a => a.hash.slice(1));
  const result = {
    viewport: document.documentElement.clientWidth,
    page_width: document.documentElement.scrollWidth,
    images: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    links: links.length,
    dangling: links.filter(id => !document.getElementById(id)),
    shown_over_drawn: images.map(i => i.clientWidth / Number(i.getAttribute("width"))),
    boxes_scrolling: [...document.querySelectorAll(".table-box")]
      .filter(b => b.scrollWidth > b.clientWidth).length,
  };
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


def probed(path: Path) -> Path:
    """A copy of the HTML page at ``path`` with the probe script added."""
    page = path.with_name(f"probed-{path.name}")
    page.write_text(
        path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    return page


@functools.cache
def report_page(folder: Path) -> Path:
    """A report with long names and every section, with the probe script added."""
    sc = two_devices(
        users=300,
        desktop_blocked=0.3,
        mobile_blocked=0.05,
        events=[
            {"name": "session_started", "kind": "session_start"},
            {"name": "page_viewed", "kind": "page_view"},
            {
                "name": "order_completed_with_a_rather_long_name",
                "kind": "funnel",
                "has_value": True,
            },
        ],  # fmt: skip
        behaviour={"return_probability": 0.0, "funnel": [0.3]},
        plans=[
            {"name": "client"},
            {"name": "mixed", "paths": {"order_completed_with_a_rather_long_name": "server"}},
        ],
    )
    return probed(write_report(summarise(run(sc, replications=2, seed=3)), folder / "report.html"))


def probe(page: Path, width: int) -> dict:
    """Open ``page`` in headless Chromium ``width`` px wide; return what the probe measured."""
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--hide-scrollbars", f"--window-size={width},900",
         "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    found = re.search(r'<pre id="probe">(.*?)</pre>', out.stdout, flags=re.S)
    assert found, f"the probe did not run: {out.stderr[-500:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    return report_page(tmp_path_factory.mktemp("browser"))


def test_narrow_screen_never_scrolls_sideways(page):
    seen = probe(page, 760)
    assert seen["viewport"] <= 760
    assert seen["page_width"] <= seen["viewport"]  # wide tables scroll in their own box
    assert seen["boxes_scrolling"] >= 1  # the loss table is wider than 760 px: it scrolls
    assert seen["images"] == 5 and seen["broken"] == []


def test_desktop_images_load_links_land_and_figures_keep_their_size(page):
    seen = probe(page, 1280)
    assert seen["page_width"] <= seen["viewport"]
    assert seen["images"] == 5 and seen["broken"] == []
    assert seen["links"] >= 8 and seen["dangling"] == []
    # Drawn at most as wide as the text column: shown at (nearly) the size drawn.
    assert min(seen["shown_over_drawn"]) >= 0.95


def test_recommendation_report_shows_its_figure_at_both_widths(tmp_path):
    from simulator.experiments.recommend import recommend
    from simulator.outputs.recommend_document import write_report as write_recommendation

    sc = two_devices(users=300, desktop_blocked=0.3, mobile_blocked=0.05)
    record = recommend(sc, replications=1, seed=3, workers=1, progress=False)
    page = probed(write_recommendation(record, tmp_path / "recommend.html"))
    narrow, wide = probe(page, 760), probe(page, 1280)
    for seen in (narrow, wide):
        assert seen["page_width"] <= seen["viewport"]
        assert seen["images"] == 1 and seen["broken"] == []
        assert seen["links"] >= 3 and seen["dangling"] == []
    assert min(wide["shown_over_drawn"]) >= 0.95


def test_estimate_report_reads_at_both_widths(tmp_path):
    pytest.importorskip("duckdb")
    from support.factories import segment, two_path_site

    from simulator.experiments.estimate.estimation import estimate
    from simulator.experiments.event_export import export_events
    from simulator.outputs.estimate_report import write_estimate_report

    export_events(two_path_site([
        segment("desk", "desktop", "chrome", {"none": 0.6, "extension_privacy": 0.4}),
        segment("mob", "mobile", "safari", {"none": 0.95, "dns": 0.05}),
    ], 300, 3), tmp_path)  # fmt: skip
    record = estimate(tmp_path / "copies.parquet", by=("device",))
    page = probed(write_estimate_report(record, tmp_path / "estimate.html"))
    for width in (760, 1280):
        seen = probe(page, width)
        assert seen["page_width"] <= seen["viewport"]
        assert seen["links"] >= 5 and seen["dangling"] == []
    assert seen["images"] == 0
