"""The allocator keeps freed arrays for the next ones, in the program and where asked."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap

import pytest

GLIBC = sys.platform == "linux" and platform.libc_ver()[0] == "glibc"

ROUNDS = 40
ARRAYS = 10
CHURN = textwrap.dedent(
    f"""
    import json, resource, sys
    import numpy as np
    from simulator.replications.allocator import keep_freed_memory

    kept = keep_freed_memory() if sys.argv[1] == "keep" else False

    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    def round_():
        # Arrays of 200 kB, as a window's are, written through and all freed at the end.
        arrays = [np.ones(25_000) for _ in range({ARRAYS})]
        del arrays

    round_()  # the first round's pages are new whatever the settings
    before = faults()
    for _ in range({ROUNDS}):
        round_()
    print(json.dumps({{"kept": kept, "faults": faults() - before}}))
    """
)


def _churn(mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
def test_kept_memory_spares_the_faults_of_arrays_made_again_and_again() -> None:
    default, kept = _churn("default"), _churn("keep")
    assert kept["kept"] and not default["kept"]
    # By default glibc hands the 2 MB freed at the heap's top back to the kernel every round, and
    # the next round faults its ~490 pages in again; kept, they are reused.
    pages = ARRAYS * 200_000 // 4096
    assert default["faults"] > ROUNDS * pages // 2
    assert kept["faults"] < ROUNDS * pages // 20


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
def test_the_program_keeps_freed_memory() -> None:
    code = textwrap.dedent(
        """
        import sys
        from simulator.cli import main
        from simulator.replications import allocator
        sys.argv = ["trackloss", "--version"]
        try:
            main.program()
        except SystemExit:
            pass
        print(allocator._applied)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-1] == "True"


def test_asking_twice_gives_the_same_answer() -> None:
    code = "from simulator.replications.allocator import keep_freed_memory as k; print(k(), k())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, second = done.stdout.split()
    assert first == second == str(GLIBC)
