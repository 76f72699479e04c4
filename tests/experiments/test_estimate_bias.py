"""The client's composition corrected by weighting and raking, against the simulator's truth.

A simulated dual-tracking site where desktop visitors block far more than mobile ones is
exported and estimated as if its copies were a real site's logs. The raw client composition
under-represents desktop (and the countries and channels desktop visitors bring); the corrected
composition recovers the site's true composition within intervals from the bootstrap variance.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

pq = pytest.importorskip("pyarrow.parquet")

from support.factories import segment, two_path_site  # noqa: E402

from simulator.config.scenario import Scenario  # noqa: E402
from simulator.experiments.estimate.estimation import estimate  # noqa: E402
from simulator.experiments.estimate.weighting import ALL_EVENTS  # noqa: E402
from simulator.experiments.event_export import export_events  # noqa: E402

MIN_TRUE = 300
"""Event types with fewer true events in a run are left out of the comparisons."""


CHANNELS = {"direct": {}, "organic": {}, "paid": {"medium": "cpc"}}


def site(seed: int, users: int = 1500) -> Scenario:
    return two_path_site([
        segment("desk", "desktop", "chrome", {"none": 0.5, "extension_privacy": 0.5},
                countries={"de": 0.7, "us": 0.3}, channels={"organic": 0.7, "direct": 0.3}),
        segment("mob", "mobile", "safari", {"none": 0.95, "dns": 0.05},
                countries={"us": 0.8, "de": 0.2}, channels={"paid": 0.6, "direct": 0.4}),
    ], users, seed, population={"channels": CHANNELS})  # fmt: skip


def one_run(folder, seed: int, by: tuple[str, ...] = ()) -> list[dict]:
    """Composition rows of well-populated event types, each with the run's true share."""
    export_events(site(seed), folder)
    record = estimate(folder / "copies.parquet", by=by, seed=seed)
    truth = pq.read_table(folder / "truth.parquet").to_pandas()
    sizes = truth.groupby("event", observed=True).size()
    rows = []
    for r in record["composition"]["rows"]:
        whole = r["event"] == ALL_EVENTS
        if not whole and sizes.get(r["event"], 0) < MIN_TRUE:
            continue
        sub = truth if whole else truth[truth.event == r["event"]]
        rows.append({**r, "true": float((sub[r["dimension"]].astype(str) == r["category"]).mean())})
    return rows


def bonferroni(m: int, family: float = 0.01) -> float:
    """Two-sided normal quantile that keeps ``m`` comparisons' family-wise error at ``family``."""
    return float(stats.norm.ppf(1 - family / (2 * m)))


@pytest.mark.parametrize("by", [(), ("device",)])
def test_the_corrected_composition_recovers_the_truth_the_raw_one_misses(tmp_path, by):
    rows = one_run(tmp_path, 11, by)
    assert {r["dimension"] for r in rows} == {"device", "browser", "country", "channel"}
    z = bonferroni(len(rows))
    for r in rows:
        # The corrected share is within z bootstrap standard errors of the run's truth.
        assert abs(r["corrected"] - r["true"]) < z * r["corrected_sd"], r
    # The raw client share of desktop is far too low: beyond its own interval and beyond the
    # corrected share's error, for every event type (blockers take desktop visitors away).
    desktop = [r for r in rows if r["category"] == "desktop"]
    assert desktop
    for r in desktop:
        assert r["client_ci"][1] < r["true"], r
        assert r["true"] - r["client"] > z * r["corrected_sd"], r
        assert r["shift_ci"][0] > 0, r
    # Raking matches the server's margins: each event type's device shares are the server's.
    for r in rows:
        if r["dimension"] == "device" and r["event"] != ALL_EVENTS:
            assert r["corrected"] == pytest.approx(r["server"], abs=1e-6)


