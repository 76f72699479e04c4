"""The calibrated presets: the scenario files shipped in ``scenarios/``, found by name.

Each preset is a TOML scenario whose every number is commented with its source in
``docs/sources.md``; its ``description`` is the one line ``trackloss presets`` prints. In a source
checkout the files sit in ``scenarios/`` at the repository root; an installed package carries
the same files as package data in ``simulator/scenarios/``. Either way a command that takes a
scenario file also takes a preset's name (``trackloss run baseline``) when no such file exists.

This module reads only file names and descriptions; validating a preset is
:func:`simulator.config.loading.load_scenario`'s job, which uses :func:`locate_scenario`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".toml"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""The installed ``simulator`` package folder."""


class PresetsMissing(Exception):
    """The scenarios folder does not exist (or holds no scenario files)."""


class PresetNotFound(LookupError):
    """A scenario argument that is neither an existing file nor a preset's name."""


@dataclass(frozen=True)
class Preset:
    """One shipped scenario file.

    Attributes
    ----------
    name : str
        File stem, also the scenario's ``name`` and what ``trackloss run NAME`` accepts.
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
    """The folder holding the presets.

    Returns
    -------
    pathlib.Path
        ``simulator/scenarios`` inside an installed package (package data), else ``scenarios``
        at the root of a source checkout. The checkout's folder is returned when neither
        exists, so that messages name the expected place.

    Examples
    --------
    >>> (scenarios_dir() / "baseline.toml").is_file()
    True
    """
    packaged = PACKAGE_DIR / "scenarios"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "scenarios"


def preset_files(folder: Path | None = None) -> list[Path]:
    """The preset files, sorted by name.

    Parameters
    ----------
    folder : pathlib.Path, optional
        Where to look; :func:`scenarios_dir` by default.

    Returns
    -------
    list of pathlib.Path
        Every ``*.toml`` file in the folder.

    Raises
    ------
    PresetsMissing
        When the folder does not exist or holds no ``*.toml`` file.
    """
    folder = scenarios_dir() if folder is None else Path(folder)
    if not folder.is_dir():
        raise PresetsMissing(
            f"no scenarios folder at {folder}: the presets were not installed with the package; "
            "reinstall trackloss"
        )
    files = sorted(folder.glob(f"*{SUFFIX}"))
    if not files:
        raise PresetsMissing(f"no scenario files (*{SUFFIX}) in {folder}")
    return files


def find_preset(name: str, folder: Path | None = None) -> Path | None:
    """The file of the preset called ``name`` (with or without ``.toml``), or None.

    Parameters
    ----------
    name : str
        A preset's name, such as ``"baseline"`` or ``"baseline.toml"``.
    folder : pathlib.Path, optional
        Where to look; :func:`scenarios_dir` by default.

    Returns
    -------
    pathlib.Path or None
        None when there is no such preset, when the name has a folder in it, or when no
        presets are installed.

    Examples
    --------
    >>> find_preset("baseline").name, find_preset("nonexistent")
    ('baseline.toml', None)
    """
    candidate = Path(name)
    if len(candidate.parts) != 1 or candidate.suffix not in ("", SUFFIX):
        return None
    try:
        files = preset_files(folder)
    except PresetsMissing:
        return None
    return next((f for f in files if f.stem == candidate.stem), None)


def locate_scenario(path: str | Path, folder: Path | None = None) -> Path:
    """Where to read a scenario given on the command line: the file, else the preset so named.

    Parameters
    ----------
    path : str or pathlib.Path
        A scenario file, or a preset's name.
    folder : pathlib.Path, optional
        Where the presets are; :func:`scenarios_dir` by default.

    Returns
    -------
    pathlib.Path
        ``path`` itself when something exists there, or when it names a folder (the reader
        then reports the missing file); otherwise the preset's file.

    Raises
    ------
    PresetNotFound
        When ``path`` is a bare name that is neither a file nor a preset. The message lists
        the presets and says how to see them.

    Examples
    --------
    >>> locate_scenario("baseline") == scenarios_dir() / "baseline.toml"
    True
    """
    given = Path(path)
    if given.exists() or len(given.parts) != 1:
        return given
    found = find_preset(str(given), folder)
    if found is not None:
        return found
    try:
        names = ", ".join(f.stem for f in preset_files(folder))
    except PresetsMissing:
        raise PresetNotFound("no such file, and no presets are installed") from None
    raise PresetNotFound(
        f"no such file, and no preset of that name (presets: {names}; "
        "'trackloss presets' describes them)"
    )


def list_presets(folder: Path | None = None) -> list[Preset]:
    """Read every preset's name and description, sorted by name.

    Parameters
    ----------
    folder : pathlib.Path, optional
        Where to look; :func:`scenarios_dir` by default.

    Returns
    -------
    list of Preset
        One per file. A file that cannot be read as TOML is still listed, with its problem;
        whether a readable file validates is not checked here.

    Raises
    ------
    PresetsMissing
        When the folder does not exist or holds no ``*.toml`` file.
    """
    out = []
    for path in preset_files(folder):
        try:
            description = str(tomllib.loads(path.read_text("utf-8")).get("description", ""))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            out.append(Preset(path.stem, path, "", f"cannot be read: {error}"))
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
    lines = [f"Presets{where} (run one by name from any folder: trackloss run NAME):"]
    width = max((len(p.name) for p in presets), default=0)
    for p in presets:
        text = p.description or "(no description)"
        if p.problem:
            text += f" [invalid: {p.problem}]"
        lines.append(f"  {p.name.ljust(width)}  {text}")
    return "\n".join(lines)


__all__ = [
    "Preset",
    "PresetNotFound",
    "PresetsMissing",
    "find_preset",
    "format_presets",
    "list_presets",
    "locate_scenario",
    "preset_files",
    "scenarios_dir",
]
