"""The lab's latency: every packet to and from the collector's port waits ``L`` each way.

Runs in a child process (it moves into its own network namespace). Skipped, with the reason,
where that cannot run (:func:`support.lab_probe.why_no_delay`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.lab_probe import why_no_delay

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(why_no_delay() is not None, reason=str(why_no_delay())),
]

PROBE = """
import json, socket, threading, time
from simulator.experiments.lab.network import (
    PacketDelay, enter_private_network, queue_collector_packets)

enter_private_network()
delayed, plain = socket.socket(), socket.socket()
for server in (delayed, plain):
    server.bind(("127.0.0.1", 0)); server.listen(16)
queue_collector_packets(delayed.getsockname()[1])
delay = PacketDelay()

def echo(server):
    while True:
        conn, _ = server.accept()
        conn.sendall(conn.recv(16)); conn.close()

for server in (delayed, plain):
    threading.Thread(target=echo, args=(server,), daemon=True).start()
out = {}
for name, server, latency in (("plain", plain, 100), ("0", delayed, 0), ("40", delayed, 40),
                              ("100", delayed, 100)):
    delay.delay_ms = latency
    start = time.monotonic()
    s = socket.create_connection(server.getsockname())
    connected = time.monotonic()
    s.sendall(b"x"); s.recv(16)
    out[name] = [1000 * (connected - start), 1000 * (time.monotonic() - connected)]
    s.close()
out["packets"] = delay.packets
delay.close()
print(json.dumps(out))
"""


def test_the_handshake_and_each_round_trip_take_two_latencies() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    for latency in (40, 100):
        connect, round_trip = out[str(latency)]
        # A packet is never released before its time; the upper bound allows a loaded machine.
        assert 2 * latency <= connect < 2 * latency + 150
        assert 2 * latency <= round_trip < 2 * latency + 150
    # Other ports (the page server) are not delayed, and a delay of 0 adds next to nothing.
    assert max(out["plain"]) < 50
    assert max(out["0"]) < 50
    assert out["packets"] > 0
