"""The ``trackloss`` command line: one thin argparse adapter per command.

Shared options and the exit codes live in :mod:`~simulator.cli.options`; each command imports
the stages it needs only when it runs, so ``trackloss --help`` starts quickly.
"""
