"""``trackloss estimate`` pairs copies with DuckDB: order, files and types do not change results.

The pairing groups copies by key out of core, so the record must not depend on the order of the
rows, on how the log is cut into files, or on how its times are typed; a file that breaks part
way gets the same one-line error as any other bad input.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("duckdb")

from simulator.cli.main import main  # noqa: E402
from simulator.experiments.estimate.estimation import estimate  # noqa: E402


def copies(n_events: int = 3000, seed: int = 3) -> dict[str, np.ndarray]:
    """A small dual-tracking log: client misses 20%, server 10%, independently."""
    rng = np.random.default_rng(seed)
    visitor = rng.integers(0, 300, n_events)
    event = np.array(["view", "buy"])[(rng.random(n_events) < 0.2).astype(int)]
    device = np.array(["desktop", "mobile"])[visitor % 2]
    t = 1_767_225_600_000 + np.sort(rng.integers(0, 86_400_000, n_events))
    client, server = rng.random(n_events) > 0.2, rng.random(n_events) > 0.1
    parts = [np.flatnonzero(client), np.flatnonzero(server)]
    idx = np.concatenate(parts)
    return {
        "event_key": idx,
        "path": np.array(["client"] * parts[0].size + ["server"] * parts[1].size),
        "event": event[idx],
        "time": t[idx] + np.r_[np.zeros(parts[0].size), np.full(parts[1].size, 1500)],
        "visitor": visitor[idx],
        "device": device[idx],
    }


def table(cols: dict[str, np.ndarray], order: np.ndarray | None = None):
    order = np.arange(cols["event_key"].size) if order is None else order
    data = {k: v[order] for k, v in cols.items()}
    data["time"] = pa.array(data["time"].astype(np.int64), pa.timestamp("ms", tz="UTC"))
    return pa.table(data)


def without_source(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "source"}


def test_row_order_and_files_do_not_change_the_record(tmp_path):
    cols = copies()
    pq.write_table(table(cols), tmp_path / "one.parquet")
    order = np.random.default_rng(0).permutation(cols["event_key"].size)
    folder = tmp_path / "parts"
    folder.mkdir()
    shuffled = table(cols, order)
    for i, start in enumerate(range(0, shuffled.num_rows, 1000)):
        pq.write_table(shuffled.slice(start, 1000), folder / f"part-{i}.parquet")
    one = estimate(tmp_path / "one.parquet", by=("device",))
    parts = estimate(folder, by=("device",))
    assert without_source(one) == without_source(parts)
    assert one["copies"] == shuffled.num_rows and len(one["rows"]) == 4


def test_times_as_text_or_seconds_give_the_same_record(tmp_path):
    cols = copies()
    pq.write_table(table(cols), tmp_path / "stamps.parquet")
    seconds = {**cols, "time": cols["time"] / 1000.0}
    pq.write_table(pa.table(seconds), tmp_path / "seconds.parquet")
    text = dict(cols)
    text["time"] = np.datetime_as_string(cols["time"].astype("datetime64[ms]"), unit="ms")
    pq.write_table(pa.table({**text, "time": np.char.add(text["time"], "Z")}), tmp_path / "t.pq")
    records = [
        without_source(estimate(tmp_path / name, by=("device",)))
        for name in ("stamps.parquet", "seconds.parquet", "t.pq")
    ]
    assert records[0] == records[1] == records[2]


def test_text_keys_are_grouped_by_their_hash_and_give_the_same_record(tmp_path):
    """Keys such as UUIDs are paired by a 64-bit hash: the same events, the same record."""
    from simulator.experiments.estimate.log_view import key_sql

    assert key_sql('"k"', "BIGINT") == '"k"'
    assert "hash(" in key_sql('"k"', "VARCHAR")
    cols = copies()
    pq.write_table(table(cols), tmp_path / "numbers.parquet")
    text = {**cols, "event_key": np.char.add("evt-", cols["event_key"].astype(str))}
    pq.write_table(table(text), tmp_path / "text.parquet")
    numbers = estimate(tmp_path / "numbers.parquet", by=("device",))
    assert without_source(estimate(tmp_path / "text.parquet", by=("device",))) == without_source(
        numbers
    )
    assert (
        sum(r["n11"] + r["n10"] + r["n01"] for r in numbers["rows"])
        == np.unique(cols["event_key"]).size
    )


def test_copies_that_disagree_on_the_segment_are_counted_once(tmp_path):
    cols = copies(200)
    # The server copies say "unknown" for the device: each event still counts once, in the
    # same stratum whatever the order of its copies.
    cols["device"] = np.where(cols["path"] == "server", "unknown", cols["device"])
    pq.write_table(table(cols), tmp_path / "a.parquet")
    order = np.arange(cols["event_key"].size)[::-1]
    pq.write_table(table(cols, order), tmp_path / "b.parquet")
    a, b = (
        estimate(tmp_path / "a.parquet", by=("device",)),
        estimate(tmp_path / "b.parquet", by=("device",)),
    )
    assert without_source(a) == without_source(b)
    events = np.unique(cols["event_key"]).size
    assert sum(r["n11"] + r["n10"] + r["n01"] for r in a["rows"]) == events


def test_a_file_broken_part_way_gets_one_line(tmp_path, capsys):
    path = tmp_path / "broken.parquet"
    pq.write_table(table(copies()), path, row_group_size=500)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    code = main(["estimate", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"trackloss estimate: {path}: cannot be read: ") and err.count("\n") == 1


def test_without_duckdb_the_command_names_the_extra(tmp_path, capsys, monkeypatch):
    path = tmp_path / "log.parquet"
    pq.write_table(table(copies(50)), path)
    monkeypatch.setitem(sys.modules, "duckdb", None)
    assert main(["estimate", str(path)]) == 2
    assert capsys.readouterr().err == (
        "trackloss estimate: trackloss estimate needs duckdb: pip install 'trackloss[estimate]'\n"
    )


def test_the_record_is_reproducible_from_its_seed(tmp_path):
    path = tmp_path / "log.parquet"
    pq.write_table(table(copies()), path)
    out = [tmp_path / f"{i}.json" for i in range(2)]
    for o in out:
        assert main(["estimate", str(path), "--by", "device", "--seed", "5", "--json", str(o)]) == 0
    assert json.loads(out[0].read_text()) == json.loads(out[1].read_text())


def test_a_log_of_crawlers_only_gets_one_line(tmp_path, capsys):
    csv = tmp_path / "bots.csv"
    csv.write_text(
        "event_key,path,event,time,visitor,user_agent\n"
        "k1,client,order,2026-01-01T10:00:00Z,v1,Googlebot/2.1\n"
        "k1,server,order,2026-01-01T10:00:01Z,v1,Googlebot/2.1\n"
    )
    assert main(["estimate", str(csv)]) == 2
    assert capsys.readouterr().err == (
        f"trackloss estimate: {csv}: all 2 rows come from crawler user agents: no copy left to "
        "estimate from\n"
    )


def _one_entry_per_event(cols: dict[str, np.ndarray], groups: int) -> tuple[dict, dict]:
    """Each event's paths, codes and value, paired in memory (the reference the counts match)."""
    import pandas as pd

    frame = pd.DataFrame({k: cols[k] for k in ("event_key", "path", "event", "visitor", "device")})
    frame["value"] = cols["value"]
    per = frame.groupby("event_key").agg(
        client=("path", lambda p: (p == "client").any()),
        server=("path", lambda p: (p == "server").any()),
        event=("event", "min"),
        device=("device", "min"),
        visitor=("visitor", "min"),
        value=("value", "max"),
    )
    events, labels = {}, {}
    for name in ("event", "device"):
        distinct, codes = np.unique(per[name].to_numpy(str), return_inverse=True)
        events[name], labels[name] = codes.ravel(), dict(enumerate(distinct.tolist()))
    rank = np.unique(per["visitor"].to_numpy(), return_inverse=True)[1].ravel()
    events |= {
        "client": per["client"].to_numpy(bool),
        "server": per["server"].to_numpy(bool),
        "group": rank % groups,
        "value": per["value"].to_numpy(float),
    }
    return events, labels


