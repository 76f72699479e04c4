"""Speed and memory of ``trackloss estimate`` on a generated Parquet log.

    python bench/estimate.py [--rows 10000000] [--by device] [--repeats 3] [--keys text]
                             [--agents] [--out DIR]

Writes a log of about ``--rows`` copies (visitors with ten events each on average, 20% of them
blocked on the client, each path missing events independently otherwise), a row group at a
time, then runs ``python -m simulator estimate`` on it in fresh processes (``--repeats`` times)
and reports, as medians, the rows per second (wall time of the whole command, start-up and
reading included), the processor time it used (user and system, every thread) and the peak
resident memory of the process. The load average is recorded beside them: on a shared machine
the wall time grows with the other work while the processor time does not. Targets: at least 2
million rows a second with under 1 GiB on a log of 10 million rows.

The event keys are integers; ``--keys text`` writes the same log with 32-character hex keys
(as message ids or UUIDs are), which the estimate pairs by their 64-bit hash. Each repeat also
times, in a fresh process, the ceiling of the pairing: DuckDB reading the key column alone and
grouping it (one ``GROUP BY`` over the key, with the estimate's memory limit and settings), the
least any pairing by key costs on this machine.

Real logs name each copy's user agent, and the estimate then looks every distinct one up in the
crawler list and drops crawlers' events. ``--agents`` writes the log with a ``user_agent``
column: each visitor keeps one of :data:`BROWSER_AGENTS` browser strings (Chrome, Firefox,
Safari and Edge of many versions and systems, as a site sees thousands), and a share
:data:`CRAWLER_SHARE` of visitors are crawlers, whose copies reach the server only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
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
BROWSER_AGENTS = 5_000
"""Distinct browser user agents in a log written with ``--agents``."""
CRAWLER_SHARE = 0.03
"""Share of a log's visitors that are crawlers (``--agents``)."""
CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/"
    "120.0.6099.71 Safari/537.36",
]
"""User agents of the crawler visitors in a log written with ``--agents``."""


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


def with_text_keys(path: Path, out: Path) -> None:
    """Write ``path`` again to ``out`` with each integer key replaced by its 32-character MD5."""
    import duckdb

    duckdb.sql(
        f"COPY (SELECT md5(CAST(event_key AS VARCHAR)) AS event_key, * EXCLUDE (event_key) "
        f"FROM read_parquet('{path}')) TO '{out}' (FORMAT parquet, ROW_GROUP_SIZE {CHUNK})"
    )


