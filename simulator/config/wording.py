"""How every scenario problem is worded, in one place.

A problem is a rule the scenario breaks, stated as "must ...", with the value given. pydantic
reports its own rules (bounds, types, allowed values) by an error type and a context such as
``{"gt": 0}``; the scenario's validators raise :func:`problem` with a type of their own and a
context, including ``at``, the path from where the validator runs to the key at fault. The
templates below word both kinds; :mod:`simulator.config.problems` fills them in.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError

from simulator.config.limits import NAME_PATTERN

_PYDANTIC: dict[str, str] = {
    # pydantic's own error types, and how problems.py words unknown keys and kinds
    "missing": "required key missing",
    "unknown_key": "unknown key (allowed: {allowed})",
    "unknown_key_here": "unknown key",
    "unknown_kind": "unknown kind {given} (allowed: {allowed})",
    "kind_missing": "required key missing (allowed kinds: {allowed})",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be greater than or equal to {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be less than or equal to {le}",
    "finite_number": "must be a finite number",
    "float_type": "must be a number",
    "int_type": "must be a valid integer",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "list_type": "must be an array",
    "literal_error": "must be {expected}",
    "too_short": "must have at least {min_length} item{s}",
    "too_long": "must have at most {max_length} item{s}",
    "string_too_short": "must have at least {min_length} character{s}",
    "string_too_long": "must have at most {max_length} character{s}",
    "string_pattern_mismatch": "must match the pattern {pattern}",
    "name_characters": "may contain only letters, digits, '_', '.' and '-'",
}

_OWN: dict[str, str] = {
    # the scenario's own rules, raised by its validators through problem()
    "between_0_and_1": "must be between 0 and 1, got {value}",
    "shares_sum": "shares must sum to 1, got {total}",
    "sum_to_1": "must sum to 1, got {total}",
    "names_unique": "names must be unique, got {names}",
    "name_unique": "must be unique, got {name}",
    "undeclared_channels": "names undeclared channels {unknown}; declared: {declared}",
    "funnel_length": (
        "must give one probability per funnel event ({steps}: {funnel}), got {given}"
    ),
    "unknown_event": "plan {plan} maps unknown event {event}; events: {events}",
    "client_only_path": "plan {plan}: {event} is client_only and can only take the client path, "
    "got {path}",
    "offsite_path": "plan {plan}: {event} is offsite (no browser) and can only take the server "
    "path, got {path}",
    "handler_key": "must be a device {devices} or 'device.browser' with a browser in {browsers}",
    "every_device": "needs a probability for every device, missing {missing}",
    "high_above_low": "must be greater than low, got low={low}, high={high}",
    "weights_length": "must have one entry per value ({values}), got {weights}",
    "weights_positive": "must be >= 0 with a positive sum, got {weights}",
    "browser_version": 'must be a major version number such as "133", got {value}',
    "os_device": "must be one of {allowed}, the systems that run {browser} on {device}, got "
    "{value}",
    "mix_country": "must be one of the segment's countries {countries}, got {country}",
    "plan_client": "plan {plan}: own client settings need a plan that neither respects the "
    "blocker choice nor sends dual, got respect_blocker_choice={respects}, dual events {dual}",
    "url": "must be an http(s) URL with a host, got {value}",
    "list_file": "must name a readable filter-list file, got {path}",
    "unknown_list": "must name a shipped filter list {builtin} or one of client.filter_lists "
    "{given}, got {name}",
    "pages_mean": "mean must be at most {limit} pages per visit, got {mean}",
    "quantity": "must be an event name, value:<event>, sessions or visitors (events: {events}), "
    "got {quantity}",
}

RULES: dict[str, str] = {**_PYDANTIC, **_OWN}
"""Template of each problem type; ``{name}`` is filled from the error's context."""

OWN_RULES = frozenset(_OWN)
"""Types raised by the scenario's validators: their templates state the value themselves."""


def number(value: Any) -> str:
    """Write a bound or value briefly: ``0``, ``0.99``, ``8784``, ``1e+09``.

    Examples
    --------
    >>> number(8784.0), number(1e9), number(0.99), number(3)
    ('8784', '1e+09', '0.99', '3')
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}"


def problem(rule: str, at: tuple[str | int, ...] = (), **context: Any) -> PydanticCustomError:
    """Build the error a scenario validator raises for a broken rule.

    Parameters
    ----------
    rule : str
        A key of :data:`RULES`.
    at : tuple of str or int
        Path from the validated value to the key at fault (``("us",)`` for one share of a
        mix); ``"[*]"`` stands for every item of a list.
    **context
        Values for the template: numbers are written briefly, anything else as ``repr``.

    Returns
    -------
    pydantic_core.PydanticCustomError
        To be raised inside a validator.

    Examples
    --------
    >>> str(problem("shares_sum", total=0.9))
    'shares must sum to 1, got 0.9'
    """
    shown = {k: number(v) if isinstance(v, int | float) else repr(v) for k, v in context.items()}
    return PydanticCustomError(rule, RULES[rule], {"at": at, **shown})


def word(kind: str, context: dict[str, Any]) -> str | None:
    """Word a problem of type ``kind`` with its context, or ``None`` for an unknown type.

    Examples
    --------
    >>> word("greater_than", {"gt": 0})
    'must be greater than 0'
    """
    if kind == "string_pattern_mismatch" and context.get("pattern") == NAME_PATTERN:
        kind = "name_characters"
    template = RULES.get(kind)
    if template is None:
        return None
    filled = {k: number(v) for k, v in context.items()}
    for count in ("min_length", "max_length"):
        if count in context:
            filled["s"] = "" if context[count] == 1 else "s"
    try:
        return template.format(**filled)
    except (KeyError, IndexError, ValueError):
        return None


__all__ = ["OWN_RULES", "RULES", "number", "problem", "word"]