def _leaves(x, at=""):
    """Every number and label of a nested record, by its place (to compare records)."""
    if isinstance(x, dict):
        return {k: v for key in x for k, v in _leaves(x[key], f"{at}.{key}").items()}
    if isinstance(x, list):
        return {k: v for i, y in enumerate(x) for k, v in _leaves(y, f"{at}[{i}]").items()}
    return {at: x}


def test_corrections_from_counts_per_visitor_group_equal_those_from_single_events(tmp_path):
    """DuckDB reduces the events to counts per visitor group and cell: nothing changes."""
    from simulator.experiments.estimate.capture_covariates import logistic_totals
    from simulator.experiments.estimate.estimation import GROUPS
    from simulator.experiments.estimate.weighting import corrected_composition

    cols = copies()
    rng = np.random.default_rng(8)
    cols["value"] = np.where(cols["event"] == "buy", rng.gamma(2.0, 20.0, cols["event"].size), 0)
    pq.write_table(table(cols), tmp_path / "log.parquet")
    record = estimate(tmp_path / "log.parquet", by=("device",), seed=4, replicates=50)
    events, labels = _one_entry_per_event(cols, GROUPS)
    by = dims = ("device",)
    composition = corrected_composition(events, labels, by, dims, GROUPS, 4, 50)
    model = logistic_totals(events, labels, dims, GROUPS, 4, 50)
    assert record["composition"]["value"]  # the log's values reach the corrected means
    for ours, theirs in ((composition, record["composition"]), (model, record["covariate_model"])):
        ours, theirs = _leaves(ours), _leaves(theirs)
        assert ours.keys() == theirs.keys()
        for place, x in ours.items():
            assert theirs[place] == (x if isinstance(x, str | None) else pytest.approx(x)), place


