"""Progress bars appear on a terminal or in a notebook only, and never with --quiet."""

from __future__ import annotations

import io
import subprocess
import sys
import types

import pytest
from support.lossy_factory import lossy_dict

from simulator.cli.main import main
from simulator.config.scenario import Scenario
from simulator.replications import runner
from simulator.replications.progress import in_notebook, progress_bar, progress_wanted


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_means_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not progress_wanted("auto")
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert progress_wanted("auto")
    assert not progress_wanted(False) and progress_wanted(True)


def test_auto_means_a_notebook_kernel(monkeypatch) -> None:
    class ZMQInteractiveShell:  # the class name IPython gives a Jupyter kernel's shell
        pass

    fake = types.ModuleType("IPython")
    fake.get_ipython = ZMQInteractiveShell
    monkeypatch.setitem(sys.modules, "IPython", fake)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert in_notebook() and progress_wanted("auto")
    fake.get_ipython = lambda: None  # plain python with IPython merely imported
    assert not in_notebook()


def test_a_bar_counts_tasks_on_a_terminal(monkeypatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    sc = Scenario.model_validate(lossy_dict(users=200, replications=3))
    runner.run(sc, workers=1, progress="auto")
    assert "3/3" in terminal.getvalue() and "replication" in terminal.getvalue()
    one = _Terminal()
    monkeypatch.setattr(sys, "stderr", one)
    runner.run(sc, replications=1, workers=1, progress="auto")  # one task: simulated time in %
    assert "100/100" in one.getvalue()


def test_disabled_bars_write_nothing(capsys) -> None:
    with progress_bar(5, "x", "task", False) as bar:
        bar.update(5)
        bar.set_postfix(done=5)
    assert capsys.readouterr().err == "" and bar.n == 5


def test_no_bar_imports_no_tqdm() -> None:
    # tqdm imports asyncio: 0.05 to 0.1 s of a command's start-up, for a bar nobody sees.
    code = (
        "import sys\n"
        "from simulator.replications.progress import progress_bar\n"
        "with progress_bar(3, 'x', 'task', 'auto') as bar:\n"
        "    bar.update()\n"
        "print('tqdm' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("quiet", [True, False])
def test_run_prints_no_bar_when_not_on_a_terminal(write_scenario, capsys, quiet: bool) -> None:
    path = write_scenario(lossy_dict(users=200, replications=2))
    assert main(["run", str(path), "--workers", "1", *(["--quiet"] if quiet else [])]) == 0
    assert capsys.readouterr().err == ""


def test_quiet_silences_the_bar_even_on_a_terminal(write_scenario, monkeypatch, capsys) -> None:
    path = write_scenario(lossy_dict(users=200, replications=2))
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["run", str(path), "--workers", "1", "--quiet"]) == 0
    assert terminal.getvalue() == ""
    assert main(["run", str(path), "--workers", "1"]) == 0
    assert "2/2" in terminal.getvalue()


def _small_log(tmp_path) -> str:
    """Thirty orders the server saw, two in three of them the client too, over six visitors."""
    rows = ["event_key,path,event,time,visitor"]
    for i in range(30):
        copy = f"order,2026-01-01T10:{i:02d}:00Z,v{i % 6}"
        rows.append(f"k{i},server,{copy}")
        if i % 3:
            rows.append(f"k{i},client,{copy}")
    path = tmp_path / "log.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def test_estimate_names_each_stage_as_it_begins(tmp_path) -> None:
    pytest.importorskip("duckdb")
    pytest.importorskip("pyarrow")
    from simulator.experiments.estimate.estimation import STAGES, estimate

    seen: list[str] = []
    estimate(_small_log(tmp_path), on_stage=seen.append)
    assert seen == list(STAGES)


def test_estimate_shows_its_stages_on_a_terminal_only(tmp_path, monkeypatch, capsys) -> None:
    pytest.importorskip("duckdb")
    pytest.importorskip("pyarrow")
    log = _small_log(tmp_path)
    assert main(["estimate", log]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: no bar
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["estimate", log, "--quiet"]) == 0
    assert terminal.getvalue() == ""
    assert main(["estimate", log]) == 0
    shown = terminal.getvalue()
    assert "estimate: reading and pairing the copies (stage 1 of 4" in shown
    assert "estimate: done (stage 4 of 4" in shown
    # Stages of unequal length: no rate and no time left that would mislead.
    assert "stage/s" not in shown and "s/stage" not in shown and "<" not in shown
