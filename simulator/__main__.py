"""Run the ``trackloss`` command line as ``python -m simulator``."""

import sys

from simulator.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
