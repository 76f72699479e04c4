"""Writing results after a run: full disks, unwritable targets, killed writers, closed pipes.

The simulation may take hours; a file that cannot be written at the end must cost one clear
line (path and reason) and exit 2, never a traceback, and never the files already written.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from simulator.cli.main import main
from simulator.cli.options import unwritable
from simulator.replications import files
from simulator.replications.files import STALE_SECONDS, write_json_atomic, write_text_atomic


@pytest.fixture
def tiny(minimal_scenario_dict: dict[str, Any]) -> dict[str, Any]:
    minimal_scenario_dict["population"]["users"] = 40
    minimal_scenario_dict["simulation"] = {"horizon_hours": 2, "drain_hours": 1}
    return minimal_scenario_dict


def fail_replacing(monkeypatch, suffix: str, error: OSError) -> None:
    """Make the final step of writing any file ending in ``suffix`` raise ``error``."""
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith(suffix):
            raise error
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(files.os, "replace", replace)


def test_full_disk_keeps_the_old_file_and_the_other_results(
    tiny, write_scenario, tmp_path, capsys, monkeypatch
):
    scenario = write_scenario(tiny)
    record, report = tmp_path / "r.json", tmp_path / "r.html"
    record.write_text('{"old": true}\n', encoding="utf-8")
    fail_replacing(monkeypatch, ".json", OSError(errno.ENOSPC, "No space left on device"))
    argv = ["run", str(scenario), "--quiet", "--json", str(record), "--report", str(report)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith("Scenario 'minimal'")  # the results were shown
    lines = captured.err.splitlines()
    assert lines == [
        f"{record}: cannot write the JSON record: no space left on device (errno 28)",
        f"trackloss run: the JSON record not written; written: the report in {report}",
    ]
    assert json.loads(record.read_text(encoding="utf-8")) == {"old": True}  # not lost
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_folder_that_became_unwritable_says_nothing_was_written(
    tiny, write_scenario, tmp_path, capsys, monkeypatch
):
    scenario = write_scenario(tiny)
    record = tmp_path / "out" / "r.json"
    record.parent.mkdir()

    def refuse(*args, dir=None, **kwargs):  # noqa: A002 - mkstemp's own keyword
        raise PermissionError(errno.EACCES, "Permission denied", str(dir))

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)  # the check before the run passed
    assert main(["run", str(scenario), "--quiet", "--json", str(record)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{record.parent}: cannot write the JSON record: permission denied (errno 13)",
        "trackloss run: the JSON record not written; no result file was written",
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_a_real_read_only_folder_is_refused_before_simulating(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert unwritable(folder / "r.json") == f"folder {str(folder)!r} is not writable"
    finally:
        folder.chmod(0o755)


def test_a_parent_that_is_a_file_is_not_called_a_missing_folder(tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    assert unwritable(blocker / "r.json") == f"{str(blocker)!r} is a file, not a folder"
    assert unwritable(blocker / "sub" / "r.json") == f"{str(blocker)!r} is a file, not a folder"
    assert unwritable(tmp_path / "absent" / "r.json") == (
        f"folder {str(tmp_path / 'absent')!r} does not exist"
    )


def test_temporary_files_of_a_killed_writer_are_cleaned_on_the_next_write(tmp_path):
    target = tmp_path / "r.json"
    stale = tmp_path / ".r.json.abc123.tmp"
    live = tmp_path / ".r.json.def456.tmp"
    other = tmp_path / ".other.json.abc123.tmp"
    for path in (stale, live, other):
        path.write_text("{", encoding="utf-8")
    old = time.time() - STALE_SECONDS - 5
    for path in (stale, other):
        os.utime(path, (old, old))
    write_json_atomic(target, {"a": 1})
    assert not stale.exists()  # left by a writer killed long ago
    assert live.exists()  # may belong to a writer still at work
    assert other.exists()  # another file's, left for its own next write
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": 1}


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    fail_replacing(monkeypatch, ".md", OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(OSError, match="No space left"):
        write_text_atomic(tmp_path / "r.md", "text")
    assert list(tmp_path.iterdir()) == []


def test_a_closed_pipe_ends_quietly_and_still_writes_the_files(tiny, write_scenario, tmp_path):
    scenario = write_scenario(tiny)
    record = tmp_path / "r.json"
    argv = [sys.executable, "-m", "simulator", "run", str(scenario), "--quiet", "--workers", "1"]
    proc = subprocess.Popen(
        [*argv, "--json", str(record)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    proc.stdout.close()  # like `| head` that has read all it wanted
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert err == ""
    assert json.loads(record.read_text(encoding="utf-8"))["results"]
