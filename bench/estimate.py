"""Speed and memory of ``trackloss estimate`` on a generated Parquet log.

    python bench/estimate.py [--rows 10000000] [--by device] [--repeats 3] [--out DIR]

Writes a log of about ``--rows`` copies (visitors with ten events each on average, 20% of them
blocked on the client, each path missing events independently otherwise), a row group at a
time, then runs ``python -m simulator estimate`` on it in fresh processes (``--repeats`` times)
and reports, as medians, the rows per second (wall time of the whole command, start-up and
reading included), the processor time it used (user and system, every thread) and the peak
resident memory of the process. The load average is recorded beside them: on a shared machine
the wall time grows with the other work while the processor time does not. Targets: at least 2
million rows a second with under 1 GiB on a log of 10 million rows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
EVENTS = np.array(["page_view", "click", "add_to_cart", "order"])
DEVICES = np.array(["desktop", "mobile", "tablet"])
CHUNK = 1_000_000


def generate(path: Path, rows: int, seed: int = 1) -> int:
    """Write about ``rows`` copies to ``path``; return the number written."""
    rng = np.random.default_rng(seed)
    writer, written, key0, visitor0 = None, 0, 0, 0
    while written < rows:
        visitors = max(1, min(CHUNK, rows - written) // 17)  # ~17 copies per visitor
        per = rng.poisson(10, visitors) + 1
        v = np.repeat(np.arange(visitor0, visitor0 + visitors), per)
        n = v.size
        blocked = (rng.random(visitors) < 0.2)[v - visitor0]
        client = ~blocked & (rng.random(n) < 0.9)
        server = rng.random(n) < 0.85
        keys = np.arange(key0, key0 + n)
        event = rng.choice(len(EVENTS), n, p=[0.6, 0.3, 0.07, 0.03])
        device = rng.choice(len(DEVICES), visitors, p=[0.5, 0.4, 0.1])[v - visitor0]
        t = 1_767_225_600_000 + np.sort(rng.integers(0, 86_400_000, n))
        parts = []
        for mask, path_name in ((client, "client"), (server, "server")):
            parts.append(
                pa.table(
                    {
                        "event_key": keys[mask],
                        "path": pa.array(np.full(mask.sum(), path_name)),
                        "event": pa.array(EVENTS[event[mask]]),
                        "time": pa.array(t[mask], pa.timestamp("ms", tz="UTC")),
                        "visitor": v[mask],
                        "device": pa.array(DEVICES[device[mask]]),
                    }
                )
            )
        table = pa.concat_tables(parts)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
        written += table.num_rows
        key0 += n
        visitor0 += visitors
    writer.close()
    return written


TARGETS = {"rows_per_second_min": 2_000_000, "peak_rss_mib_max": 1024}


def measure(log: Path, by: str) -> dict:
    """Run the command once in a fresh process; its wall and processor time and peak memory."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "simulator", "estimate", str(log), "--by", by]
    start = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status:
        raise SystemExit(f"the estimate failed with status {status}")
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
        "load_average": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--by", default="device")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / f"estimate-{args.rows}.parquet"
    if not log.exists():
        generate(log, args.rows)
    rows = pq.ParquetFile(log).metadata.num_rows
    runs = [measure(log, args.by) for _ in range(args.repeats)]
    seconds = statistics.median(r["seconds"] for r in runs)
    peak = max(r["peak_rss_mib"] for r in runs)
    record = {
        "rows": rows,
        "by": args.by,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 2),
        "rows_per_cpu_second": round(rows / statistics.median(r["cpu_seconds"] for r in runs)),
        "peak_rss_mib": round(peak, 1),
        "load_average": [round(r["load_average"], 2) for r in runs],
        "cpus": os.cpu_count(),
        "targets": TARGETS,
        "meets": {
            "rows_per_second": rows / seconds >= TARGETS["rows_per_second_min"],
            "peak_rss": peak <= TARGETS["peak_rss_mib_max"],
        },
        "runs": runs,
    }
    (args.out / f"estimate-{args.rows}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "runs"}))


if __name__ == "__main__":
    main()
