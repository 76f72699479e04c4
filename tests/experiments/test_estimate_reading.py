"""``trackloss estimate``: reading CSV, Parquet and JSON Lines, column mappings, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("pyarrow")

from simulator.cli.main import main  # noqa: E402

ROWS = [
    # event_key, path, event, time, visitor, device
    ("k1", "client", "order", "2026-01-01T10:00:00Z", "v1", "desktop"),
    ("k1", "server", "order", "2026-01-01T10:00:01Z", "v1", "desktop"),
    ("k2", "client", "order", "2026-01-01T11:00:00Z", "v2", "mobile"),
    ("k3", "server", "order", "2026-01-01T12:00:00Z", "v3", "mobile"),
    ("k3", "client", "order", "2026-01-01T12:00:00Z", "v3", "mobile"),
    ("k4", "server", "order", "2026-01-01T13:00:00Z", "v2", "mobile"),
]
NAMES = ("event_key", "path", "event", "time", "visitor", "device")


def write_csv(path, rows=ROWS, names=NAMES):
    lines = [",".join(names), *(",".join(r) for r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def estimate(args, capsys):
    code = main(["estimate", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_three_formats_give_the_same_table(tmp_path, capsys):
    csv = write_csv(tmp_path / "copies.csv")
    jsonl = tmp_path / "copies.jsonl"
    jsonl.write_text("".join(json.dumps(dict(zip(NAMES, r, strict=True))) + "\n" for r in ROWS))
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp_path / "copies.parquet"
    pq.write_table(pa.table({n: [r[i] for r in ROWS] for i, n in enumerate(NAMES)}), parquet)
    records = []
    for f in (csv, jsonl, parquet):
        out = tmp_path / f"{f.suffix[1:]}.json"
        code, _, err = estimate([f, "--json", out], capsys)
        assert code == 0, err
        records.append(json.loads(out.read_text()))
    rows = [r["rows"] for r in records]
    assert rows[0] == rows[1] == rows[2]
    (row,) = rows[0]
    # k1 and k3 on both paths, k2 on the client only, k4 on the server only.
    assert (row["n11"], row["n10"], row["n01"]) == (2, 1, 1)
    assert row["lincoln_petersen"] == pytest.approx(3 * 3 / 2)


def test_columns_are_mapped_by_pairs_or_a_toml_file(tmp_path, capsys):
    names = ("messageId", "source", "event", "timestamp", "anonymousId", "device")
    csv = write_csv(tmp_path / "segment.csv", names=names)
    pairs = "event_key=messageId,path=source,time=timestamp,visitor=anonymousId"
    code, out, err = estimate([csv, "--columns", pairs, "--by", "device"], capsys)
    assert code == 0, err
    assert "mobile" in out
    toml = tmp_path / "columns.toml"
    toml.write_text(
        '[columns]\nevent_key = "messageId"\npath = "source"\ntime = "timestamp"\n'
        'visitor = "anonymousId"\n'
    )
    code, _, err = estimate([csv, "--columns", toml], capsys)
    assert code == 0, err


@pytest.mark.parametrize(
    ("rows", "names", "expected"),
    [
        (ROWS, ("event_key", "path", "event", "time", "user", "device"),
         "missing column 'visitor' (visitor); the file has: event_key, path, event, time, user, "
         "device"),
        ([*ROWS[:2], ("k9", "browser", "order", "2026-01-01T10:00:00Z", "v1", "desktop")], NAMES,
         "row 3, column 'path': expected 'client' or 'server', got 'browser'"),
        ([*ROWS[:3], ("k9", "client", "order", "yesterday", "v1", "desktop")], NAMES,
         "row 4, column 'time': expected a date and time, got 'yesterday'"),
        ([], NAMES, "the file has no rows (expected one row per received copy)"),
    ],
)  # fmt: skip
def test_bad_input_gets_one_line_naming_the_place(tmp_path, capsys, rows, names, expected):
    csv = write_csv(tmp_path / "bad.csv", rows, names)
    code, _, err = estimate([csv], capsys)
    assert code == 2
    assert err == f"trackloss estimate: {csv}: {expected}\n"


def test_a_missing_or_empty_file_and_a_bad_mapping_are_named(tmp_path, capsys):
    code, _, err = estimate([tmp_path / "nope.csv"], capsys)
    assert (code, err) == (
        2,
        f"trackloss estimate: {tmp_path / 'nope.csv'}: no such file or folder\n",
    )
    for name, header in (("empty.csv", "a header and "), ("empty.jsonl", ""),
                         ("empty.parquet", "")):  # fmt: skip
        empty = tmp_path / name
        empty.write_text("")
        code, _, err = estimate([empty], capsys)
        expected = f"the file is empty (expected {header}one row per received copy)"
        assert (code, err) == (2, f"trackloss estimate: {empty}: {expected}\n")
    folder = tmp_path / "daily"
    folder.mkdir()
    (folder / "2026-01-01.parquet").write_bytes(b"")
    code, _, err = estimate([folder], capsys)
    assert (code, err) == (
        2,
        f"trackloss estimate: {folder}: its files are empty (expected one row per received copy)\n",
    )
    # Without a header the first row's values are read as the names, repeated ones included.
    headless = tmp_path / "headless.csv"
    headless.write_text("k1,client,order,2026-01-01T00:00:00Z,0,desktop,0\n" * 3)
    code, _, err = estimate([headless], capsys)
    assert (code, err) == (2, f"trackloss estimate: {headless}: the first row names two columns "
                              "'0': a CSV's first row must name its columns (event_key, path, "
                              "event, time, visitor, ...)\n")  # fmt: skip
    empty = tmp_path / "empty.csv"
    code, _, err = estimate([empty, "--columns", "event_key"], capsys)
    assert (code, err) == (
        2,
        "trackloss estimate: --columns: expected ours=theirs, got 'event_key'\n",
    )


def test_crawlers_are_dropped_and_server_only_visitors_counted(tmp_path, capsys):
    rows = [(*r, "Mozilla/5.0 Chrome/120") for r in ROWS]
    rows.append(("k5", "server", "order", "2026-01-01T14:00:00Z", "v9", "desktop",
                 "Mozilla/5.0 (compatible; Googlebot/2.1)"))  # fmt: skip
    rows.append(("k6", "server", "order", "2026-01-01T14:00:00Z", "v8", "desktop", "Mozilla/5.0"))
    csv = write_csv(tmp_path / "ua.csv", rows, (*NAMES, "user_agent"))
    out = tmp_path / "r.json"
    code, text, err = estimate([csv, "--json", out, "--report", tmp_path / "r.md"], capsys)
    assert code == 0, err
    bots = json.loads(out.read_text())["bots"]
    counts = {k: bots[k] for k in ("crawler_rows", "server_only_visitors", "server_only_events")}
    assert counts == {"crawler_rows": 1, "server_only_visitors": 1, "server_only_events": 1}
    # One silent visitor, one order, as the talking visitors send: too few to bound anything.
    assert "people_at_most" not in bots["silent_mix"]
    assert (tmp_path / "r.md").read_text().startswith("# Estimated loss")


def test_the_report_is_markdown_or_html_as_its_name_says(tmp_path, capsys):
    csv = write_csv(tmp_path / "copies.csv")
    for name in ("r.md", "r.html"):
        code, text, err = estimate([csv, "--report", tmp_path / name], capsys)
        assert code == 0, err
    md, html = (tmp_path / "r.md").read_text(), (tmp_path / "r.html").read_text()
    assert md.startswith("# Estimated loss from your own logs\n")
    assert "| order | all | 2 | 1 | 1 |" in md  # the terminal's table, as a Markdown table
    assert html.startswith("<!DOCTYPE html>") and html.count("<table") >= 2
    assert "<td>order</td><td>all</td><td class=num>2</td>" in html
    # Any other name is refused before the log is read.
    code, _, err = estimate([tmp_path / "missing.csv", "--report", tmp_path / "r.txt"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "r.txt: cannot write the report: the name must end in .md" in err
    assert not (tmp_path / "r.txt").exists()


def test_the_command_never_shows_a_traceback(tmp_path):
    csv = write_csv(tmp_path / "x.csv", [("k", "nowhere", "e", "t", "v", "d")])
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "estimate", str(csv)], capture_output=True, text=True
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_without_pyarrow_the_commands_name_the_extra(tmp_path, capsys, monkeypatch, write_scenario):
    from support.factories import lossless_dict

    for name in ("pyarrow", "pyarrow.dataset", "pyarrow.parquet"):
        monkeypatch.setitem(sys.modules, name, None)
    csv = write_csv(tmp_path / "copies.csv")
    code, _, err = estimate([csv], capsys)
    assert code == 2
    assert err == (
        "trackloss estimate: trackloss estimate needs pyarrow: pip install 'trackloss[estimate]'\n"
    )
    path = write_scenario(lossless_dict(50))
    code = main(["run", str(path), "--quiet", "--export-events", str(tmp_path / "out")])
    assert code == 2
    assert "pip install 'trackloss[estimate]'" in capsys.readouterr().err
