"""Sweeps: one atomic file per point, deterministic, resumable after kill -9, failures recorded."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.lossy_factory import lossy_dict
from support.processes import live_members

import simulator.experiments.sweep
import simulator.replications.files
from simulator.cli.main import main
from simulator.config.loading import load_scenario
from simulator.experiments.grid import parse_axis
from simulator.experiments.sweep import SweepError, run_sweep
from simulator.replications import runner
from simulator.stats.summary import summarise

ROOT = Path(__file__).resolve().parents[2]
TRANSPORTS = "client.transport=xhr,fetch,fetch_keepalive,beacon"


@pytest.fixture
def scenario_file(write_scenario) -> Path:
    return write_scenario(lossy_dict(users=800, replications=2))


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def sweep_args(path: Path, out: Path, *extra: str) -> list[str]:
    return ["sweep", str(path), "--vary", "client.transport=xhr,beacon", "-o", str(out), *extra]


def test_one_file_per_point_and_a_summary(scenario_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    args = sweep_args(scenario_file, out, "--vary", "client.failure_probability=0:0.2:2")
    assert main([*args, "--workers", "1", "--quiet"]) == 0
    names = sorted(p.name for p in out.glob("point-*.json"))
    assert len(names) == 4
    assert names[0].startswith("point-000-transport=xhr_failure_probability=0.0-")
    assert names[3].startswith("point-003-transport=beacon_failure_probability=0.2-")
    summary = (out / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("point,client.transport,client.failure_probability,status,plan")
    from simulator.config.scenario import DEFAULT_EVENTS

    assert len(summary) == 1 + 4 * 3 * len(DEFAULT_EVENTS)  # points x plans x events
    shown = capsys.readouterr().out
    assert "4 points, 0 failed" in shown and "transport  failure_probability  plan" in shown


def test_a_point_holds_exactly_what_run_gives(scenario_file: Path, tmp_path: Path) -> None:
    report = run_sweep(
        scenario_file, [parse_axis("client.transport=xhr,beacon")], tmp_path, workers=1
    )
    data = json.loads((tmp_path / f"{report.records[1].name}.json").read_text())
    point = data.pop("sweep")
    assert point["point"] == {"client.transport": "beacon"} and point["shards"] == 1
    sc = load_scenario(scenario_file, ["client.transport=beacon"])
    expected = json.loads(json.dumps(summarise(runner.run(sc, workers=1)), default=str))
    assert data == expected


def test_sweep_files_are_the_same_for_any_worker_count(scenario_file: Path, tmp_path: Path) -> None:
    axes = [parse_axis(TRANSPORTS)]
    run_sweep(scenario_file, axes, tmp_path / "one", workers=1)
    run_sweep(scenario_file, axes, tmp_path / "two", workers=2)
    assert files(tmp_path / "one") == files(tmp_path / "two")


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(
    scenario_file: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    # Varying one share alone: 0.7 + 0.5 no longer sums to 1.
    args = ["sweep", str(scenario_file), "--vary", "population.segments[0].share=0.5,0.7"]
    assert main([*args, "-o", str(out), "--workers", "1", "--quiet"]) == 1
    (ok,) = out.glob("point-000-*.json")
    (failed,) = out.glob("point-001-*.error.json")
    assert "results" in json.loads(ok.read_text())
    error = json.loads(failed.read_text())["error"]
    assert error["type"] == "ScenarioError"
    assert error["problems"] == ["population.segments[*].share: must sum to 1, got 1.2"]
    captured = capsys.readouterr()
    assert "FAILED" in captured.out and "segments[*].share: must sum to 1" in captured.out
    assert "1 of 2 points failed" in captured.err
    assert (
        '1,0.7,error,,,,,,,,"population.segments[*].share: must'
        in (out / "summary.csv").read_text()
    )


def test_an_error_while_simulating_is_recorded(
    scenario_file: Path, tmp_path: Path, monkeypatch
) -> None:
    def flaky(task):
        if task.scenario.population.users == 801:
            raise RuntimeError("disk on fire")
        return runner.simulate_task(task)

    monkeypatch.setattr(simulator.experiments.sweep, "simulate_task", flaky)
    report = run_sweep(scenario_file, [parse_axis("population.users=800,801")], tmp_path, workers=1)
    assert [r.status for r in report.records] == ["ok", "error"]
    error = json.loads((tmp_path / f"{report.records[1].name}.error.json").read_text())["error"]
    assert (error["type"], error["message"]) == ("RuntimeError", "disk on fire")
    # Resuming retries the failed point; once it succeeds its error file goes away.
    monkeypatch.setattr(simulator.experiments.sweep, "simulate_task", runner.simulate_task)
    again = run_sweep(
        scenario_file, [parse_axis("population.users=800,801")], tmp_path, workers=1, resume=True
    )
    assert [r.status for r in again.records] == ["ok", "ok"]
    assert not list(tmp_path.glob("*.error.json"))


KILL_ARGS = ["--vary", TRANSPORTS, "--vary", "population.users=800,1600"]


def _start_and_wait_for_a_point(scenario_file: Path, out: Path) -> subprocess.Popen:
    """Start a sweep of 8 points in its own process group; return once one point is written."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "sweep", str(scenario_file), *KILL_ARGS, "-o", str(out)]
        + ["--workers", "2", "--quiet"],
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as on a terminal
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not list(out.glob("point-*.json")):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no point finished in time"
        time.sleep(0.005)
    return proc


