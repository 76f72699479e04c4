"""trackloss: simulate how much analytics data never arrives, and how biased the rest is."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("trackloss")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"