def test_a_value_column_of_text_gets_one_line(tmp_path, capsys):
    cols = copies(100)
    cols["value"] = np.array(["cheap"] * cols["event_key"].size)
    path = tmp_path / "log.parquet"
    pq.write_table(table(cols), path)
    assert main(["estimate", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"trackloss estimate: {path}: column 'value' (value): expected numbers, found VARCHAR\n"
    )


def test_the_corrections_hold_counts_per_visitor_group_not_rows(tmp_path):
    """Python receives at most one entry per visitor group, cell and paths, however many events."""
    from simulator.experiments.estimate.tabulation import tabulate

    cols = copies(20_000)
    pq.write_table(table(cols), tmp_path / "log.parquet")
    tables = tabulate(tmp_path / "log.parquet", ("device",), groups=8)
    entries = tables.segments.events["count"]
    cells = 2 * 2 * 3  # event types x devices x (both, client only, server only)
    assert entries.size <= 8 * cells < np.unique(cols["event_key"]).size
    assert entries.sum() == np.unique(cols["event_key"]).size
    profile = tables.segments.profile
    assert profile["features"].shape[0] <= 8 * 2  # visitor groups x device segments
    assert profile["features"][:, 0].sum() == profile["visitors"] == np.unique(cols["visitor"]).size


def test_a_loss_of_zero_has_an_interval_that_is_not(tmp_path):
    """A small stratum where the client missed none of the server's events: every resample
    says 0, but 40 visitors cannot show that the loss is 0; its far end is the exact bound."""
    n = 40
    keys = np.arange(n)
    both = {"event_key": np.concatenate([keys, keys]),
            "path": np.array(["client"] * n + ["server"] * n),
            "event": np.full(2 * n, "signed_up"), "time": np.full(2 * n, 1_767_225_600_000),
            "visitor": np.concatenate([keys, keys])}  # fmt: skip
    path = tmp_path / "zero.parquet"
    pq.write_table(table(both), path)
    record = estimate(path, seed=1)
    (row,) = record["rows"]
    (whole,) = record["events"]
    assert row["client_loss"] == whole["client_loss"] == 0.0
    assert row["client_loss_ci"] == pytest.approx([0.0, 1 - 0.025 ** (1 / n)], abs=1e-12)
    assert whole["client_loss_ci"] == pytest.approx([0.0, 1 - 0.025 ** (1 / n)], abs=1e-12)
