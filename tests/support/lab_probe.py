"""Whether this machine can run the lab's packet delay: root, a private network namespace in
which iptables accepts an NFQUEUE rule, and the netfilterqueue package."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess


@functools.cache
def why_no_delay() -> str | None:
    """The reason latency cannot be emulated here, or None when it can."""
    if os.geteuid() != 0:
        return "a network namespace needs root"
    if shutil.which("iptables") is None or shutil.which("unshare") is None:
        return "iptables or unshare is not installed"
    if importlib.util.find_spec("netfilterqueue") is None:
        return "netfilterqueue is not installed (pip install '.[lab]')"
    rule = ["iptables", "-A", "OUTPUT", "-o", "lo", "-p", "tcp", "--dport", "9"]
    rule += ["-j", "NFQUEUE", "--queue-num", "7"]
    try:
        done = subprocess.run(
            ["unshare", "--net", *rule], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"a private network namespace could not be tried ({error})"
    if done.returncode != 0:
        return f"no NFQUEUE rule in a private network namespace: {done.stderr.strip()[:200]}"
    return None
