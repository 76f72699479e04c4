"""One-way latency on loopback: a private network namespace and a userspace packet delay.

The lab needs every packet between the browser and the collector to take ``L`` milliseconds
each way, so that a new connection pays its TCP handshake (about ``2L`` before the request can
be written), a CORS preflight pays one more round trip, and a response reaches the page ``L``
after the collector sends it. Throttling inside the browser (CDP network conditions) only
delays what the page sees, not what the collector receives, so the delay is put in the kernel's
path instead:

* the lab process moves into a new, empty network namespace (``unshare(CLONE_NEWNET)``), in
  which only the loopback interface exists: nothing the browser sends can leave the machine;
* two ``iptables`` rules send every TCP packet to or from the collector's port on loopback
  to an NFQUEUE;
* :class:`PacketDelay` (the ``netfilterqueue`` package) holds each queued packet for ``L`` and
  then lets it through, in arrival order.

Each packet crosses the ``OUTPUT`` chain once on loopback, so both directions are delayed by
``L``: the round trip is ``2L``, for the handshake, the request, the preflight and the response
alike. What this does not emulate: loss, jitter, bandwidth limits, and TCP's reaction to a long
path (the congestion window opens as fast as on a real loopback). Page loads from the page
server are not delayed. This needs root (or ``CAP_NET_ADMIN`` with ``CAP_SYS_ADMIN``), the
``iptables`` command and the ``netfilterqueue`` package; :func:`enter_private_network` says
which is missing.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import multiprocessing
import os
import select
import shutil
import socket
import subprocess
import time
from typing import Any

CLONE_NEWNET = 0x40000000
"""The ``unshare`` flag for a new network namespace (``<sched.h>``)."""
QUEUE_NUMBER = 7
"""The NFQUEUE number the collector's packets are sent to."""


class LatencyUnavailable(RuntimeError):
    """Latency cannot be emulated on this machine; the message says why."""


def enter_private_network() -> None:
    """Move this process into a new network namespace with only loopback, which is brought up.

    Call it before any thread is started: the namespace is the calling thread's, and threads
    and processes started afterwards inherit it.

    Raises
    ------
    LatencyUnavailable
        When the system refuses (not root, no user namespaces) or ``ip`` is missing.
    """
    if shutil.which("ip") is None:
        raise LatencyUnavailable("the `ip` command (iproute2) is not installed")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise LatencyUnavailable(
            f"a private network namespace was refused ({os.strerror(error)}: it needs root)"
        )
    _run(["ip", "link", "set", "lo", "up"])


def queue_collector_packets(port: int) -> None:
    """Send every loopback TCP packet to or from ``port`` to the delay queue.

    Parameters
    ----------
    port : int
        The collector's port.

    Raises
    ------
    LatencyUnavailable
        When ``iptables`` is missing or refuses the rules.
    """
    if shutil.which("iptables") is None:
        raise LatencyUnavailable("the `iptables` command is not installed")
    for direction in ("--dport", "--sport"):
        _run(
            ["iptables", "-A", "OUTPUT", "-o", "lo", "-p", "tcp", direction, str(port)]
            + ["-j", "NFQUEUE", "--queue-num", str(QUEUE_NUMBER)]
        )


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise LatencyUnavailable(f"`{' '.join(command)}` failed: {reason[0]}")


class PacketDelay:
    """Hold every queued packet for ``delay_ms`` milliseconds, then let it through.

    A separate process reads the queue and releases packets in the order they came, so a
    flow's packets are never reordered and the browser driver's work in this process does not
    hold them up. The delay can be changed between lab cells.

    Parameters
    ----------
    delay_ms : float
        The one-way delay, in milliseconds.

    Raises
    ------
    LatencyUnavailable
        When ``netfilterqueue`` is missing or the queue cannot be opened.
    """

    def __init__(self, delay_ms: float = 0.0) -> None:
        try:
            import netfilterqueue  # noqa: F401 - checked here, used in the child process
        except ImportError as error:
            raise LatencyUnavailable(
                "the netfilterqueue package is missing (pip install 'trackloss[lab]'; it "
                "needs libnetfilter-queue-dev to build)"
            ) from error
        context = multiprocessing.get_context("fork")  # the child shares the namespace
        self._delay = context.Value("d", float(delay_ms))
        self._count = context.Value("q", 0)
        self._stop = context.Event()
        ours, theirs = context.Pipe()
        self._process = context.Process(
            target=_release_in_order,
            args=(self._delay, self._count, self._stop, theirs),
            name="packet-delay",
            daemon=True,
        )
        self._process.start()
        started = ours.recv() if ours.poll(10) else "the packet queue did not start"
        if started != "ok":
            self.close()
            raise LatencyUnavailable(f"the packet queue could not be opened: {started}")

    @property
    def delay_ms(self) -> float:
        """The one-way delay, in milliseconds."""
        return float(self._delay.value)

    @delay_ms.setter
    def delay_ms(self, value: float) -> None:
        self._delay.value = float(value)

    @property
    def packets(self) -> int:
        """Packets delayed so far."""
        return int(self._count.value)

    def close(self) -> None:
        """Release what is held and stop the process."""
        self._stop.set()
        self._process.join(timeout=2)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def _release_in_order(delay: Any, count: Any, stop: Any, pipe: Any) -> None:
    from netfilterqueue import NetfilterQueue

    held: list[tuple[float, int, Any]] = []
    numbers = itertools.count()

    def hold(packet: Any) -> None:
        packet.retain()
        heapq.heappush(held, (time.monotonic() + delay.value / 1000, next(numbers), packet))
        with count.get_lock():
            count.value += 1

    queue = NetfilterQueue()
    try:
        queue.bind(QUEUE_NUMBER, hold)
    except OSError as error:
        pipe.send(str(error))
        return
    pipe.send("ok")
    reader = socket.fromfd(queue.get_fd(), socket.AF_NETLINK, socket.SOCK_RAW)
    try:
        while not stop.is_set():
            now = time.monotonic()
            while held and held[0][0] <= now:
                heapq.heappop(held)[2].accept()
            wait = min(held[0][0] - now, 0.05) if held else 0.05
            readable, _, _ = select.select([reader], [], [], max(wait, 0.0))
            if readable:
                queue.run(block=False)
    finally:
        for _, _, packet in held:
            packet.accept()
        reader.close()
        queue.unbind()
