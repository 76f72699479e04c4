"""The compiled loops: whether the machine code built at install time still matches its sources.

The page loop (used by :mod:`simulator.model.client.looped`), the request race
(:mod:`simulator.model.client.arrays`), the counting loop (:mod:`simulator.model.outcome_counts`)
and the usual ticks (:mod:`simulator.model.flush_worker`) are C extensions built from ``.pyx``
sources when the package is installed, and each has a counterpart on arrays for an install
without a compiler. :func:`built` finds a loop for its module. In an editable install, a source
edited or checked out since the last ``pip install -e .`` would run as the old machine code;
:func:`current` turns such a loop down, with a warning, so that the arrays stand in until the
package is installed again.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from types import ModuleType


def stale(folder: Path, compiled: list[Path], sources: tuple[str, ...]) -> list[str]:
    """The ``sources`` in ``folder`` changed after the ``compiled`` modules were built.

    Parameters
    ----------
    folder : pathlib.Path
        Where the sources would be (in a source tree; a wheel holds none).
    compiled : list of pathlib.Path
        The built modules' files.
    sources : tuple of str
        The sources' file names.

    Returns
    -------
    list of str
        The names of the sources newer than the oldest built module, in ``sources`` order.
    """
    built = min((p.stat().st_mtime for p in compiled), default=float("inf"))
    return [n for n in sources if (folder / n).exists() and (folder / n).stat().st_mtime > built]


def current(modules: list[ModuleType], sources: tuple[str, ...], what: str, instead: str) -> bool:
    """Whether the built ``modules`` may run: none of their ``sources`` changed since the build.

    Warns when one did, naming the loop (``what``) and what runs ``instead``.

    Parameters
    ----------
    modules : list of module
        The compiled modules, which sit beside their sources.
    sources : tuple of str
        The file names of their sources.
    what : str
        The loop, for the warning: ``"the page loop"``.
    instead : str
        What the caller does without it, for the warning: ``"settling on arrays instead"``.

    Returns
    -------
    bool
        True when the modules match their sources (or no sources are there to compare).
    """
    files = [Path(m.__file__) for m in modules]
    changed = stale(files[0].parent, files, sources)
    if changed:
        warnings.warn(
            f"{what} was compiled before {', '.join(changed)} changed: {instead}; reinstall "
            "the package (pip install -e .) to compile it again",
            RuntimeWarning,
            stacklevel=4,
        )
    return not changed


def built(name: str, sources: tuple[str, ...], what: str, instead: str) -> ModuleType | None:
    """The compiled module ``name``, or None where it was not built or its sources changed since.

    Parameters
    ----------
    name : str
        The module's dotted name.
    sources, what, instead
        As for :func:`current`.

    Returns
    -------
    module or None
        The module when it may run; None tells the caller to do the same on arrays.
    """
    try:
        module = importlib.import_module(name)
    except ImportError:  # built without a compiler: the caller's arrays stand in
        return None
    return module if current([module], sources, what, instead) else None


__all__ = ["built", "current", "stale"]
