"""Where simulation tasks run: in this process, in a local process pool, or on a Dask cluster.

A task is a whole replication, shard or sweep point (seconds of work), because a task costs
~0.1 ms in a process pool and ~3-11 ms on Dask. Every backend reports outcomes as
``(index, value, error)`` in *completion* order; callers put them back in index order, so results
never depend on which worker finished first. Nothing a task computes may depend on the worker
running it: its seed travels with it. Only a few tasks per worker are handed out at a time, so
results that finished early and wait for an earlier one stay few, whatever the number of tasks.

The local pool is :mod:`loky`'s: a worker that dies (killed, out of memory) breaks the pool with
an error instead of hanging it, and every task not done by then ends with :class:`WorkerDied`.
A process that runs no other thread (the command line) forks its workers, which start at once
with the simulator already imported; one that does (a notebook, whose kernel runs threads that
a fork would copy mid-lock) starts them fresh, and that pool is
reused by the next run in the same process.
Interrupting (Ctrl-C, or an exception in the caller) cancels the tasks not yet started and kills
the workers; workers ignore SIGINT themselves, so the parent decides, and they exit on their own
if the parent dies (``kill -9``) instead of lingering as orphans.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from contextlib import contextmanager
from typing import Any, Literal

from simulator.replications.allocator import keep_freed_memory

EXECUTORS = ("process", "serial", "dask")
Executor = Literal["process", "serial", "dask"]
Outcome = tuple[int, Any, BaseException | None]
"""``(index of the item, its result or None, the exception it raised or None)``."""


class ExecutorError(RuntimeError):
    """A backend could not be used: Dask not installed, or its scheduler unreachable."""


class OptionError(ValueError):
    """A parallel option out of range (workers, executor, shards); the message names it."""


class WorkerDied(ExecutorError):
    """A worker process ended before its task did: killed, or out of memory.

    It breaks the local pool, so every task not done by then ends with this error too.
    """

    @classmethod
    def from_broken(cls, broken: BaseException) -> WorkerDied:
        """The error for a pool that ``broken`` (the pool's own exception) says has broken."""
        codes = re.search(r"exit codes of the workers are (\{[^}]*\})", str(broken))
        how = f" (exit codes {codes.group(1)})" if codes else ""
        error = cls(
            f"a worker process ended before its task was done{how}: the machine may have run "
            "out of memory, or the process was killed"
        )
        error.__cause__ = broken
        return error


def default_workers() -> int:
    """Number of workers when none is given: every core of this machine."""
    return os.cpu_count() or 1


def check_options(workers: int | None, executor: str, dask_address: str | None) -> None:
    """Reject impossible parallel options with a message naming the parameter.

    Raises
    ------
    OptionError
        If ``workers`` is below 1, ``executor`` unknown, or ``dask_address`` given with another
        executor than ``"dask"``.
    """
    if workers is not None and workers < 1:
        raise OptionError(f"workers must be at least 1, got {workers}")
    if executor not in EXECUTORS:
        raise OptionError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if dask_address is not None and executor != "dask":
        raise OptionError(f"dask_address needs executor='dask', got executor={executor!r}")


def outcomes(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    workers: int | None = None,
    executor: Executor = "process",
    dask_address: str | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> Iterator[Outcome]:
    """Run ``fn`` on every item and yield outcomes as they complete.

    Use it as ``with contextlib.closing(outcomes(...)) as stream:`` so that leaving the loop
    early (an error, Ctrl-C) cancels what is left and stops the workers.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled by reference for worker processes).
    items : sequence
        One task each; must pickle.
    workers : int, optional
        Worker processes (default: all cores). ``1`` runs in this process; so does a single
        item with the process executor, which would gain nothing from a pool.
    executor : {"process", "serial", "dask"}
        ``serial`` always runs in this process.
    dask_address : str, optional
        Dask scheduler address, or ``"local"`` (the default for ``executor="dask"``) to start a
        :class:`distributed.LocalCluster` with ``workers`` single-threaded worker processes.
    meanwhile : callable, optional
        Called once in this process while the tasks run: in a local pool as soon as the workers
        have their first tasks, otherwise before the first task. Work the caller needs only
        afterwards (imports) then overlaps the workers' instead of delaying their start.

    Yields
    ------
    tuple of (int, object, BaseException or None)
        Index of the item, what ``fn`` returned (``None`` on error), and the error.
    """
    check_options(workers, executor, dask_address)
    n = default_workers() if workers is None else workers
    started = meanwhile or (lambda: None)
    if executor == "dask":
        started()
        yield from _dask(fn, items, n, dask_address or "local")
    elif executor == "serial" or n == 1 or len(items) <= 1:
        started()
        yield from _serial(fn, items)
    else:
        yield from _processes(fn, items, min(n, len(items)), started)


def _serial(fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Outcome]:
    for i, item in enumerate(items):
        try:
            value = fn(item)
        except Exception as error:  # noqa: BLE001 - handed to the caller, who decides
            yield i, None, error
        else:
            yield i, value, None


# --------------------------------------------------------------------------- process pool

IN_FLIGHT_PER_WORKER = 2
"""Tasks handed to the pool per worker at a time: one running, one queued, so a worker never
waits for the parent, while results that finished early (and wait for an earlier one to be
folded in order) stay a handful, however many tasks a run has."""


def _worker_init() -> None:
    """Set up a pool worker: leave Ctrl-C to the parent, and exit soon after it dies.

    loky reports a worker that dies to the parent, and a worker notices a dead parent when it
    next reads a task or writes a result; a task can run for minutes, so a thread also checks
    the parent twice a second, and the worker exits at once instead of finishing work nobody
    will read (``kill -9`` of the parent leaves no orphans).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    keep_freed_memory()  # a forked worker has it already; a fresh one (a notebook's) not
    # What the worker inherited or imported lives as long as it does: the full collection loky
    # forces after a worker's first task (to measure its memory) then need not walk it all.
    gc.freeze()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


TRACKER_NOTICES = "ignore:resource_tracker:UserWarning"
"""Warning filter for loky's resource tracker, a process of its own that takes this
interpreter's ``-W`` options. After a Ctrl-C the workers are killed while they hold
semaphores, and the tracker then warns about each one it cleans up: the user asked to stop,
so these lines are no news, and they came after "interrupted", at random."""


def _quiet_resource_tracker() -> None:
    """Hand :data:`TRACKER_NOTICES` to the resource tracker loky starts (once is enough)."""
    if TRACKER_NOTICES not in sys.warnoptions:
        sys.warnoptions.append(TRACKER_NOTICES)


def forks_workers() -> bool:
    """Whether a pool started now forks its workers from this process.

    Only on Linux, and only while this process runs no thread but its main one (tqdm's
    monitor aside: it holds no lock a worker takes, as workers draw no bars). A fork copies
    the process as it is, so a worker starts in milliseconds with every module imported, where
    a fresh interpreter takes most of a second; but a lock held by another thread at that
    moment would stay held in the worker forever.
    """
    if sys.platform != "linux":
        return False
    main = threading.main_thread()
    return all(t is main or type(t).__name__ == "TMonitor" for t in threading.enumerate())


def _pool(n: int) -> tuple[Any, bool]:
    """A :mod:`loky` pool of ``n`` workers, and whether it is this run's own (to shut down)."""
    import loky

    if forks_workers():
        from loky.backend.context import get_context

        with warnings.catch_warnings():  # loky's caution about threads, checked above
            warnings.filterwarnings("ignore", message="`fork` start method")
            context = get_context("fork")
        return loky.ProcessPoolExecutor(n, context=context, initializer=_worker_init), True
    # Reusable: a second run in the same process (compare, recommend, a notebook) finds its
    # workers started and their modules imported.
    pool = loky.get_reusable_executor(max_workers=n, initializer=_worker_init, reuse="auto")
    return pool, False


def _processes(
    fn: Callable[[Any], Any], items: Sequence[Any], n: int, started: Callable[[], None]
) -> Iterator[Outcome]:
    """A :mod:`loky` pool: workers that die are reported, workers whose parent dies exit."""
    _quiet_resource_tracker()
    pool, own = _pool(n)
    index: dict[Any, int] = {}
    todo = iter(enumerate(items))

    def submit(count: int) -> set:
        futures = set()
        for i, item in itertools.islice(todo, count):
            try:
                future = pool.submit(fn, item)
            except BrokenExecutor as broken:  # a worker died before this task was handed over
                future = Future()
                future.set_exception(broken)
            index[future] = i
            futures.add(future)
        return futures

    finished = False
    try:
        pending = submit(IN_FLIGHT_PER_WORKER * n)
        started()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            pending |= submit(len(done))
            for future in sorted(done, key=index.__getitem__):
                error = future.exception()
                if isinstance(error, BrokenExecutor):
                    error = WorkerDied.from_broken(error)
                yield index.pop(future), None if error else future.result(), error
        finished = True
    finally:
        if not finished:
            # Ctrl-C or an error: running tasks are lost anyway, so stop the workers now.
            pool.shutdown(wait=False, kill_workers=True)
        elif own:
            pool.shutdown(wait=True)


# --------------------------------------------------------------------------- dask


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C while child processes start, so that they keep ignoring it.

    An ignored signal stays ignored across ``fork`` and ``exec``, whichever thread starts the
    process (a blocked mask would be per thread, and Dask starts workers from its own threads).
    A Ctrl-C during those seconds of start-up is lost: press it again.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may change signal handling
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _dask(
    fn: Callable[[Any], Any], items: Sequence[Any], n: int, address: str
) -> Iterator[Outcome]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ExecutorError(
            "the Dask executor needs the optional extra: pip install 'trackloss[dask]'"
        ) from None
    cluster = client = None
    live: set = set()
    try:
        try:
            if address == "local":
                # A Ctrl-C then stops this process, which closes the cluster, instead of every
                # worker and nanny printing its own traceback.
                with _sigint_ignored():
                    cluster = LocalCluster(
                        n_workers=n,
                        threads_per_worker=1,  # pure Python simulation: one thread a process
                        processes=True,
                        dashboard_address=":0",  # any free port: never clash with another
                        # Task errors reach us through their futures; workers losing the
                        # scheduler while it closes (after Ctrl-C) is expected, not news.
                        silence_logs=logging.CRITICAL,
                    )
                client = Client(cluster)
            else:
                client = Client(address)  # waits distributed.comm.timeouts.connect (30 s)
        except (OSError, TimeoutError) as error:
            raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {error}") from None
        run = uuid.uuid4().hex[:8]
        slots = IN_FLIGHT_PER_WORKER * max(1, sum(client.nthreads().values()))
        todo = iter(enumerate(items))
        index: dict[str, int] = {}

        def submit(count: int) -> list:
            futures = []
            for i, item in itertools.islice(todo, count):
                future = client.submit(fn, item, key=f"trackloss-{run}-{i}", pure=False)
                index[future.key] = i
                futures.append(future)
            live.update(futures)
            return futures

        stream = as_completed(submit(slots))
        for future in stream:
            live.discard(future)
            for more in submit(1):
                stream.add(more)
            error = future.exception() if future.status == "error" else None
            yield index.pop(future.key), None if error else future.result(), error
    finally:
        if client is not None:
            client.cancel(list(live))
            client.close()
        if cluster is not None:
            cluster.close()


__all__ = [
    "EXECUTORS",
    "ExecutorError",
    "OptionError",
    "WorkerDied",
    "check_options",
    "default_workers",
    "forks_workers",
    "outcomes",
]