def browser_agents(n: int, seed: int = 2) -> list[str]:
    """``n`` distinct browser user agents of the shapes the four main browsers send."""
    rng = np.random.default_rng(seed)
    systems = ["Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7",
               "X11; Linux x86_64", "Linux; Android 14; Pixel 8", "Linux; Android 13; SM-S911B",
               "iPhone; CPU iPhone OS 17_4 like Mac OS X"]  # fmt: skip
    out: set[str] = set()
    while len(out) < n:
        system = systems[rng.integers(len(systems))]
        major, build, patch = rng.integers(100, 131), rng.integers(4000, 7000), rng.integers(200)
        webkit = f"AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.{build}.{patch}"
        kind = rng.integers(4)
        if kind == 0:
            out.add(f"Mozilla/5.0 ({system}) {webkit} Safari/537.36")
        elif kind == 1:
            out.add(f"Mozilla/5.0 ({system}) {webkit} Safari/537.36 Edg/{major}.0.{build}.{patch}")
        elif kind == 2:
            out.add(f"Mozilla/5.0 ({system}; rv:{major}.0) Gecko/20100101 Firefox/{major}.0")
        else:
            version = f"{major % 10 + 10}.{patch % 7}"
            out.add(f"Mozilla/5.0 ({system}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                    f"Version/{version} Mobile/15E148 Safari/604.1")  # fmt: skip
    return sorted(out)


def with_agents(path: Path, out: Path) -> None:
    """Write ``path`` again to ``out`` with a ``user_agent`` column (see ``--agents``)."""
    import duckdb

    con = duckdb.connect()
    agents = browser_agents(BROWSER_AGENTS)
    con.execute("CREATE TABLE agent (i BIGINT, ua VARCHAR)")
    con.executemany("INSERT INTO agent VALUES (?, ?)", list(enumerate(agents)))
    con.executemany(
        "INSERT INTO agent VALUES (?, ?)", [(-1 - i, ua) for i, ua in enumerate(CRAWLERS)]
    )
    # A visitor is a crawler when its hash falls in the lowest CRAWLER_SHARE of the range.
    crawler = f"hash(visitor) < {int(CRAWLER_SHARE * 2**64)}::UBIGINT"
    which = (
        f"CASE WHEN {crawler} THEN -1 - CAST(hash(visitor, 1) % {len(CRAWLERS)} AS BIGINT)"
        f" ELSE CAST(hash(visitor, 2) % {len(agents)} AS BIGINT) END"
    )
    con.execute(
        f"COPY (SELECT log.*, agent.ua AS user_agent FROM read_parquet('{path}') AS log "
        f"JOIN agent ON agent.i = {which} WHERE NOT ({crawler} AND path = 'client')) "
        f"TO '{out}' (FORMAT parquet, ROW_GROUP_SIZE {CHUNK})"
    )


def _write_logs(log: Path, rows: int, wanted: Path, agents: bool) -> None:
    """Write the integer-key log and, from it, ``wanted`` (text keys or agents) if absent."""
    if not log.exists():
        generate(log, rows)
    if agents and not wanted.exists():
        with_agents(log, wanted)
    elif not wanted.exists():
        with_text_keys(log, wanted)


TARGETS = {"rows_per_second_min": 2_000_000, "peak_rss_mib_max": 1024}
CEILING = """
import sys, tempfile
from pathlib import Path
from simulator.experiments.estimate.log_view import connect, key_sql, source
with tempfile.TemporaryDirectory() as spill:
    con, _ = connect(spill)
    src, types = source(con, Path(sys.argv[1]), None)
    key = key_sql('"event_key"', types["event_key"])
    con.execute(f"CREATE TEMP TABLE k AS SELECT {key} AS key, count(*) AS n FROM {src} "
                f"GROUP BY {key}")
"""
"""A bare scan and GROUP BY of the key column, in the estimate's DuckDB settings."""


def measure(log: Path, by: str, ceiling: bool = False) -> dict:
    """Run the command (or the ceiling) once in a fresh process; wall, processor time, memory."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "simulator", "estimate", str(log), "--by", by]
    if ceiling:
        cmd = [sys.executable, "-c", CEILING, str(log)]
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
    parser.add_argument("--keys", choices=("integer", "text"), default="integer")
    parser.add_argument("--agents", action="store_true", help="with a user_agent column")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / f"estimate-{args.rows}.parquet"
    if args.agents and args.keys == "text":
        parser.error("--agents writes integer keys: leave out --keys text")
    name = f"estimate-{args.rows}" + ("-text" if args.keys == "text" else "")
    name += "-agents" if args.agents else ""
    # Written in a child process: a command started later by this one would otherwise report
    # this process's peak memory as its own (Linux keeps it in the child's ru_maxrss).
    writer = multiprocessing.get_context("spawn").Process(
        target=_write_logs, args=(log, args.rows, args.out / f"{name}.parquet", args.agents)
    )
    writer.start()
    writer.join()
    if writer.exitcode:
        raise SystemExit("writing the log failed")
    log = args.out / f"{name}.parquet"
    rows = pq.ParquetFile(log).metadata.num_rows
    runs, bare = [], []
    for _ in range(args.repeats):  # interleaved, so that both see the same load
        runs.append(measure(log, args.by))
        bare.append(measure(log, args.by, ceiling=True))
    seconds = statistics.median(r["seconds"] for r in runs)
    peak = max(r["peak_rss_mib"] for r in runs)
    bare_seconds = statistics.median(r["seconds"] for r in bare)
    record = {
        "rows": rows,
        "keys": args.keys,
        "user_agents": args.agents,
        "by": args.by,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 2),
        "rows_per_cpu_second": round(rows / statistics.median(r["cpu_seconds"] for r in runs)),
        "peak_rss_mib": round(peak, 1),
        "ceiling": {
            "what": "DuckDB scanning the key column and grouping by it alone, in a fresh process",
            "seconds": round(bare_seconds, 2),
            "rows_per_second": round(rows / bare_seconds),
            "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in bare), 2),
            "peak_rss_mib": round(max(r["peak_rss_mib"] for r in bare), 1),
        },
        "load_average": [round(r["load_average"], 2) for r in runs],
        "cpus": os.cpu_count(),
        "targets": TARGETS,
        "meets": {
            "rows_per_second": rows / seconds >= TARGETS["rows_per_second_min"],
            "peak_rss": peak <= TARGETS["peak_rss_mib_max"],
        },
        "runs": runs,
        "ceiling_runs": bare,
    }
    (args.out / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v for k, v in record.items() if not k.endswith("runs")}))


if __name__ == "__main__":
    main()
