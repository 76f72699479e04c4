"""Run the ``trackloss`` command line as ``python -m simulator``."""

import sys

from simulator.cli.main import program

if __name__ == "__main__":
    sys.exit(program())
