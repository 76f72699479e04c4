"""The trackloss version, recorded in every result file.

It is written here once; ``pyproject.toml`` reads it from this file when the package is built,
so the installed metadata and the version a result records cannot disagree, and nothing has to
look the version up in the installed metadata at start-up.
"""

__version__ = "0.1.0"
