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
from simulator.config.problems import describe_validation_error, format_path
from simulator.config.scenario import Scenario


class ScenarioError(Exception):
    """A scenario that cannot be read or does not validate.

    Parameters
    ----------
    problems : iterable of str
        One line per problem, without the source prefix.
    source : str, optional
        Where the scenario came from (a file name, or ``"<dict>"``).

    Attributes
    ----------
    problems : list of str
        Every problem found, one line each.
    source : str
        The file name (or ``"<dict>"``) the problems refer to.
    """

    def __init__(self, problems: Iterable[str], source: str = "<dict>") -> None:
        self.problems: list[str] = list(problems)
        self.source = source
        super().__init__("\n".join(f"{source}: {p}" for p in self.problems))


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
            _mention_override(path, message, origins)
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


# --------------------------------------------------------------------------- overrides

_KEY = re.compile(r"\s*(?:([A-Za-z0-9_-]+)|\"((?:[^\"\\]|\\.)*)\"|'([^']*)')\s*")
_INDEX = re.compile(r"\[\s*([^\]]*?)\s*\]\s*")


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """Split ``dotted.path=value`` into path parts and a value.

    Keys may be bare (``users``) or quoted (``"desktop.safari"``); ``[i]`` indexes a list. The
    value is read as a TOML value (``0.5``, ``true``, ``"text"``, ``[1, 2]``,
    ``{ kind = "constant", value = 1 }``); anything that is not valid TOML is taken as a bare
    string.

    Parameters
    ----------
    text : str
        One override as typed after ``--set``.

    Returns
    -------
    tuple of (list of str or int, object)
        The path parts (keys and list indices) and the value.

    Raises
    ------
    ValueError
        If there is no ``=``, the path is empty or malformed, or an index is not an integer.
    """
    path_text, sep, value_text = text.partition("=")
    if not sep:
        raise ValueError("expected dotted.path=value")
    parts: list[str | int] = []
    pos = 0
    while True:
        key = _KEY.match(path_text, pos)
        if key is None or key.end() == pos:
            raise ValueError(f"malformed path {path_text.strip()!r}")
        parts.append(next(g for g in key.groups() if g is not None))
        pos = key.end()
        while (index := _INDEX.match(path_text, pos)) is not None:
            if not re.fullmatch(r"\d+", index[1]):
                raise ValueError(f"index [{index[1]}] must be a whole number >= 0")
            parts.append(int(index[1]))
            pos = index.end()
        if pos == len(path_text):
            break
        if path_text[pos] != ".":
            raise ValueError(f"malformed path {path_text.strip()!r}")
        pos += 1
    return parts, _parse_value(value_text.strip())


def _parse_value(text: str) -> Any:
    """Read an override value as TOML, or as a bare string if it is not TOML."""
    try:
        parsed = tomllib.loads(f"v = {text}")
    except (tomllib.TOMLDecodeError, RecursionError):
        return text
    return parsed["v"] if list(parsed) == ["v"] else text


def apply_overrides(
    data: dict[str, Any], overrides: Iterable[str], source: str = "<dict>"
) -> dict[str, str]:
    """Apply ``--set`` overrides to a raw scenario table, in place.

    Missing tables along the path are created; list indices must exist already.

    Parameters
    ----------
    data : dict
        The raw table (modified in place).
    overrides : iterable of str
        ``dotted.path=value`` strings.
    source : str, optional
        Name used in error messages.

    Returns
    -------
    dict of str to str
        For each overridden path (as formatted in problems), the override that set it.

    Raises
    ------
    ScenarioError
        Listing every malformed override (no ``=``, bad path or index, index out of range,
        a path that runs through a value that is not a table or list).
    """
    problems: list[str] = []
    origins: dict[str, str] = {}
    for text in overrides:
        try:
            parts, value = parse_override(text)
            _assign(data, parts, value)
        except ValueError as exc:
            problems.append(f"--set {text}: {exc}")
            continue
        origins[format_path(parts)] = text
    if problems:
        raise ScenarioError(problems, source)
    return origins


def _assign(data: dict[str, Any], parts: list[str | int], value: Any) -> None:
    """Set ``value`` at ``parts`` inside ``data``, creating missing tables."""
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        here = format_path(parts[:depth]) or "the scenario"
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ValueError(f"{here} is not a list, so [{part}] cannot index it")
            if part >= len(node):
                raise ValueError(
                    f"index [{part}] out of range: {here} has {len(node)} item"
                    f"{'' if len(node) == 1 else 's'}"
                )
        elif not isinstance(node, dict):
            raise ValueError(f"{here} is not a table, so it has no key {part!r}")
        elif not last and part not in node:
            if isinstance(parts[depth + 1], int):
                where = format_path(parts[: depth + 1])
                raise ValueError(f"{where} is not in the scenario, so it has no items to index")
            node[part] = {}
        if last:
            node[part] = value
        else:
            node = node[part]


def _mention_override(path: str, message: str, origins: Mapping[str, str]) -> str:
    """Format a problem, noting the ``--set`` that produced the offending value, if any."""
    line = f"{path or '(top level)'}: {message}"
    for target, text in origins.items():
        if path == target or path.startswith((f"{target}.", f"{target}[")):
            return f"{line} (from --set {text})"
    return line


__all__ = [
    "ScenarioError",
    "apply_overrides",
    "load_scenario",
    "parse_override",
    "parse_scenario",
    "read_scenario",
    "read_toml",
]
