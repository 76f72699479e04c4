"""``trackloss estimate``: late copies, shared message ids, and the assumption checks.

Each check is shown raised on a log where its case is set up, and not raised on the same log
without it: hand-written logs for the late-arrival window and message ids, simulated exports for
the hybrid and respect-choice cases.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

from support.factories import segment, two_path_site  # noqa: E402

from simulator.cli.main import main  # noqa: E402
from simulator.config.scenario import Scenario  # noqa: E402
from simulator.experiments.estimate.estimation import estimate  # noqa: E402
from simulator.experiments.event_export import export_events  # noqa: E402

NAMES = ("event_key", "path", "event", "time", "visitor", "message_id")


def write_csv(path, rows, names=NAMES):
    lines = [",".join(names), *(",".join(map(str, r)) for r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def dual_log(server_delay_minutes: int = 0, same_id: bool = False) -> list[tuple]:
    """Ten events seen on both paths (the server copy ``server_delay`` later), two client-only
    and three server-only, over five visitors."""
    rows = []
    for i in range(15):
        when = f"2026-01-01T10:{i:02d}:00Z"
        later = f"2026-01-01T{10 + (i + server_delay_minutes) // 60:02d}:" \
                f"{(i + server_delay_minutes) % 60:02d}:00Z"  # fmt: skip
        visitor = f"v{i % 5}"
        if i < 12:
            rows.append((f"k{i}", "client", "order", when, visitor, f"m{i}"))
        if i < 10 or i >= 12:
            mid = f"m{i}" if same_id else f"s{i}"
            rows.append((f"k{i}", "server", "order", later if i < 10 else when, visitor, mid))
    return rows


def run(args, capsys) -> tuple[int, str, str]:
    code = main(["estimate", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_copies_later_than_the_window_are_left_out_and_counted(tmp_path, capsys):
    csv = write_csv(tmp_path / "late.csv", dual_log(server_delay_minutes=120))
    record = estimate(csv)
    ((row,), late) = record["rows"], record["late"]
    # Two hours is within the default day: every pair counts.
    assert (row["n11"], row["n10"], row["n01"]) == (10, 2, 3)
    assert (late["client"], late["server"]) == (0, 0)
    code, text, err = run([csv, "--late-after", 3600, "--json", tmp_path / "r.json"], capsys)
    assert code == 0, err
    record = json.loads((tmp_path / "r.json").read_text())
    (row,) = record["rows"]
    # The ten server copies two hours late miss the hour's window: those events were seen in
    # time by the client only.
    assert (row["n11"], row["n10"], row["n01"]) == (0, 12, 3)
    assert record["late"] == {
        "after_seconds": 3600.0, "client": 0, "server": 10,
        "events": [{"event": "order", "client": 0, "server": 10}],
    }  # fmt: skip
    assert "Late copies: 0 client and 10 server copies arrived more than 3,600 s" in text


def test_a_late_duplicate_does_not_make_its_path_miss_the_event(tmp_path):
    # Every copy of dual_log arrives again two days later on the same path (a browser's stored
    # event resent on the next visit, a server retry): each path still saw each event in time.
    rows = dual_log()
    again = [(k, path, e, f"2026-01-03T{t[11:]}", v, m) for k, path, e, t, v, m in rows]
    record = estimate(write_csv(tmp_path / "dups.csv", rows + again))
    (row,) = record["rows"]
    assert (row["n11"], row["n10"], row["n01"]) == (10, 2, 3)
    assert (record["late"]["client"], record["late"]["server"]) == (0, 0)
    # Only a path whose first copy is late misses the event: the server's, two days on.
    late_server = [r for r in rows if not (r[1] == "server" and r[0] in {"k0", "k1"})]
    late_server += [(k, "server", e, f"2026-01-03T{t[11:]}", v, f"s{k[1:]}")
                    for k, _, e, t, v, _ in rows[:4:2]]  # fmt: skip
    record = estimate(write_csv(tmp_path / "late.csv", late_server + again[:1]))
    (row,) = record["rows"]
    assert (row["n11"], row["n10"], row["n01"]) == (8, 4, 3)
    assert (record["late"]["client"], record["late"]["server"]) == (0, 2)


def test_a_bad_window_is_refused_in_one_line(tmp_path, capsys):
    csv = write_csv(tmp_path / "x.csv", dual_log())
    with pytest.raises(SystemExit) as stop:
        main(["estimate", str(csv), "--late-after", "-5"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--late-after: expected a positive number of seconds, got '-5'" in err


def checks_of(record: dict) -> dict[str, dict]:
    return {c["check"]: c for c in record["checks"]}


def test_shared_message_ids_are_warned_about(tmp_path, capsys):
    shared = write_csv(tmp_path / "shared.csv", dual_log(same_id=True))
    code, text, err = run([shared, "--report", tmp_path / "r.md"], capsys)
    assert code == 0, err
    assert "WARNING: the client and server copies of 10 events carry the same message id" in text
    assert "n11 cannot be counted" in (tmp_path / "r.md").read_text()
    check = checks_of(estimate(shared))["shared_message_ids"]
    assert check["raised"] and check["same_id"] == 10
    # Each path with its own id: nothing to warn about.
    own = write_csv(tmp_path / "own.csv", dual_log())
    assert not checks_of(estimate(own))["shared_message_ids"]["raised"]
    _, text, _ = run([own], capsys)
    assert "message id" not in text.split("Assumptions:")[0]


def test_a_log_with_no_event_on_both_paths_is_warned_about(tmp_path, capsys):
    # What a vendor's deduplication leaves: one copy per event, whichever path came first.
    rows = [r for r in dual_log() if not (r[1] == "server" and int(r[0][1:]) < 10)]
    csv = write_csv(tmp_path / "deduplicated.csv", rows, NAMES)
    check = checks_of(estimate(csv))["shared_message_ids"]
    assert check["raised"] and check["no_event_on_both_paths"] and check["same_id"] == 0
    _, text, _ = run([csv], capsys)
    assert "WARNING: no event arrived on both paths" in text


def site(users: int = 800, **overrides) -> Scenario:
    return two_path_site([
        segment("desk", "desktop", "chrome", {"none": 0.7, "extension_privacy": 0.3}),
        segment("mob", "mobile", "safari", {"none": 0.9, "dns": 0.1}),
    ], users, plan="site", server_failure=0.1, **overrides)  # fmt: skip


def export(tmp_path, name: str, scenario: Scenario) -> dict:
    export_events(scenario, tmp_path / name)
    return estimate(tmp_path / name / "copies.parquet", by=("device",))


def server_rewritten(log, out, column: str, value: str):
    """The log with ``column`` of its server copies set to the SQL ``value`` (written to out)."""
    import duckdb

    duckdb.sql(
        f"COPY (SELECT * REPLACE (CASE WHEN path = 'server' THEN {value} ELSE {column} END "
        f"AS {column}) FROM '{log}') TO '{out}' (FORMAT parquet)"
    )
    return out


def test_events_sent_from_the_server_only_are_flagged_as_hybrid(tmp_path):
    dual = export(tmp_path, "dual", site())
    assert not checks_of(dual)["one_path_events"]["raised"]
    plan = {"name": "site", "default_path": "dual", "paths": {"order_completed": "hybrid"}}
    hybrid = export(tmp_path, "hybrid", site(plans=[plan]))
    check = checks_of(hybrid)["one_path_events"]
    assert check["raised"] and check["events"] == ["order_completed"]
    # The other event types are still estimated from both paths.
    rows = [r for r in hybrid["rows"] if r["event"] != "order_completed"]
    assert rows and all(r["estimable"] for r in rows)


def test_visitors_withheld_by_choice_are_flagged_as_not_estimable(tmp_path, capsys):
    shown = export(tmp_path, "shown", site())
    check = checks_of(shown)["withheld_by_choice"]
    # Privacy blockers and DNS blockers silence 10-20% of browsers; their servers still send.
    assert not check["raised"] and check["silent_browser_share"] > 0.05
    plan = {"name": "site", "default_path": "dual", "respect_blocker_choice": True}
    withheld = export(tmp_path, "withheld", site(plans=[plan]))
    check = checks_of(withheld)["withheld_by_choice"]
    assert check["raised"] and not check["declared"]
    # Declared on the command line, it is raised whatever the log shows.
    log = tmp_path / "shown" / "copies.parquet"
    code, text, err = run([log, "--respect-choice"], capsys)
    assert code == 0, err
    assert "WARNING: the site withholds visitors who opt out (--respect-choice)" in text
    assert "not estimable" in text


def test_segments_the_server_leaves_empty_are_flagged(tmp_path, capsys):
    shown = export(tmp_path, "shown", site())
    assert not checks_of(shown)["segments_missing_on_server"]["raised"]
    # The same log, with the server's copies carrying no device.
    log = tmp_path / "shown" / "copies.parquet"
    blind = server_rewritten(log, tmp_path / "blind.parquet", "device", "NULL")
    record = estimate(blind, by=("device",))
    check = checks_of(record)["segments_missing_on_server"]
    assert check["raised"] and list(check["columns"]) == ["device"]
    assert not checks_of(record)["segments_named_apart"]["raised"]  # empty is not another name
    only_server = sum(r["n01"] for r in record["rows"])
    assert check["columns"]["device"]["events"] == only_server  # every one of them unplaced
    # Per device the client seems to miss nothing the server saw.
    placed = [r for r in record["rows"] if r["device"] != "(none)" and r["estimable"]]
    assert placed and all(r["n01"] == 0 for r in placed)
    code, text, err = run([blind, "--by", "device"], capsys)
    assert code == 0, err
    assert "WARNING: the server's copies leave segment columns empty" in text
    # Without --by device, as the warning says, the loss per event type is the one of the log
    # whose server copies carry the device.
    unsplit, full = estimate(blind), estimate(log)
    assert unsplit["events"] == full["events"]
    assert "segments_missing_on_server" not in checks_of(unsplit)


def test_events_the_server_names_otherwise_are_pointed_out(tmp_path, capsys):
    # The browser says "Order Completed", the server "order_completed": the events both paths
    # saw take the browser's name, those only the server saw (a blocked visitor's) the server's.
    rows = []
    for i in range(40):
        when, visitor = f"2026-01-01T10:{i:02d}:00Z", f"v{i % 8}"
        if i % 4:
            rows.append((f"k{i}", "client", "Order Completed", when, visitor, f"c{i}"))
        rows.append((f"k{i}", "server", "order_completed", when, visitor, f"s{i}"))
    rows += [(f"b{i}", "server", "order_completed", f"2026-01-01T11:{i:02d}:00Z", "blocked",
              f"b{i}") for i in range(6)]  # fmt: skip
    csv = write_csv(tmp_path / "renamed.csv", rows)
    check = checks_of(estimate(csv))["one_path_events"]
    assert check["raised"] and check["events"] == ["order_completed"]
    assert check["never_alone_on_server"] == ["Order Completed"]
    code, text, err = run([csv], capsys)
    assert code == 0, err
    assert "Or the server names events otherwise than the browser: Order Completed" in text
    # Named alike, both paths' copies pair into one event type with its server-only events.
    same = write_csv(
        tmp_path / "same.csv", [(k, p, "order_completed", *rest) for k, p, _, *rest in rows]
    )
    check = checks_of(estimate(same))["one_path_events"]
    assert not check["raised"] and check["never_alone_on_server"] == []


def test_paths_that_name_visitors_apart_are_flagged(tmp_path, capsys):
    shown = export(tmp_path, "shown", site())
    check = checks_of(shown)["visitors_named_apart"]
    both = sum(r["n11"] for r in shown["rows"])
    assert check == {"check": "visitors_named_apart", "raised": False, "sampled": 1,
                     "both_paths": both, "different_visitor": 0}  # fmt: skip
    keys = checks_of(shown)["keys_shared_by_events"]
    assert not keys["raised"] and keys["mixed_types"] == 0 and keys["events"] >= both
    # The same log, the server's copies naming the visitor by an id of its own (a user id).
    log = tmp_path / "shown" / "copies.parquet"
    apart = server_rewritten(log, tmp_path / "apart.parquet", "visitor", "visitor + 1000000000")
    record = estimate(apart, by=("device",))
    check = checks_of(record)["visitors_named_apart"]
    assert check["raised"] and check["different_visitor"] == check["both_paths"] == both
    # Copies pair by their key: every table and loss is the same, only the visitors differ.
    assert [{k: r[k] for k in ("n11", "n10", "n01", "client_loss")} for r in record["rows"]] == [
        {k: r[k] for k in ("n11", "n10", "n01", "client_loss")} for r in shown["rows"]
    ]
    assert record["visitors"] > shown["visitors"]
    code, text, err = run([apart], capsys)
    assert code == 0, err
    assert f"WARNING: the client and server copies of {both:,} of the {both:,} events" in text
    assert "Map visitor to an id both paths carry" in text
    # The warnings come after the tables; the header says there are some to read first.
    head = text.split("\n\n")[0]
    assert "WARNING: 1 assumption check raised (visitors_named_apart)" in head
    _, text, _ = run([log], capsys)
    assert "assumption check" not in text.split("\n\n")[0]


def test_a_few_events_named_apart_are_counted_but_not_flagged(tmp_path):
    # A visitor id that changes at sign-in touches one event of the 120 both paths saw.
    rows = []
    for i in range(120):
        when, visitor = f"2026-01-01T10:{i % 60:02d}:00Z", f"v{i % 30}"
        rows.append((f"k{i}", "client", "page_view", when, visitor, f"c{i}"))
        rows.append((f"k{i}", "server", "page_view", when, "u7" if i == 7 else visitor, f"s{i}"))
    check = checks_of(estimate(write_csv(tmp_path / "signin.csv", rows)))["visitors_named_apart"]
    assert check["different_visitor"] == 1 and check["both_paths"] == 120
    assert not check["raised"]  # under SPLIT_SHARE of the events


def test_a_long_log_is_checked_on_a_sample_of_its_events(tmp_path, monkeypatch):
    from simulator.experiments.estimate import checks

    rows = []
    for i in range(2000):
        when, visitor = f"2026-01-01T{10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z", i % 97
        rows.append((i, "client", "page_view", when, visitor, f"c{i}"))
        rows.append((i, "server", "page_view", when, visitor + 1000, f"s{i}"))
    csv = write_csv(tmp_path / "long.csv", rows)
    monkeypatch.setattr(checks, "SAMPLE_ROWS", 400)  # 4,000 rows: one event in ten
    check = checks_of(estimate(csv))["visitors_named_apart"]
    assert check["sampled"] == 10 and check["raised"]
    assert check["different_visitor"] == check["both_paths"]
    # The events are chosen by their key's hash: about a tenth, with binomial spread.
    sd = (2000 * 0.1 * 0.9) ** 0.5
    assert abs(check["both_paths"] - 200) < 4 * sd


def test_a_key_shared_by_several_events_is_flagged(tmp_path, capsys):
    # The page view's id as the key: its view and its click, on both paths, share it.
    rows = []
    for i in range(40):
        when, visitor = f"2026-01-01T10:{i:02d}:00Z", f"v{i % 8}"
        for n, event in enumerate(("page_view", "link_clicked")):
            own = f"pv{i}-{n}"
            rows += [(f"pv{i}", path, event, when, visitor, f"{path[0]}{own}")
                     for path in ("client", "server") if path == "server" or i % 5]  # fmt: skip
    shared = write_csv(tmp_path / "pageview_ids.csv", rows)
    check = checks_of(estimate(shared))["keys_shared_by_events"]
    assert check["raised"] and check["events"] == check["mixed_types"] == 40
    code, text, err = run([shared], capsys)
    assert code == 0, err
    assert "WARNING: the copies on one path of 40 of the 40 events name more than one" in text
    assert "Map event_key to an id of its own for each event" in text
    # A key per event (its message id without the path's letter): 80 events, none flagged.
    own = write_csv(tmp_path / "own_ids.csv", [(m[1:], *r[1:], m) for *r, m in rows])
    check = checks_of(estimate(own))["keys_shared_by_events"]
    assert not check["raised"] and check["events"] == 80 and check["mixed_types"] == 0


def test_segments_the_server_names_otherwise_are_flagged(tmp_path, capsys):
    shown = export(tmp_path, "shown", site())
    check = checks_of(shown)["segments_named_apart"]
    assert not check["raised"] and check["columns"] == {}
    # The same log, the server writing the device in capitals.
    log = tmp_path / "shown" / "copies.parquet"
    upper = server_rewritten(log, tmp_path / "upper.parquet", "device", "upper(device)")
    record = estimate(upper, by=("device",))
    check = checks_of(record)["segments_named_apart"]
    assert check["raised"] and list(check["columns"]) == ["device"]
    device = check["columns"]["device"]
    assert device["share"] == 1.0 and device["example"] in (["desktop", "DESKTOP"],
                                                             ["mobile", "MOBILE"])  # fmt: skip
    # What it does: the client's segments lose nothing, the server's everything.
    losses = {r["device"]: r["client_loss"] for r in record["rows"] if r["event"] == "page_viewed"}
    assert losses["desktop"] == losses["mobile"] == 0.0
    assert losses["DESKTOP"] == losses["MOBILE"] == 1.0
    # The other checks do not mistake it for their cases.
    assert not checks_of(record)["segments_missing_on_server"]["raised"]
    assert not checks_of(record)["visitors_named_apart"]["raised"]
    code, text, err = run([upper, "--by", "device"], capsys)
    assert code == 0, err
    assert "device on 100.0% of them (desktop on the client, DESKTOP on the server" in text
    assert "Without --by device the loss per event type stands" in text
    # As it says: without --by, the loss per event type is the one of the log named alike.
    assert estimate(upper)["events"] == estimate(log)["events"]
