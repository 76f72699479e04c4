"""Sweep grids: axes of override values and the points of their Cartesian product.

An axis is written ``PATH=VALUES``, where ``PATH`` is a ``--set`` path and ``VALUES`` is either

* a range ``start:stop:count`` -- ``count`` evenly spaced numbers from ``start`` to ``stop``
  inclusive (whole numbers when both ends and the step are whole: ``1000:5000:5``), or
* a comma list -- each item read exactly like a ``--set`` value (TOML, else a bare string), so
  ``xhr,beacon``, ``0.1,0.25`` and ``[0.4,0.3,0.6,0.7],[0.5,0.3,0.6,0.7]`` all work (commas
  inside brackets, braces and quotes do not split).

A *linked* axis moves several paths together, step by step (their value lists are zipped and
must have the same length): the way to vary shares that must sum to 1.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.config.overrides import parse_override

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*:\s*({_NUMBER})\s*:\s*(\d+)\s*$")
_WHOLE = re.compile(r"^\s*[-+]?\d+\s*$")


@dataclass(frozen=True)
class Axis:
    """One dimension of a grid: ``paths`` that take ``steps[j]`` together at step ``j``.

    Attributes
    ----------
    paths : tuple of str
        ``--set`` paths (one, or several for a linked axis).
    steps : tuple of tuple
        For each step, one value per path.
    texts : tuple of tuple of str
        The same values as ``--set`` value text.
    """

    paths: tuple[str, ...]
    steps: tuple[tuple[Any, ...], ...]
    texts: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Point:
    """One grid point: its index, its overrides, and the values it sets by path."""

    index: int
    overrides: tuple[str, ...]
    values: dict[str, Any]

    @property
    def slug(self) -> str:
        """A short, file-name-safe description such as ``extension_privacy=0.3_transport=xhr``."""
        parts = [f"{leaf(path)}={value}" for path, value in self.values.items()]
        slug = re.sub(r"[^A-Za-z0-9._=+-]+", "-", "_".join(parts)).strip("-")
        return slug[:80] or "point"


def leaf(path: str) -> str:
    """The last key of a ``--set`` path: ``extension_privacy``, ``desktop.safari``, ``funnel``."""
    keys = [part for part in parse_override(f"{path}=0")[0] if isinstance(part, str)]
    return keys[-1]


def split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets, braces or quotes."""
    items, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item.strip() for item in items]


def _range(match: re.Match) -> tuple[list[Any], list[str]]:
    start, stop, count = match[1], match[2], int(match[3])
    if count < 1:
        raise ValueError(f"a range needs a count of at least 1, got {count}")
    values = np.linspace(float(start), float(stop), count)
    whole = _WHOLE.match(start) and _WHOLE.match(stop)
    if whole and np.all(values == np.round(values)):
        out: list[Any] = [int(v) for v in np.round(values)]
    else:
        # Round off binary noise (0.30000000000000004 -> 0.3); 12 digits is far below any knob.
        out = [float(round(float(v), 12)) for v in values]
    return out, [repr(v) for v in out]


def parse_axis(text: str) -> Axis:
    """Parse one ``PATH=VALUES`` axis.

    Parameters
    ----------
    text : str
        As typed after ``--vary``.

    Returns
    -------
    Axis
        A one-path axis.

    Raises
    ------
    ValueError
        If there is no ``=``, the path is malformed, a range's count is below 1, or the list
        has an empty item.
    """
    path_text, sep, values_text = text.partition("=")
    path = path_text.strip()
    if not sep or not values_text.strip():
        raise ValueError(f"{text!r}: expected PATH=VALUES (start:stop:count or a,b,c)")
    parse_override(f"{path}=0")  # checks the path's syntax, with --set's messages
    match = _RANGE.match(values_text)
    if match is not None:
        values, texts = _range(match)
    else:
        texts = split_top_level(values_text)
        if any(not t for t in texts):
            raise ValueError(f"{text!r}: empty value in the list")
        values = [parse_override(f"{path}={t}")[1] for t in texts]
    return Axis((path,), tuple((v,) for v in values), tuple((t,) for t in texts))


def link(axes: Sequence[Axis]) -> Axis:
    """Zip several axes into one whose paths move together.

    Raises
    ------
    ValueError
        If the axes have different numbers of values, or a path appears twice.
    """
    lengths = {len(a.steps) for a in axes}
    paths = tuple(p for a in axes for p in a.paths)
    if len(lengths) != 1:
        described = ", ".join(f"{a.paths[0]} has {len(a.steps)}" for a in axes)
        raise ValueError(f"linked paths need the same number of values; {described}")
    if len(set(paths)) != len(paths):
        raise ValueError(f"a linked axis names a path twice: {list(paths)}")
    steps = tuple(tuple(v for a in axes for v in a.steps[j]) for j in range(lengths.pop()))
    texts = tuple(tuple(t for a in axes for t in a.texts[j]) for j in range(len(steps)))
    return Axis(paths, steps, texts)


def grid(axes: Sequence[Axis]) -> list[Point]:
    """The points of the Cartesian product of ``axes``, the last axis varying fastest.

    Raises
    ------
    ValueError
        If there is no axis, or two axes vary the same path.
    """
    if not axes:
        raise ValueError("a sweep needs at least one axis to vary")
    paths = [p for a in axes for p in a.paths]
    if len(set(paths)) != len(paths):
        twice = sorted({p for p in paths if paths.count(p) > 1})
        raise ValueError(f"more than one axis varies {', '.join(twice)}")
    points = []
    for index, combo in enumerate(itertools.product(*(range(len(a.steps)) for a in axes))):
        overrides, values = [], {}
        for axis, j in zip(axes, combo, strict=True):
            for path, value, text in zip(axis.paths, axis.steps[j], axis.texts[j], strict=True):
                overrides.append(f"{path}={text}")
                values[path] = value
        points.append(Point(index, tuple(overrides), values))
    return points


__all__ = ["Axis", "Point", "grid", "leaf", "link", "parse_axis", "split_top_level"]
