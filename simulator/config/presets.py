"""The calibrated presets: the scenario files shipped in ``scenarios/``.

Each preset is a TOML scenario whose every number is commented with its source in
``docs/sources.md``; its ``description`` is the one line ``trackloss presets`` prints. The folder
sits next to the package in a source checkout; an installed wheel does not carry it, and the
command then says so instead of failing.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path


class PresetsMissing(Exception):
    """The scenarios folder does not exist (or holds no scenario files)."""


@dataclass(frozen=True)
class Preset:
    """One shipped scenario file.

    Attributes
    ----------
    name : str
        File stem, also the scenario's ``name``.
    path : pathlib.Path
        The TOML file.
    description : str
        Its one-line ``description`` (empty when missing).
    problem : str or None
        Why the file does not load, when it does not.
    """

    name: str
    path: Path
    description: str
    problem: str | None = None


def scenarios_dir() -> Path:
    """The folder holding the presets, located relative to the installed package."""
    return Path(__file__).resolve().parents[2] / "scenarios"


def list_presets(folder: Path | None = None) -> list[Preset]:
    """Read every ``*.toml`` file in the presets folder, sorted by name.

    Parameters
    ----------
    folder : pathlib.Path, optional
        Where to look; :func:`scenarios_dir` by default.

    Returns
    -------
    list of Preset
        One per file. A file that cannot be read or does not validate is still listed, with
        its first problem.

    Raises
    ------
    PresetsMissing
        When the folder does not exist or holds no ``*.toml`` file.
    """
    from simulator.config.loading import ScenarioError, load_scenario

    folder = scenarios_dir() if folder is None else Path(folder)
    if not folder.is_dir():
        raise PresetsMissing(
            f"no scenarios folder at {folder}: the presets ship with the source tree "
            "(scenarios/*.toml), not with an installed package"
        )
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise PresetsMissing(f"no scenario files (*.toml) in {folder}")
    out = []
    for path in files:
        try:
            description = str(tomllib.loads(path.read_text("utf-8")).get("description", ""))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            out.append(Preset(path.stem, path, "", f"cannot be read: {error}"))
            continue
        try:
            load_scenario(path)
        except ScenarioError as error:
            out.append(Preset(path.stem, path, description, error.problems[0]))
        else:
            out.append(Preset(path.stem, path, description))
    return out


def format_presets(presets: list[Preset], folder: Path | None = None) -> str:
    """Format presets as aligned ``name  description`` lines under a header.

    Parameters
    ----------
    presets : list of Preset
        From :func:`list_presets`.
    folder : pathlib.Path, optional
        Shown in the header.

    Returns
    -------
    str
        No trailing newline.
    """
    where = f" in {folder}" if folder is not None else ""
    lines = [f"Presets{where} (run one with: trackloss run scenarios/NAME.toml):"]
    width = max((len(p.name) for p in presets), default=0)
    for p in presets:
        text = p.description or "(no description)"
        if p.problem:
            text += f" [invalid: {p.problem}]"
        lines.append(f"  {p.name.ljust(width)}  {text}")
    return "\n".join(lines)


__all__ = [
    "Preset",
    "PresetsMissing",
    "format_presets",
    "list_presets",
    "scenarios_dir",
]
