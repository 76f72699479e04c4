"""The notebooks are executable documentation: each runs top to bottom, fast, with no error.

Each notebook is executed with nbclient in a fresh kernel whose working folder is
``notebooks/`` (as when a reader opens it), and must finish within its time budget without a
warning on stderr (such as tqdm's ``IProgress not found``). A cell that raises fails the test
with the cell's traceback. Notebooks are stored without outputs, so that
the repository holds the code and the library's numbers are never frozen in a file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = [
    "01_quickstart.ipynb",
    "02_who_goes_missing.ipynb",
    "03_page_unload_and_transports.ipynb",
    "04_client_or_server.ipynb",
    "05_estimate_your_loss.ipynb",
    "06_sweeps.ipynb",
]
BUDGET_SECONDS = 60.0
"""Each notebook runs top to bottom in under a minute."""


def test_every_notebook_is_listed() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: strip outputs"


@pytest.mark.wall_clock
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # The kernel imports this checkout's simulator, whatever is installed, and draws off-screen.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = NotebookClient(
        nb,
        timeout=BUDGET_SECONDS * 2,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{name} failed:\n{error}", pytrace=False)
    elapsed = time.perf_counter() - start
    stderr = [
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    ]
    assert not [t for t in stderr if "Warning" in t], f"{name} printed warnings: {stderr}"
    assert elapsed < BUDGET_SECONDS, f"{name} took {elapsed:.0f} s (budget {BUDGET_SECONDS:.0f} s)"
    print(f"{name}: {elapsed:.1f} s")
