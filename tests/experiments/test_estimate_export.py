"""``run --export-events``: the export leaves the run unchanged and writes what happened."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pq = pytest.importorskip("pyarrow.parquet")

from support.factories import lossless_dict, merge, segment  # noqa: E402

from simulator.config.scenario import Scenario  # noqa: E402
from simulator.experiments.event_export import export_events  # noqa: E402
from simulator.model.engine import Replication  # noqa: E402
from simulator.model.tally import SEGMENT_DIMENSIONS, M  # noqa: E402
from simulator.replications.runner import plan_tasks  # noqa: E402


def lossy(users: int = 600, **overrides) -> Scenario:
    d = lossless_dict(users, plans=[
        {"name": "client", "default_path": "client"},
        {"name": "dual", "default_path": "dual"},
    ])  # fmt: skip
    d["population"]["segments"] = [
        segment("desk", "desktop", "chrome", {"none": 0.7, "extension_default": 0.3}),
        segment("mob", "mobile", "safari", {"none": 0.9, "dns": 0.1}),
    ]
    d = merge(d, {"client": {"failure_probability": 0.1}, "server": {"failure_probability": 0.1}})
    return Scenario.model_validate(merge(d, overrides))


def test_the_export_changes_no_count_and_writes_the_truth(tmp_path):
    sc = lossy(population={"bots": {"share": 0.05}})
    meta = export_events(sc, tmp_path)
    (task,) = [t for t in plan_tasks(sc) if t.replication == 0]
    plain = Replication(task.scenario, task.seed).run()[0]
    assert np.array_equal(meta["tallies"][0].counts, plain.counts)

    truth = pq.read_table(tmp_path / "truth.parquet").to_pandas()
    copies = pq.read_table(tmp_path / "copies.parquet").to_pandas()
    per_event = truth.groupby("event", observed=True).size()
    events = plain.layout.events
    true_counts = plain.counts[0, :, :, M["truth"]].sum(axis=1)
    for e, name in enumerate(events):
        assert per_event.get(name, 0) == true_counts[e]
    assert truth.event_key.is_unique
    assert set(copies.path) == {"client", "server"}
    # One copy per path and event at most; every human copy belongs to a true event.
    assert not copies.duplicated(["event_key", "path"]).any()
    human = copies[copies.visitor.isin(truth.visitor)]
    assert human.event_key.isin(truth.event_key).all()
    # Bots reach the server only: their copies have keys that no true event has.
    assert (~copies.event_key.isin(truth.event_key)).any()
    assert json.loads((tmp_path / "export.json").read_text())["plan"] == "dual"
    # Every copy carries its visitor's segment dimensions, so `estimate --by` can use each.
    for dim in SEGMENT_DIMENSIONS:
        by_visitor = copies.groupby("visitor", observed=True)[dim].nunique()
        assert (by_visitor == 1).all()
        assert set(copies[dim]) <= set(plain.layout.categories(dim))


def test_sampling_keeps_whole_visitors(tmp_path):
    sc = lossy()
    full = export_events(sc, tmp_path / "all")
    half = export_events(sc, tmp_path / "half", sample=0.5)
    every = pq.read_table(tmp_path / "all" / "truth.parquet").to_pandas()
    some = pq.read_table(tmp_path / "half" / "truth.parquet").to_pandas()
    kept = set(some.visitor)
    assert set(every.event_key[every.visitor.isin(kept)]) == set(some.event_key)
    # A hash of the id keeps each visitor with probability 1/2: binomial tolerance.
    n = every.visitor.nunique()
    assert abs(len(kept) - n / 2) < 4 * np.sqrt(n / 4)
    assert half["true_events"] < full["true_events"]


def test_the_command_writes_the_export_and_rejects_a_bad_plan(tmp_path, write_scenario):
    d = lossless_dict(200, plans=[{"name": "dual", "default_path": "dual"}])
    path = write_scenario(d)
    out = tmp_path / "logs"
    cmd = [sys.executable, "-m", "simulator", "run", str(path), "--quiet", "--workers", "1"]
    done = subprocess.run([*cmd, "--export-events", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (out / "copies.parquet").is_file() and (out / "truth.parquet").is_file()
    bad = subprocess.run(
        [*cmd, "--export-events", str(out), "--export-plan", "nope"], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == "--export-plan: no plan named 'nope' (plans: dual)"
