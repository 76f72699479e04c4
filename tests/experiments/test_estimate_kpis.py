"""KPIs named by the user, raw client against corrected, and the estimate in a run's form.

A simulated dual-tracking site where half the desktop visitors block is exported and estimated
as if it were a real site's log; the corrected KPIs are checked against the simulator's truth
within their bootstrap intervals, and the record is read by the run's tables and plots.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("duckdb")

from support.factories import segment, two_path_site  # noqa: E402

from simulator.cli.main import main  # noqa: E402
from simulator.config.scenario import Scenario  # noqa: E402
from simulator.experiments.estimate.estimation import estimate  # noqa: E402
from simulator.experiments.estimate.kpi_estimates import parse_kpi  # noqa: E402
from simulator.experiments.estimate.run_contract import PLAN  # noqa: E402
from simulator.experiments.event_export import export_events  # noqa: E402
from simulator.outputs.frames import to_frame  # noqa: E402

KPIS = {
    "views_per_session": "page_viewed/session_started",
    "sessions_per_visitor": "session_started/visitors",
    "views_per_visitor": "page_viewed/visitors",
    "clicks_per_view": "link_clicked/page_viewed",
}


def site(seed: int = 23, users: int = 1500) -> Scenario:
    return two_path_site([
        segment("desk", "desktop", "chrome", {"none": 0.5, "extension_privacy": 0.5}),
        segment("mob", "mobile", "safari", {"none": 0.95, "dns": 0.05}),
    ], users, seed)  # fmt: skip


@pytest.fixture(scope="module")
def estimated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    export_events(site(), folder)
    kpis = [parse_kpi(f"{k}={v}") for k, v in KPIS.items()]
    record = estimate(folder / "copies.parquet", by=("device",), seed=3, kpis=kpis)
    truth = pq.read_table(folder / "truth.parquet").to_pandas()
    return folder, record, truth


def true_kpi(truth, ratio: str) -> float:
    sizes = truth.groupby("event", observed=True).size()
    num, den = (truth.visitor.nunique() if q == "visitors" else sizes[q] for q in ratio.split("/"))
    return num / den


def test_corrected_kpis_recover_the_truth(estimated):
    _, record, truth = estimated
    rows = {k["name"]: k for k in record["kpis"]}
    assert rows.keys() == KPIS.keys()
    z = stats.norm.ppf(1 - 0.01 / (2 * len(rows)))  # family-wise 1%
    for name, ratio in KPIS.items():
        k, true = rows[name], true_kpi(truth, ratio)
        assert k["plan"] == PLAN and f"{k['numerator']}/{k['denominator']}" == ratio
        assert k["truth_sd"] > 0, k
        assert abs(k["truth"] - true) < z * k["truth_sd"], (name, true, k)
        # The relative bias is the raw figure against the corrected one.
        assert k["relative_bias"] == pytest.approx(k["observed"] / k["truth"] - 1)
    # Per visitor, the client misses the blocked visitors' events but not the visitors alone:
    # its views per visitor come out low, outside the corrected figure's interval.
    views = rows["views_per_visitor"]
    assert views["observed"] < views["truth_ci"][0]
    assert views["relative_bias_ci"][1] < 0


def test_the_record_gives_a_runs_loss_and_kpi_tables(estimated):
    _, record, truth = estimated
    loss = to_frame(record, "loss")
    assert list(loss.columns) == list(to_frame({"results": []}, "loss").columns)
    assert set(loss.plan) == {PLAN} and set(loss.path) == {"client"}
    by_event = {e["event"]: e for e in record["events"]}
    for row in loss.itertuples():
        assert row.loss == pytest.approx(by_event[row.event]["client_loss"])
        assert row.received / row.truth == pytest.approx(1 - row.loss)
    sizes = truth.groupby("event", observed=True).size()
    # The estimated true count, truth = received / (1 - loss), against the simulator's: its
    # standard error follows from the loss's by the delta method.
    page = loss.set_index("event").loc["page_viewed"]
    sd = page.received * by_event["page_viewed"]["client_loss_sd"] / (1 - page.loss) ** 2
    assert abs(page.truth - sizes["page_viewed"]) < stats.norm.ppf(0.995) * sd
    assert len(to_frame(record, "kpis")) == len(KPIS)
    composition = to_frame(record, "composition")
    desktop = composition[
        (composition.event == "page_viewed") & (composition.category == "desktop")
    ]
    assert len(desktop) == 1 and desktop["diff"].iloc[0] < 0  # the client under-counts desktop


def test_export_and_plot_read_the_estimate_beside_another_record(estimated, tmp_path):
    _, record, _ = estimated
    path = tmp_path / "estimate.json"
    path.write_text(json.dumps(record))
    out = tmp_path / "loss.csv"
    assert main(["export", str(path), "--table", "loss", "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0].startswith("plan,event,path,truth,received")
    png = tmp_path / "loss.png"
    code = main(["plot", str(path), "--kind", "loss", "--beside", str(path), "-o", str(png)])
    assert code == 0 and png.stat().st_size > 0
    from simulator.outputs.plots import side_by_side

    merged = side_by_side(record, [("again", record)])
    assert {r["plan"] for r in merged["results"]} == {PLAN, f"{PLAN} (again)"}


def test_beside_is_refused_for_plots_of_one_record(estimated, tmp_path, capsys):
    _, record, _ = estimated
    path = tmp_path / "estimate.json"
    path.write_text(json.dumps(record))
    png = tmp_path / "x.png"
    code = main(["plot", str(path), "--kind", "compare", "--beside", str(path), "-o", str(png)])
    assert code == 2 and not png.exists()
    assert capsys.readouterr().err == (
        f"{path}: --beside: only for --kind loss, bias, kpi or dashboard, not compare\n"
    )


@pytest.mark.parametrize(
    ("kpi", "message"),
    [
        (
            "conversion=orders/session_started",
            "--kpi conversion: no event type 'orders' in the log",
        ),
        ("conversion", "--kpi: expected NAME=NUMERATOR/DENOMINATOR, got 'conversion'"),
        ("aov=value:order_completed/order_completed", "needs a value column, the log has none"),
    ],
)
def test_a_kpi_the_log_cannot_give_gets_one_line(tmp_path, capsys, kpi, message):
    log = tmp_path / "log.csv"
    log.write_text(
        "event_key,path,event,time,visitor\n"
        "1,client,session_started,2026-01-01T10:00:00Z,v1\n"
        "1,server,session_started,2026-01-01T10:00:01Z,v1\n"
        "2,server,order_completed,2026-01-01T10:05:00Z,v1\n"
    )
    assert main(["estimate", str(log), "--kpi", kpi]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_kpis_show_in_the_text(estimated):
    from simulator.outputs.estimate_report import format_estimate

    _, record, _ = estimated
    text = format_estimate(record)
    assert "KPIs, raw client and corrected:" in text
    assert all(name in text for name in KPIS)
    assert np.isfinite([k["truth"] for k in record["kpis"]]).all()


def test_a_value_kpi_is_corrected_per_stratum(tmp_path):
    """Desktop buyers spend more and their client copies are lost more: the raw mean is low."""
    import pyarrow as pa

    rng = np.random.default_rng(12)
    n = 6000
    visitor = rng.integers(0, 1500, n)
    desktop = visitor % 2 == 0
    event = np.where(rng.random(n) < 0.3, "buy", "view")
    value = np.where(event == "buy", np.where(desktop, rng.gamma(4, 25, n), rng.gamma(4, 5, n)), 0)
    client = rng.random(n) < np.where(desktop, 0.5, 0.9)
    server = rng.random(n) < 0.85
    idx = np.concatenate([np.flatnonzero(client), np.flatnonzero(server)])
    log = pa.table({
        "event_key": idx,
        "path": ["client"] * int(client.sum()) + ["server"] * int(server.sum()),
        "event": event[idx],
        "time": pa.array(1_767_225_600_000 + idx, pa.timestamp("ms", tz="UTC")),
        "visitor": visitor[idx],
        "device": np.where(desktop, "desktop", "mobile")[idx],
        "value": value[idx],
    })  # fmt: skip
    pq.write_table(log, tmp_path / "log.parquet")
    kpis = [parse_kpi("aov=value:buy/buy")]
    (k,) = estimate(tmp_path / "log.parquet", by=("device",), seed=2, kpis=kpis)["kpis"]
    true = value[event == "buy"].mean()
    z = stats.norm.ppf(0.995)
    assert abs(k["truth"] - true) < z * k["truth_sd"], (true, k)
    assert k["relative_bias_ci"][1] < 0, k  # the raw client mean leaves out desktop's spend
