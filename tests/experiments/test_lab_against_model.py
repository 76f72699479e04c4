"""The browser model against the committed lab measurement, cell by cell.

Each committed results file (``data/lab/*.csv``, one per browser version) was measured by
``trackloss lab`` on a real Chromium. Every cell is replayed by the model
(:func:`~simulator.experiments.lab.model_side.model_shares`: the engine's own client path, with
the cell's latency, connection, preflight and measured teardown). The lab's count and the
replay's count are two binomial samples; Fisher's exact test compares them, Bonferroni-corrected
over the cells tested. Cells on the boundary, where the gap is within the teardown's range of
the connection setup, are left out (see
:func:`~simulator.experiments.lab.model_side.on_the_boundary`): their share depends on the
teardown delay, which the machine's load stretches.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy import stats

from simulator.experiments.lab.model_side import cell_key, model_shares, on_the_boundary
from simulator.outputs.plots.lab import read_lab_rows

FILES = sorted((Path(__file__).resolve().parents[2] / "data" / "lab").glob("*.csv"))
PAGES = 400
FAMILY_ALPHA = 0.01


def _cold_preflight(row: dict) -> bool:
    return row["connection"] == "cold" and row["preflight"] == "on"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_model_reproduces_the_lab_away_from_the_boundary(path: Path) -> None:
    rows = [r for r in read_lab_rows(path) if not on_the_boundary(r) and not _cold_preflight(r)]
    assert len(rows) >= 20, "too few cells away from the boundary to test"
    model = model_shares(rows, pages=PAGES, seed=7)
    alpha = FAMILY_ALPHA / len(rows)
    misfits = []
    for r in rows:
        hits = round(model[cell_key(r)] * PAGES)
        table = [[r["delivered"], r["trials"] - r["delivered"]], [hits, PAGES - hits]]
        p = stats.fisher_exact(table).pvalue
        if p < alpha:
            misfits.append((cell_key(r), f"lab {r['delivered']}/{r['trials']}",
                            f"model {hits}/{PAGES}", f"p = {p:.2g}"))  # fmt: skip
    assert not misfits, misfits


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_cold_preflighted_request_arrives_no_more_often_than_the_model_says(path: Path) -> None:
    """The model is optimistic for a preflight on a cold connection, never pessimistic.

    A cold request with a preflight needs two round trips before it is written, in the model;
    in the lab some still failed with a margin of 200 ms (17 of 20 at a gap of 1000 ms and a
    latency of 200 ms), the browser's own work between the preflight's answer and the request.
    These cells are tested one-sided: the lab must not deliver more than the model.
    """
    rows = [r for r in read_lab_rows(path) if not on_the_boundary(r) and _cold_preflight(r)]
    model = model_shares(rows, pages=PAGES, seed=7)
    alpha = FAMILY_ALPHA / max(len(rows), 1)
    for r in rows:
        hits = round(model[cell_key(r)] * PAGES)
        table = [[r["delivered"], r["trials"] - r["delivered"]], [hits, PAGES - hits]]
        p = stats.fisher_exact(table, alternative="greater").pvalue
        assert p >= alpha, (cell_key(r), r["delivered"], hits, p)
