"""``trackloss plot`` and ``run --plots``: files of the requested format, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.record_factories import small_record, with_bias

from simulator.cli.main import main

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF"}


def assert_format(path: Path, fmt: str) -> None:
    data = path.read_bytes()
    assert data, f"{path} is empty"
    if fmt == "svg":
        assert b"<svg" in data[:1000]
    else:
        assert data.startswith(MAGIC[fmt])


@pytest.fixture
def record_file(tmp_path: Path) -> Path:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(with_bias(small_record())), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "kind, fmt, extra",
    [
        ("loss", "png", []),
        ("loss", "svg", ["--event", "page_viewed"]),
        ("bias", "pdf", ["--event", "page_viewed", "--dimension", "device"]),
        ("bias", "png", []),
        ("kpi", "svg", []),
        ("dashboard", "pdf", []),
        ("attribution", "png", []),
        ("attribution", "svg", ["--event", "order_completed"]),
    ],
)
def test_plot_writes_the_requested_format(record_file, tmp_path, kind, fmt, extra, capsys):
    out = tmp_path / f"plot.{fmt}"
    assert main(["plot", str(record_file), "--kind", kind, "-o", str(out), *extra]) == 0
    assert_format(out, fmt)
    assert capsys.readouterr().err == ""
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary file left"


def test_plot_sweep_reads_a_folder(tmp_path, capsys):
    folder = tmp_path / "sweep"
    folder.mkdir()
    base = with_bias(small_record())
    for i, p in enumerate((0.0, 0.1, 0.2)):
        base["scenario"]["config"]["client"]["failure_probability"] = p
        (folder / f"{i}.json").write_text(json.dumps(base), encoding="utf-8")
    out = tmp_path / "sweep.png"
    args = ["plot", str(folder), "--kind", "sweep", "--event", "page_viewed", "-o", str(out)]
    assert main(args) == 0
    assert_format(out, "png")
    assert main([*args[:-1], str(tmp_path / "kpi.svg"), "--kpi", "conversion_rate"]) == 0
    assert_format(tmp_path / "kpi.svg", "svg")


def test_plot_unload_takes_a_scenario(minimal_scenario_dict, write_scenario, tmp_path):
    path = write_scenario(minimal_scenario_dict)
    out = tmp_path / "unload.png"
    args = ["plot", str(path), "--kind", "unload", "--pages", "5", "--seed", "3", "-o", str(out)]
    assert main(args) == 0
    assert_format(out, "png")


@pytest.mark.parametrize(
    "source, kind, output, extra, message",
    [
        ("missing.json", "loss", "x.png", [], "missing.json: no such file"),
        ("notjson.json", "loss", "x.png", [], "notjson.json: not JSON (line 1, column 1"),
        ("result.json", "loss", "x.gif", [], "x.gif: the file name must end in .png, .svg"),
        ("result.json", "loss", "nofolder/x.png", [], "folder"),
        ("result.json", "loss", "x.png", ["--event", "nope"], "unknown event 'nope'"),
        ("result.json", "bias", "x.png", ["--dimension", "planet"], "unknown dimension"),
        ("plain.json", "kpi", "x.png", [], "the record has no KPIs"),
        ("plain.json", "bias", "x.png", [], "no composition bias"),
        ("empty", "sweep", "x.png", [], "no result records"),
        ("bad.toml", "unload", "x.png", [], "population"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    record_file, tmp_path, monkeypatch, capsys, source, kind, output, extra, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notjson.json").write_text("nope", encoding="utf-8")
    plain = small_record()
    for row in plain["results"]:
        row.pop("bias", None)
    plain["kpis"] = []
    (tmp_path / "plain.json").write_text(json.dumps(plain), encoding="utf-8")
    (tmp_path / "bad.toml").write_text('name = "x"\n', encoding="utf-8")
    (tmp_path / "empty").mkdir()
    assert main(["plot", source, "--kind", kind, "-o", output, *extra]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err


def test_run_writes_the_standard_plots(minimal_scenario_dict, write_scenario, tmp_path, capsys):
    path = write_scenario(minimal_scenario_dict)
    folder = tmp_path / "plots"
    assert main(["run", str(path), "--quiet", "--plots", str(folder)]) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert "loss.png" in names and "dashboard.png" in names
    for p in folder.iterdir():
        assert_format(p, "png")


def test_run_checks_the_plots_folder_before_simulating(
    minimal_scenario_dict, write_scenario, tmp_path, capsys
):
    path = write_scenario(minimal_scenario_dict)
    target = tmp_path / "file"
    target.write_text("", encoding="utf-8")
    assert main(["run", str(path), "--plots", str(target)]) == 2
    assert "it is a file, not a folder" in capsys.readouterr().err


def test_readme_lists_every_plot_kind_and_notebook() -> None:
    import re

    from simulator.cli.plot import KINDS

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Plots and notebooks\n", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `(\w+)` \|", section, re.M)) == set(KINDS)
    listed = re.findall(r"^- `(\d\d_\w+\.ipynb)`", section, re.M)
    assert listed == sorted(p.name for p in (root / "notebooks").glob("*.ipynb"))


def test_plot_reads_what_trackloss_sweep_writes(minimal_scenario_dict, write_scenario, tmp_path):
    from simulator.outputs.plots import load_sweep, swept_parameters, x_parameter

    path = write_scenario(minimal_scenario_dict)
    folder = tmp_path / "sweep"
    sweep = ["sweep", str(path), "--workers", "1", "--quiet", "-o", str(folder)]
    grid = ["--vary", "client.failure_probability=0,0.5", "--vary", "client.transport=xhr,beacon"]
    assert main([*sweep, *grid]) == 0
    series = load_sweep(folder)
    assert sorted(series) == ["client.transport=beacon", "client.transport=xhr"]
    assert [v for v, _ in series["client.transport=xhr"]] == [0, 0.5]
    records = [r for pairs in series.values() for _, r in pairs]
    assert x_parameter(swept_parameters(records)) == "client.failure_probability"
    out = tmp_path / "sweep.svg"
    assert main(["plot", str(folder), "--kind", "sweep", "-o", str(out)]) == 0
    assert_format(out, "svg")


def test_plot_compare_and_recommend_records(tmp_path, capsys):
    from support.plot_records import comparison, recommendation

    for kind, record in (("compare", comparison()), ("recommend", recommendation())):
        source = tmp_path / f"{kind}.json"
        source.write_text(json.dumps(record), encoding="utf-8")
        out = tmp_path / f"{kind}.png"
        assert main(["plot", str(source), "--kind", kind, "-o", str(out)]) == 0
        assert_format(out, "png")
    assert capsys.readouterr().err == ""
    # A result record is not a comparison: one line naming the file, exit 2.
    result = tmp_path / "result.json"
    result.write_text(json.dumps(with_bias(small_record())), encoding="utf-8")
    assert main(["plot", str(result), "--kind", "compare", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{result}: not a comparison record")