def test_corrected_intervals_cover_the_sites_composition(tmp_path):
    """Over runs, the corrected intervals cover the site's composition about 95% of the time.

    The site's composition is the pooled truth of all runs; runs are the independent unit (the
    rows of one run share visitors), so the tolerance is the larger of the binomial and the
    observed standard error of the per-run coverage.
    """
    runs = 10
    results = [
        [r for r in one_run(tmp_path / f"r{s}", 200 + s) if r["event"] == ALL_EVENTS]
        for s in range(runs)
    ]
    pooled: dict[tuple, list[float]] = {}
    for rows in results:
        for r in rows:
            pooled.setdefault((r["dimension"], r["category"]), []).append(r["true"])
    site_share = {k: np.mean(v) for k, v in pooled.items()}
    per_run = np.array([
        np.mean([r["corrected_ci"][0] <= site_share[r["dimension"], r["category"]]
                 <= r["corrected_ci"][1] for r in rows])
        for rows in results
    ])  # fmt: skip
    raw = np.array([
        np.mean([r["client_ci"][0] <= site_share[r["dimension"], r["category"]]
                 <= r["client_ci"][1] for r in rows])
        for rows in results
    ])  # fmt: skip
    k = np.mean([len(rows) for rows in results])
    se = max(np.sqrt(0.95 * 0.05 / (runs * k)), per_run.std(ddof=1) / np.sqrt(runs))
    assert abs(per_run.mean() - 0.95) < 3 * se + 1 / (runs * k), per_run
    # The raw client intervals miss the biased columns (device, browser, country, channel
    # all move with the desktop segment) far more often.
    assert raw.mean() < per_run.mean() - 3 * se, (raw, per_run)


def orders_log(file, n: int = 6000):
    """A log built by hand (one order per visitor): desktop visitors spend about 100, mobile
    ones about 50; half the desktop visitors block the client, which also fails 10% of the
    time; the server misses 15% independently. Returns the true values."""
    import pandas as pd

    rng = np.random.default_rng(8)
    desktop = rng.random(n) < 0.5
    value = np.where(desktop, 100.0, 50.0) * rng.lognormal(0, 0.3, n)
    client = (rng.random(n) < np.where(desktop, 0.5, 0.98)) & (rng.random(n) < 0.9)
    server = rng.random(n) < 0.85
    rows = []
    for path, seen in (("client", client), ("server", server)):
        idx = np.flatnonzero(seen)
        rows.append(pd.DataFrame({
            "event_key": idx, "path": path, "event": "order", "time": 1_700_000_000 + idx,
            "visitor": idx, "device": np.where(desktop[idx], "desktop", "mobile"),
            "value": value[idx],
        }))  # fmt: skip
    pd.concat(rows).to_csv(file, index=False)
    return value


def test_the_corrected_order_value_recovers_what_blocked_visitors_spend(tmp_path):
    """Desktop visitors block more and spend more: the raw client mean is too low."""
    path = tmp_path / "orders.csv"
    value = orders_log(path)
    (row,) = estimate(path, seed=1)["composition"]["value"]
    true_mean = value.mean()
    z = bonferroni(2)
    assert abs(row["corrected_mean"] - true_mean) < z * row["corrected_mean_sd"], row
    assert row["client_mean_ci"][1] < true_mean, row
    assert row["mean_shift_ci"][0] > 0, row
    # The corrected total estimates all the money, seen or not.
    lo, hi = row["corrected_total_ci"]
    assert abs(row["corrected_total"] - value.sum()) < z * (hi - lo) / (2 * 1.959963984540054)


def test_the_command_shows_the_correction_in_the_table_json_and_report(tmp_path, capsys):
    import json

    from simulator.cli.main import main

    path = tmp_path / "orders.csv"
    orders_log(path, 1000)
    out, report = tmp_path / "r.json", tmp_path / "r.md"
    assert main(["estimate", str(path), "--json", str(out), "--report", str(report)]) == 0
    text = capsys.readouterr().out
    for title in ("Composition of the client's events", "Value of the events",
                  "Visitors per segment", "True events by logistic capture rates"):  # fmt: skip
        assert title in text
    record = json.loads(out.read_text())
    assert {r["category"] for r in record["composition"]["rows"]} == {"desktop", "mobile"}
    assert record["composition"]["value"][0]["event"] == "order"
    assert "\n### order\n" in report.read_text()  # a table per event type in the report
