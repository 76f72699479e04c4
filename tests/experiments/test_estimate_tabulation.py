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
