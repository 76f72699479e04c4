"""Turn pydantic validation errors into one-line problems a scenario author can act on.

Each problem is a dotted path into the scenario file (``[i]`` for list items) and a message
with the rule and the value given. Messages are worded from each error's type and context by
:mod:`simulator.config.wording`, never from pydantic's English: "unknown key" lists the keys the
table allows, tags of discriminated unions are dropped from paths (a distribution's ``kind`` is
a key the user wrote, not a level of nesting), and the scenario's own validators say in their
error's ``at`` context which key below them is at fault.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from simulator.config.scenario import Scenario
from simulator.config.wording import OWN_RULES, word


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


_MISSING = object()
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_NO_VALUE = {"missing", "extra_forbidden", "union_tag_invalid", "union_tag_not_found"}


def format_path(parts: Sequence[str | int]) -> str:
    """Format path parts as a dotted path: ``population.segments[1].share``.

    Keys that are not bare TOML keys are quoted (``client.handler_fires."desktop.safari"``);
    the part ``"[*]"`` stands for every item of a list.
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[*]":
            out += part
        else:
            key = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
            out += f".{key}" if out else key
    return out


def show_value(value: Any, limit: int = 80) -> str:
    """Render a value the way it would look in a TOML file, shortened to ``limit`` characters."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k} = {show_value(v, limit)}" for k, v in value.items()) + "}"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(show_value(v, limit) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_validation_error(exc: ValidationError, data: Any) -> list[tuple[str, str]]:
    """Explain every error of a failed :class:`~simulator.config.scenario.Scenario` validation.

    Parameters
    ----------
    exc : pydantic.ValidationError
        The error raised by ``Scenario.model_validate(data)``.
    data : object
        The raw input that was validated (used to drop union tags and to name allowed keys).

    Returns
    -------
    list of (str, str)
        ``(dotted path, message)`` per problem, in pydantic's order, without repeats.
    """
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        item = _describe(err, data)
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


# --------------------------------------------------------------------------- walking the model


def _members(tp: Any) -> Iterator[Any]:
    """Yield the concrete types behind ``Annotated``, ``Optional`` and unions."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        yield from _members(typing.get_args(tp)[0])
    elif origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(tp):
            yield from _members(arg)
    elif tp is not type(None):
        yield tp


def _models(tp: Any) -> list[type[BaseModel]]:
    return [t for t in _members(tp) if isinstance(t, type) and issubclass(t, BaseModel)]


def _kinds(model: type[BaseModel]) -> tuple[Any, ...]:
    """Values of a model's ``kind`` literal (its tag in a discriminated union)."""
    field = model.model_fields.get("kind")
    return () if field is None else typing.get_args(field.annotation)


def _model_for(tp: Any, node: Any) -> type[BaseModel] | None:
    """The model that validates ``node`` at a place typed ``tp`` (choosing by ``kind``)."""
    models = _models(tp)
    if len(models) == 1:
        return models[0]
    if isinstance(node, dict):
        for model in models:
            if node.get("kind") in _kinds(model):
                return model
    return None


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return _MISSING


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return sorted(info.alias or name for name, info in model.model_fields.items())


def _locate(parts: Sequence[str | int], data: Any) -> tuple[Any, Any]:
    """Follow ``parts`` from the top of a scenario; return the declared type and the input there."""
    tp: Any = Scenario
    node = data
    for part in parts:
        model = _model_for(tp, node)
        if model is not None and isinstance(part, str):
            tp = _field(model, part)
        else:
            args = [typing.get_args(m) for m in _members(tp)]
            origins = [typing.get_origin(m) for m in _members(tp)]
            if list in origins and isinstance(part, int):
                tp = args[origins.index(list)][0]
            elif dict in origins and isinstance(part, str):
                tp = args[origins.index(dict)][1]
            else:
                tp = _MISSING
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = _MISSING
    return tp, node


def _clean_loc(loc: Sequence[str | int], data: Any) -> list[str | int]:
    """Drop union tags and pydantic's ``[key]`` marker from an error location."""
    parts: list[str | int] = []
    node = data
    for element in loc:
        if element == "[key]":
            continue
        if isinstance(node, dict) and element not in node and node.get("kind") == element:
            continue
        parts.append(element)
        try:
            node = node[element]
        except (KeyError, IndexError, TypeError):
            node = _MISSING
    return parts


# --------------------------------------------------------------------------- messages


def _names(expected: str) -> str:
    """``"'a', 'b' or 'c'"`` (pydantic's list of allowed values) as ``a, b, c``."""
    return ", ".join(part.strip().strip("'") for part in expected.replace(" or ", ", ").split(","))


def _describe(err: Any, data: Any) -> tuple[str, str]:
    kind = err["type"]
    loc = err["loc"]
    parts = _clean_loc(loc, data)
    value = err.get("input", _MISSING)
    ctx = err.get("ctx") or {}
    show = kind not in _NO_VALUE and kind not in OWN_RULES
    if kind == "extra_forbidden":
        model = _model_for(*_locate(parts[:-1], data))
        msg = word("unknown_key", {"allowed": ", ".join(_allowed_keys(model))}) if model else None
        msg = msg or word("unknown_key_here", {})
    elif kind == "literal_error" and loc and loc[-1] == "[key]":
        msg = word("unknown_key", {"allowed": _names(str(ctx.get("expected", "")))})
        show = False
    elif kind == "union_tag_invalid":
        parts = [*parts, "kind"]
        given = value.get("kind") if isinstance(value, dict) else ctx.get("tag")
        tags = _names(str(ctx.get("expected_tags", "")))
        msg = word("unknown_kind", {"given": show_value(given), "allowed": tags})
    elif kind == "union_tag_not_found":
        tp, _ = _locate(parts, data)
        tags = ", ".join(str(t) for m in _models(tp) for t in _kinds(m))
        parts = [*parts, "kind"]
        msg = word("kind_missing", {"allowed": tags}) if tags else word("missing", {})
    elif kind in OWN_RULES:
        parts = [*parts, *ctx.get("at", ())]
        msg = word(kind, ctx) or err["msg"]
    else:
        msg = word(kind, ctx) or _fallback(err["msg"])
    if show and value is not _MISSING:
        msg += f", got {show_value(value)}"
    return format_path(parts), msg


def _fallback(text: str) -> str:
    """A message of a type :data:`~simulator.config.wording.RULES` does not word, as a rule."""
    text = text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    for subject in ("Input", "String", "List", "Dictionary", "Value"):
        if text.startswith(f"{subject} should "):
            return "must " + text[len(subject) + len(" should ") :]
    return text