def _wait_for_no_live_members(group: int) -> None:
    deadline = time.monotonic() + 30
    while live_members(group) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not live_members(group)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_resume_after_kill_9_loses_nothing_finished(scenario_file: Path, tmp_path: Path) -> None:
    out, reference = tmp_path / "out", tmp_path / "reference"
    proc = _start_and_wait_for_a_point(scenario_file, out)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    before = files(out)
    finished = [n for n in before if n.startswith("point-")]
    assert 1 <= len(finished) < 8, "the sweep must be killed mid-way"
    # Pool workers notice their parent is gone and exit instead of running on as orphans.
    _wait_for_no_live_members(proc.pid)

    args = ["sweep", str(scenario_file), *KILL_ARGS, "--quiet"]
    assert main([*args, "-o", str(out), "--resume", "--workers", "2"]) == 0
    assert main([*args, "-o", str(reference), "--workers", "1"]) == 0
    after = files(out)
    assert after == files(reference)
    assert all(after[name] == before[name] for name in finished)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_ctrl_c_stops_at_once_and_keeps_finished_points(
    scenario_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = _start_and_wait_for_a_point(scenario_file, out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.decode().splitlines() == [
        f"trackloss sweep: finished points are kept in {out}; "
        "run the same command with --resume to finish",
        "trackloss: interrupted",
    ]  # and no traceback from the pool or its workers
    _wait_for_no_live_members(proc.pid)
    for name, data in files(out).items():
        if name.startswith("point-"):
            assert json.loads(data)["sweep"]["name"] + ".json" == name


def test_resume_never_reads_a_damaged_file(scenario_file: Path, tmp_path: Path) -> None:
    axes = [parse_axis(TRANSPORTS)]
    first = run_sweep(scenario_file, axes, tmp_path, workers=1)
    complete = files(tmp_path)
    names = [f"{r.name}.json" for r in first.records]
    (tmp_path / names[0]).write_text(complete[names[0]].decode()[:200])  # cut short
    (tmp_path / names[1]).write_text('{"sweep": {"key": "not this point"}, "results": []}\n')
    (tmp_path / names[2]).unlink()
    (tmp_path / f".{names[3]}.abc123.tmp").write_text("{")  # left by a killed writer
    again = run_sweep(scenario_file, axes, tmp_path, workers=1, resume=True)
    assert [r.status for r in again.records] == ["ok"] * 4
    assert files(tmp_path) == complete


def test_resume_runs_nothing_when_every_point_is_done(
    scenario_file: Path, tmp_path: Path, monkeypatch
) -> None:
    axes = [parse_axis("client.transport=xhr,beacon")]
    run_sweep(scenario_file, axes, tmp_path, workers=1)
    complete = files(tmp_path)

    def refuse(task):
        raise AssertionError("a finished point was run again")

    monkeypatch.setattr(simulator.experiments.sweep, "simulate_task", refuse)
    report = run_sweep(scenario_file, axes, tmp_path, workers=1, resume=True)
    assert [r.status for r in report.records] == ["ok", "ok"]
    assert files(tmp_path) == complete


def test_a_folder_holding_a_sweep_needs_resume_and_the_same_grid(
    scenario_file: Path, tmp_path: Path, capsys
) -> None:
    axes = [parse_axis("client.transport=xhr")]
    run_sweep(scenario_file, axes, tmp_path, workers=1)
    with pytest.raises(SweepError, match="already holds a sweep; pass --resume"):
        run_sweep(scenario_file, axes, tmp_path, workers=1)
    with pytest.raises(SweepError, match="holds a different sweep"):
        run_sweep(scenario_file, axes, tmp_path, workers=1, seed=5, resume=True)
    assert main(sweep_args(scenario_file, tmp_path, "--quiet")) == 2
    assert "already holds a sweep" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "nothing to vary"),
        (["--vary", "client.transport"], "expected PATH=VALUES"),
        (["--vary", "a=1,2", "--vary", "a=3"], "more than one axis varies a"),
        (["--vary", "client.transport=xhr", "--shards", "5000"], "shards must be between 1"),
    ],
)
def test_bad_sweep_arguments_exit_2(
    scenario_file: Path, tmp_path: Path, capsys, extra: list[str], message: str
) -> None:
    out = tmp_path / "o"
    status = main(["sweep", str(scenario_file), "-o", str(out), "--quiet", *extra])
    captured = capsys.readouterr()
    if "--shards" in extra:  # a point that cannot be split is a failed point, not bad input
        assert status == 1 and message in captured.out
    else:
        assert status == 2 and message in captured.err


