"""Speed and memory of ``trackloss estimate`` on a generated Parquet log.

    python bench/estimate.py [--rows 10000000] [--by device] [--out DIR]

Writes a log of about ``--rows`` copies (visitors with ten events each on average, 20% of them
blocked on the client, each path missing events independently otherwise), a row group at a
time, then runs ``python -m simulator estimate`` on it in a fresh process and reports the rows
per second (wall time of the whole command, reading included) and the peak resident memory of
that process. The issue's target: at least 2 million rows a second with under 1 GiB on a log of
10 million rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--by", default="device")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / f"estimate-{args.rows}.parquet"
    if not log.exists():
        generate(log, args.rows)
    rows = pq.ParquetFile(log).metadata.num_rows
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "simulator", "estimate", str(log), "--by", args.by]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    record = {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "by": args.by,
    }
    (args.out / f"estimate-{args.rows}.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record))


if __name__ == "__main__":
    main()
