"""``--set dotted.path=value`` overrides, applied to a scenario's raw table before validation.

An override is read as a TOML value and assigned at its dotted path, creating tables on the way,
so it is then checked exactly like the file. Each assignment is remembered, so that a problem
found later at that path names the override that caused it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from simulator.config.problems import ScenarioError, format_path

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


def mention_override(path: str, message: str, origins: Mapping[str, str]) -> str:
    """Word a problem, naming the ``--set`` that produced the offending value, if any.

    Parameters
    ----------
    path : str
        Dotted path of the problem (empty for the top level).
    message : str
        What is wrong there.
    origins : mapping of str to str
        Dotted paths assigned by overrides, each to the override's text.

    Returns
    -------
    str
        ``path: message``, plus ``(from --set ...)`` when an override set that path or a
        table above it.
    """
    line = f"{path or '(top level)'}: {message}"
    for target, text in origins.items():
        if path == target or path.startswith((f"{target}.", f"{target}[")):
            return f"{line} (from --set {text})"
    return line


__all__ = ["apply_overrides", "mention_override", "parse_override"]
