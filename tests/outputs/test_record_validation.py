"""Result records read back from JSON: wrong types are named in one line, never a TypeError."""

from __future__ import annotations

import copy
import json

import pytest
from support.small_records import RECORD

from simulator.cli.main import main
from simulator.outputs.record_validation import InvalidRecord, read_record, validate_record


def mutated(path: str, value) -> dict:
    """A copy of :data:`RECORD` with the field at ``path`` (dotted, [i] for rows) set."""
    record = copy.deepcopy(RECORD)
    keys = path.replace("[", ".").replace("]", "").split(".")
    target = record
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    target[keys[-1]] = value
    return record


def test_a_record_as_written_is_valid():
    assert validate_record(copy.deepcopy(RECORD)) == RECORD


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("results[0].causes", None, "causes: expected an object of cause shares, got null"),
        ("results[0].loss", "abc", 'results[0].loss: expected a number or null, got text "abc"'),
        ("results[1].truth", True, "results[1].truth: expected a number or null, got true"),
        ("results[0].loss_ci", [0.1], "loss_ci: expected [low, high] or null, got a list"),
        ("results[0].plan", 3, "results[0].plan: expected text, got the number 3"),
        ("results[0].causes.blocked", "x", "causes.blocked: expected a number or null"),
        ("results[0].bias.device.shares.desktop.diff", {}, "desktop.diff: expected a number"),
        ("results[0].bias", [], "results[0].bias: expected an object or null, got a list"),
        ("kpis[0].observed", "9%", "kpis[0].observed: expected a number or null"),
        ("kpis", {}, "kpis: expected a list, got an object"),
        ("results", [], "not a result record: no 'results' list"),
        ("scenario", "tiny", "scenario: expected an object or null, got text"),
        ("per_replication[0].loss", "x", 'per_replication[0].loss: expected a number or null'),
        ("per_replication[1].replication", 0, "replication: expected a whole number from 1"),
        ("per_replication[0].plan", None, "per_replication[0].plan: expected text, got null"),
        ("per_replication", "all", "per_replication: expected a list, got text"),
    ],
)  # fmt: skip
def test_wrong_types_are_named_with_their_field(path, value, message):
    with pytest.raises(InvalidRecord) as caught:
        validate_record(mutated(path, value))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_read_record_names_the_file(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(mutated("results[0].loss", "abc")), encoding="utf-8")
    with pytest.raises(InvalidRecord, match=rf"^{path}: results\[0\]\.loss: "):
        read_record(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(InvalidRecord, match=r"not JSON \(line 1"):
        read_record(path)
    with pytest.raises(InvalidRecord, match="no such file"):
        read_record(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("path", "value"), [("results[0].causes", None), ("results[0].loss", "abc")]
)
def test_plot_on_a_record_with_wrong_types_is_one_line(tmp_path, capsys, path, value):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(RECORD), encoding="utf-8")
    bad.write_text(json.dumps(mutated(path, value)), encoding="utf-8")
    assert main(["plot", str(good), "--kind", "loss", "-o", str(tmp_path / "ok.png")]) == 0
    assert main(["plot", str(bad), "--kind", "loss", "-o", str(tmp_path / "bad.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}: {path}: expected ") and err.count("\n") == 1
    assert not (tmp_path / "bad.png").exists()
