"""The Dask executor gives the same bytes as the local one, on a LocalCluster."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.lossy_factory import lossy, lossy_dict
from support.processes import live_members

from simulator.cli.main import main
from simulator.experiments.grid import parse_axis
from simulator.experiments.sweep import run_sweep
from simulator.replications import runner
from simulator.stats.summary import summarise

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """An already running cluster, reached by address as a real one would be."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_a_run_on_a_cluster_matches_the_local_run(scheduler: str) -> None:
    sc = lossy(replications=3)
    local = runner.run(sc, workers=2)
    remote = runner.run(sc, dask_address=scheduler)
    assert json.dumps(summarise(local)) == json.dumps(summarise(remote))
    sharded_local = runner.run(sc, workers=1, shards=2)
    sharded_remote = runner.run(sc, dask_address=scheduler, shards=2)
    assert json.dumps(summarise(sharded_local)) == json.dumps(summarise(sharded_remote))


def test_a_sweep_on_a_cluster_writes_the_same_files(
    scheduler: str, write_scenario, tmp_path: Path
) -> None:
    axes = [parse_axis("client.transport=xhr,beacon")]
    path = write_scenario(lossy_dict(users=800, replications=2))
    run_sweep(path, axes, tmp_path / "local", workers=2)
    run_sweep(path, axes, tmp_path / "dask", dask_address=scheduler)
    local = {p.name: p.read_bytes() for p in (tmp_path / "local").iterdir()}
    remote = {p.name: p.read_bytes() for p in (tmp_path / "dask").iterdir()}
    assert local == remote


def test_dask_local_starts_and_stops_its_own_cluster(write_scenario, tmp_path: Path) -> None:
    path = write_scenario(lossy_dict(users=800, replications=2))
    serial, dask = tmp_path / "serial.json", tmp_path / "dask.json"
    assert main(["run", str(path), "--quiet", "--workers", "1", "--json", str(serial)]) == 0
    args = ["run", str(path), "--quiet", "--dask", "local", "--workers", "2", "--json", str(dask)]
    assert main(args) == 0
    assert serial.read_bytes() == dask.read_bytes()


def test_an_unreachable_scheduler_is_bad_input(write_scenario, capsys) -> None:
    path = write_scenario(lossy_dict(users=100, replications=1))
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main(["run", str(path), "--quiet", "--dask", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


@pytest.mark.slow  # starts a Dask cluster; Ctrl-C over the process pool runs by default (sweep)
def test_ctrl_c_under_dask_local_prints_one_line_and_exits_130(write_scenario) -> None:
    # Far more work than the wait below (16 replications took 6.7 s with the cluster's start): the
    # Ctrl-C comes long before the run could end.
    path = write_scenario(lossy_dict(users=20_000, replications=200))
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "run", str(path), "--quiet"]
        + ["--dask", "local", "--workers", "2"],
        start_new_session=True,  # its own process group, as a command typed at a terminal
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # Wait for the cluster (the command, its resource tracker, 2 workers), then for it to finish
    # starting (a Ctrl-C while it starts is ignored, by design) and run tasks.
    deadline = time.monotonic() + 120
    while len(live_members(proc.pid)) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(10.0)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches every process of the group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.decode().splitlines() == ["trackloss: interrupted"]  # no worker tracebacks
