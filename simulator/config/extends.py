"""Scenario files that extend another: ``extends = "baseline.toml"``.

A scenario that differs from another in a few settings names it in a top-level ``extends`` key
(a path relative to the file) and states only what changes. The base is read first (it may
extend another in turn), then the file is merged over it: tables merge key by key, and every
other value (numbers, strings, lists, arrays of tables such as ``[[plans]]`` or
``[[population.segments]]``) replaces the base's whole. The merged document is validated like
any scenario, and results echo it in full, so a result never depends on a file it does not
show.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

KEY = "extends"


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Merge ``top`` over ``base``: tables key by key, anything else replaced whole.

    Parameters
    ----------
    base, top : dict
        Parsed TOML tables; neither is modified.

    Returns
    -------
    dict
        A new table.
    """
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve(
    data: dict[str, Any],
    path: Path,
    read: Callable[[Path], dict[str, Any]],
    seen: tuple[Path, ...] = (),
) -> dict[str, Any]:
    """Replace a file's ``extends`` key by the contents of the file it names.

    Parameters
    ----------
    data : dict
        The parsed file.
    path : pathlib.Path
        Where it was read from (``extends`` is relative to its folder).
    read : callable
        Reads and parses a TOML file, raising :class:`ValueError` with a one-line reason.
    seen : tuple of pathlib.Path
        Files already on the chain (to report a cycle).

    Returns
    -------
    dict
        The merged document, without ``extends``.

    Raises
    ------
    ValueError
        When ``extends`` is not a string, a file on the chain cannot be read, or the chain comes
        back to a file already on it; the message is a one-line problem about the ``extends``
        key, naming the file that failed.
    """
    if KEY not in data:
        return data
    name = data[KEY]
    if not isinstance(name, str) or not name:
        raise ValueError(f"{KEY}: must be the path of another scenario file, got {name!r}")
    here = path.resolve()
    base_path = (path.parent / name).resolve()
    chain = (*seen, here)
    if base_path in chain:
        loop = " -> ".join(p.name for p in (*chain, base_path))
        raise ValueError(f"{KEY}: scenario files extend each other in a loop: {loop}")
    try:
        base_data = read(base_path)
    except ValueError as error:
        raise ValueError(f"{KEY}: cannot use {name!r} ({base_path}): {error}") from None
    base = resolve(base_data, base_path, read, chain)
    top = {k: v for k, v in data.items() if k != KEY}
    return merge(base, top)