def test_workers_must_be_positive(scenario_file: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(sweep_args(scenario_file, tmp_path, "--workers", "0"))
    assert info.value.code == 2
    assert "--workers: must be at least 1, got 0" in capsys.readouterr().err


def test_run_accepts_workers_and_gives_the_same_json(scenario_file: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert main(["run", str(scenario_file), "--quiet", "--workers", "1", "--json", str(one)]) == 0
    assert main(["run", str(scenario_file), "--quiet", "--workers", "2", "--json", str(two)]) == 0
    assert one.read_bytes() == two.read_bytes()


def test_the_readme_sweep_example_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Parallel runs and sweeps\n", 1)[1].split("\n## ", 1)[0]
    (example,) = [b for b in section.split("```") if b.strip().startswith("trackloss sweep scen")]
    args = shlex.split(example.replace("\\\n", " "))
    assert args[:2] == ["trackloss", "sweep"]
    args[args.index("-o") + 1] = str(tmp_path / "out")
    args[2] = str(ROOT / args[2])
    small = ["--set", "population.users=300", "--replications", "1", "--workers", "1", "--quiet"]
    assert main([*args[1:], *small]) == 0  # every linked point keeps its shares summing to 1
    assert len(list((tmp_path / "out").glob("point-*.json"))) == 8


def test_resume_accepts_another_path_to_the_same_scenario(
    scenario_file: Path, tmp_path: Path, monkeypatch
) -> None:
    axes = [parse_axis("client.transport=xhr")]
    run_sweep(scenario_file, axes, tmp_path / "out", workers=1)
    monkeypatch.chdir(scenario_file.parent)
    report = run_sweep(Path(".") / scenario_file.name, axes, tmp_path / "out", resume=True)
    assert [r.status for r in report.records] == ["ok"]
    scenario_file.write_text(scenario_file.read_text().replace("800", "801"))
    with pytest.raises(SweepError, match="holds a different sweep"):
        run_sweep(scenario_file, axes, tmp_path / "out", resume=True)


def test_a_folder_in_use_by_a_running_sweep_is_refused(scenario_file, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    axes = [parse_axis("client.transport=xhr,beacon")]
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
         str(out / simulator.experiments.sweep.LOCK)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SweepError, match="in use by another sweep running now"):
            run_sweep(scenario_file, axes, out)
        assert sorted(p.name for p in out.iterdir()) == [".sweep.lock"]  # nothing checked
    finally:
        holder.kill()
        holder.wait()
    # The holder died without unlocking (as after kill -9): the folder is free again.
    with simulator.experiments.sweep.folder_lock(out):
        pass


def test_a_full_disk_during_a_sweep_is_one_line_and_resumable(
    scenario_file, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "out"
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith("summary.csv"):
            raise OSError(28, "No space left on device")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(simulator.replications.files.os, "replace", replace)
    assert main([*sweep_args(scenario_file, out, "--workers", "1"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{out}: cannot write: no space left on device (errno 28)")
    assert "--resume" in err and err.count("\n") == 1
    assert len(list(out.glob("point-*.json"))) == 2  # the finished points are kept


def test_a_sweep_takes_a_preset_by_name_and_a_file_that_extends_another(tmp_path) -> None:
    shop = tmp_path / "shop.toml"
    shop.write_text('name = "shop"\nextends = "baseline.toml"\n', encoding="utf-8")
    (tmp_path / "baseline.toml").write_text(
        (ROOT / "scenarios" / "baseline.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    small = ["population.users=150", "simulation.horizon_hours=2"]
    axis = parse_axis("client.transport=xhr,beacon")
    for source in (shop, "baseline"):
        report = run_sweep(
            source, [axis], tmp_path / f"out-{Path(source).stem}", overrides=small,
            replications=1, workers=1, executor="serial",
        )  # fmt: skip
        assert [r.status for r in report.records] == ["ok", "ok"]
