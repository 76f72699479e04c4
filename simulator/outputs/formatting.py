"""How numbers and loss causes are written, the same way in every table, sentence and figure.

Fractions are shown as percentages with one decimal, intervals as ``[low, high]`` in the same
unit as their estimate, counts with thousands separators, and unknown values (``None``, NaN,
infinities, wrong types from a hand-edited record) as ``-``. ``-0.0`` never appears.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

CAUSE_WORDS = {
    "blocked": "ad and privacy blockers",
    "unload": "page unloads",
    "network": "network failures",
    "queue_full": "a full server queue",
    "retries_exhausted": "exhausted retries",
    "process_exit": "server restarts",
    "never_returned": "visitors who never came back",
    "no_javascript": "visitors without JavaScript",
    "withheld": "opt-outs respected",
    "pending": "still in flight at the end",
    "estimated": "all causes, estimated from the logs",
}
"""Every loss cause in words, for sentences, table cells and plot legends alike."""


def finite(x: Any) -> bool:
    """Whether ``x`` is a real, finite number (not a bool, not None, not NaN).

    Examples
    --------
    >>> finite(0.5), finite(None), finite(float("nan")), finite(True)
    (True, False, False, False)
    """
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def percent(x: Any, digits: int = 1, sign: bool = False, unit: bool = True) -> str:
    """A fraction as a percentage: ``0.182`` gives ``18.2%``; ``-`` when unknown.

    Parameters
    ----------
    x : float
        The fraction.
    digits : int
        Digits after the point.
    sign : bool
        Always show the sign (for differences).
    unit : bool
        Append ``%`` (tables whose header names the unit leave it out).

    Returns
    -------
    str

    Examples
    --------
    >>> percent(0.182), percent(-0.0004, sign=True), percent(0.05, unit=False)
    ('18.2%', '+0.0%', '5.0')
    """
    if not finite(x):
        return "-"
    value = round(100 * x, digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    text = f"{value:{'+' if sign else ''}.{digits}f}"
    return text + "%" if unit else text


def interval(ci: Any, digits: int = 1, unit: bool = False) -> str:
    """A ``[low, high]`` pair of fractions as ``[17.9, 18.5]`` (percent); ``-`` when unknown.

    Examples
    --------
    >>> interval([0.179, 0.185]), interval(None)
    ('[17.9, 18.5]', '-')
    """
    if not isinstance(ci, Sequence) or len(ci) != 2 or not all(finite(v) for v in ci):
        return "-"
    return f"[{percent(ci[0], digits, unit=unit)}, {percent(ci[1], digits, unit=unit)}]"


def percent_range(ci: Any, digits: int = 1, sign: bool = False) -> str:
    """An interval for a sentence: ``17.9–18.5%``, or ``-1.6% to +0.4%`` when signed.

    Examples
    --------
    >>> percent_range([0.179, 0.185]), percent_range([-0.016, 0.004])
    ('17.9–18.5%', '-1.6% to 0.4%')
    """
    if not isinstance(ci, Sequence) or len(ci) != 2 or not all(finite(v) for v in ci):
        return "-"
    if sign or min(ci) < 0:
        return f"{percent(ci[0], digits, sign)} to {percent(ci[1], digits, sign)}"
    return f"{percent(ci[0], digits, unit=False)}–{percent(ci[1], digits)}"


def points(x: Any, digits: int = 1) -> str:
    """A difference of two shares in percentage points: ``-0.012`` gives ``-1.2 pts``.

    Examples
    --------
    >>> points(-0.012), points(0.0)
    ('-1.2 pts', '+0.0 pts')
    """
    return "-" if not finite(x) else f"{percent(x, digits, sign=True, unit=False)} pts"


def points_range(ci: Any, digits: int = 1) -> str:
    """An interval of a difference in points: ``-1.6 to -0.9 pts``; ``-`` when unknown.

    Examples
    --------
    >>> points_range([-0.016, -0.009])
    '-1.6 to -0.9 pts'
    """
    if not isinstance(ci, Sequence) or len(ci) != 2 or not all(finite(v) for v in ci):
        return "-"
    low, high = (percent(v, digits, sign=True, unit=False) for v in ci)
    return f"{low} to {high} pts"


def share(fraction: Any) -> str:
    """A positive share as a percentage, ``<0.1%`` rather than a misleading ``0.0%``."""
    if not finite(fraction):
        return "-"
    return "<0.1%" if 0 < fraction < 0.0005 else percent(fraction)


def count(x: Any, decimals: int | None = None) -> str:
    """A count (or a mean count) with thousands separators: ``12,345`` or ``8,738.3``.

    Parameters
    ----------
    x : float or int
        The count; ``-`` when unknown.
    decimals : int, optional
        Digits after the point; by default none for whole numbers and one otherwise.

    Returns
    -------
    str

    Examples
    --------
    >>> count(12345), count(8738.25), count(None)
    ('12,345', '8,738.2', '-')
    """
    if not finite(x):
        return "-"
    if decimals is None:
        decimals = 0 if float(x).is_integer() else 1
    return f"{x:,.{decimals}f}"


def number(x: Any) -> str:
    """A value of any size for a report: two decimals from 1 up, four below."""
    if not finite(x):
        return "-"
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.4f}"


def p_value(p: Any) -> str:
    """A p-value for a table: three decimals, ``<0.001`` below a thousandth.

    Examples
    --------
    >>> p_value(0.04321), p_value(1e-9)
    ('0.043', '<0.001')
    """
    if not finite(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def plural(n: int, word: str) -> str:
    """``3 replications``, ``1 replication``: never ``replication(s)``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


__all__ = [
    "CAUSE_WORDS",
    "count",
    "finite",
    "interval",
    "number",
    "p_value",
    "percent",
    "percent_range",
    "plural",
    "points",
    "points_range",
    "share",
]
