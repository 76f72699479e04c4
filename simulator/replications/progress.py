"""Progress bars: drawn on a terminal or in a notebook, never in logs, pipes or CI.

:func:`progress_bar` gives a :mod:`tqdm.auto` bar where someone can see it, and a
:class:`QuietBar` elsewhere, so that a command run in a script does not import tqdm (nor the
asyncio it imports) for a bar nobody sees.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (where tqdm draws a widget)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ipython = shell.get_ipython() if hasattr(shell, "get_ipython") else None
    return type(ipython).__name__ == "ZMQInteractiveShell"


def progress_wanted(progress: bool | str) -> bool:
    """Resolve a ``progress`` argument: ``"auto"`` means on a terminal or in a notebook.

    Parameters
    ----------
    progress : bool or "auto"
        ``True``/``False`` force it; ``"auto"`` shows a bar only where someone can see it
        (stderr is a terminal, or a notebook), never in logs or CI.
    """
    if progress == "auto":
        return in_notebook() or sys.stderr.isatty()
    return bool(progress)


class QuietBar:
    """What a progress bar's user calls, drawing nothing: the bar where none is wanted.

    Counts its steps in ``n`` as tqdm does, and takes a description or postfix silently.
    """

    disable = True

    def __init__(self, total: int) -> None:
        self.total, self.n = total, 0

    def __enter__(self) -> QuietBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: float = 1) -> None:
        """Count ``n`` more steps."""
        self.n += n

    def close(self) -> None:
        """Nothing to close."""

    def set_description_str(self, desc: str | None = None, refresh: bool = True) -> None:
        """Nothing to describe."""

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to show."""

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        """Nothing to show."""


def progress_bar(
    total: int, desc: str, unit: str, progress: bool | str, bar_format: str | None = None
) -> Any:
    """A :mod:`tqdm.auto` bar (terminal or notebook), disabled unless wanted.

    Parameters
    ----------
    total : int
        Number of steps.
    desc, unit : str
        Label and unit shown on the bar.
    progress : bool or "auto"
        See :func:`progress_wanted`.
    bar_format : str, optional
        tqdm's format of the line, for steps of unequal length (whose rate and time left
        would mislead); tqdm's own by default.

    Returns
    -------
    tqdm.tqdm or QuietBar
        Use as a context manager; ``update()`` after each step. Where no bar is wanted, a
        :class:`QuietBar`: tqdm, and the asyncio it imports, cost 0.05 to 0.1 s of start-up.
    """
    if not progress_wanted(progress):
        return QuietBar(total)
    if in_notebook() and importlib.util.find_spec("ipywidgets") is None:
        # tqdm's notebook bar needs ipywidgets (pip install 'trackloss[notebook]') and warns
        # without it: stay quiet then, unless a bar was asked for (a text bar).
        if progress is not True:
            return QuietBar(total)
        from tqdm.std import tqdm

        return tqdm(total=total, desc=desc, unit=unit, bar_format=bar_format)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, bar_format=bar_format)


__all__ = ["QuietBar", "in_notebook", "progress_bar", "progress_wanted"]
