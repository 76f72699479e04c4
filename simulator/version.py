"""The installed trackloss version, recorded in every result file."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("trackloss")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"
