"""Read scenario files, apply command-line overrides, and explain every problem found.

A scenario is TOML read with :mod:`tomllib`. ``--set dotted.path=value`` overrides are applied to
the raw table before validation, so an override is checked exactly like the file. Validation
problems come back as one line each, naming the dotted path, the rule and the value given::

    population.segments[1].share: must be less than or equal to 1, got 1.7

Problems are located by :mod:`simulator.config.problems` and worded by
:mod:`simulator.config.wording`; nothing in this module knows the shape of a scenario beyond
what :class:`~simulator.config.scenario.Scenario` declares.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simulator.config import extends, presets
from simulator.config.limits import MAX_DEPTH, MAX_FILE_BYTES
from simulator.config.overrides import apply_overrides, mention_override
from simulator.config.problems import ScenarioError, describe_validation_error
from simulator.config.scenario import Scenario


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Read, override and validate a scenario file.

    Parameters
    ----------
    path : str or pathlib.Path
        A TOML scenario file, or the name of a preset (``"baseline"``) when no such file
        exists (see :mod:`simulator.config.presets`).
    overrides : iterable of str
        ``dotted.path=value`` strings, applied in order before validation.

    Returns
    -------
    Scenario
        The frozen, validated scenario; a file that ``extends`` another is merged over it
        first (see :mod:`simulator.config.extends`).

    Raises
    ------
    ScenarioError
        If the file cannot be read, is not valid TOML, an override is malformed, or the result
        does not validate. Every problem is listed.
    """
    path, data = read_scenario(path)
    return parse_scenario(data, overrides, source=str(path))


def read_scenario(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """Find a scenario file (or preset), read it and merge it over the file it ``extends``.

    Parameters
    ----------
    path : str or pathlib.Path
        A TOML scenario file, or the name of a preset.

    Returns
    -------
    tuple of (pathlib.Path, dict)
        The file read, and its data merged over its base, not yet validated (for
        :func:`parse_scenario`, with or without overrides).

    Raises
    ------
    ScenarioError
        If there is no such file or preset, it cannot be read, or its ``extends`` chain fails.
    """
    try:
        path = presets.locate_scenario(path)
    except presets.PresetNotFound as error:
        raise ScenarioError([str(error)], str(path)) from None
    data = read_toml(path)
    try:
        data = extends.resolve(data, Path(path), _read_base)
    except ValueError as error:
        raise ScenarioError([str(error)], str(path)) from None
    return Path(path), data


def _read_base(path: Path) -> dict[str, Any]:
    """Read a file named by ``extends``; its problem becomes the reason it cannot be used."""
    try:
        return read_toml(path)
    except ScenarioError as error:
        raise ValueError("; ".join(error.problems)) from None


def parse_scenario(
    data: Mapping[str, Any], overrides: Iterable[str] = (), source: str = "<dict>"
) -> Scenario:
    """Override and validate a scenario given as a plain dict (as TOML would produce it).

    Parameters
    ----------
    data : mapping
        The raw scenario table. It is not modified.
    overrides : iterable of str
        ``dotted.path=value`` strings, applied in order before validation.
    source : str, optional
        Name used in error messages.

    Returns
    -------
    Scenario
        The frozen, validated scenario.

    Raises
    ------
    ScenarioError
        With every problem found, one line each.
    """
    if _too_deep(data):
        raise ScenarioError([_TOO_DEEP], source)
    raw = copy.deepcopy(dict(data)) if isinstance(data, Mapping) else data
    origins = apply_overrides(raw, overrides, source=source)
    if _too_deep(raw):
        raise ScenarioError([_TOO_DEEP + " (after --set)"], source)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = [
            mention_override(path, message, origins)
            for path, message in describe_validation_error(exc, raw)
        ]
        raise ScenarioError(problems, source) from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a dict, turning every failure into a one-line problem.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to read.

    Returns
    -------
    dict
        The parsed table.

    Raises
    ------
    ScenarioError
        If the file is missing, is a directory, cannot be read, is larger than
        :data:`~simulator.config.limits.MAX_FILE_BYTES`, is not UTF-8, is not TOML (the problem
        names the line and column), or nests deeper than
        :data:`~simulator.config.limits.MAX_DEPTH`.
    """
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise ScenarioError(["is a directory, not a scenario file"], source)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(["no such file"], source) from None
    except PermissionError:
        raise ScenarioError(["cannot read the file: permission denied"], source) from None
    except OSError as exc:
        raise ScenarioError([f"cannot read the file: {exc.strerror or exc}"], source) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(
            [f"larger than {MAX_FILE_BYTES / 2**20:g} MiB: not a scenario file"], source
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _position(raw[: exc.start])
        raise ScenarioError(
            [
                f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line}, column {column} "
                "cannot be decoded (save the file as UTF-8)"
            ],
            source,
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([_syntax_problem(str(exc), text)], source) from None
    except RecursionError:
        raise ScenarioError([_TOO_DEEP], source) from None
    if _too_deep(data):
        raise ScenarioError([_TOO_DEEP], source)
    return data


_TOO_DEEP = f"tables and arrays nested more than {MAX_DEPTH} deep"


def _too_deep(data: Any) -> bool:
    """Whether ``data`` nests tables and arrays deeper than :data:`MAX_DEPTH`.

    The walk uses a stack, not recursion, so any depth is measured safely.
    """
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(node, Mapping):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list | tuple):
            stack.extend((child, depth + 1) for child in node)
    return False


def _position(prefix: bytes | str) -> tuple[int, int]:
    """Return the 1-based line and column just after ``prefix``."""
    newline = b"\n" if isinstance(prefix, bytes) else "\n"
    lines = prefix.split(newline)
    return len(lines), len(lines[-1]) + 1


_TOML_AT = re.compile(r"^(?P<what>.*?)\s*\((?:at line (?P<line>\d+), column (?P<col>\d+)|"
                      r"at end of document)\)$", re.S)  # fmt: skip


def _syntax_problem(message: str, text: str) -> str:
    """Rephrase a :class:`tomllib.TOMLDecodeError` message so it always names line and column."""
    match = _TOML_AT.match(message)
    if match is None:
        return f"TOML syntax error: {message}"
    what = match["what"]
    what = what[:1].lower() + what[1:]
    if match["line"] is not None:
        line, column = int(match["line"]), int(match["col"])
    else:
        line, column = _position(text)
        what += " (at end of file)"
    return f"TOML syntax error at line {line}, column {column}: {what}"


__all__ = [
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
    "read_scenario",
    "read_toml",
]
