"""Builds the compiled loops: page loop and queue, request race, counting, usual ticks, dual rows.

Their sources are ``simulator/model/client/page_loop.pyx`` (and ``queue_heap.pyx``),
``simulator/model/client/request_race.pyx`` (a round of one request per event),
``simulator/model/counting_loop.pyx``, ``simulator/model/usual_ticks.pyx`` (an idle server
worker's run of usual ticks) and ``simulator/model/dual_rows.pyx`` (dual events' server copies).
Everything else about the package is in
``pyproject.toml``. The extensions are optional: where they cannot be compiled, the package
installs without them and does the same on arrays instead.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

LOOPS = [
    Extension(f"simulator.model.client.{m}", [f"simulator/model/client/{m}.pyx"], optional=True)
    for m in ("queue_heap", "page_loop", "request_race")
] + [
    Extension(f"simulator.model.{m}", [f"simulator/model/{m}.pyx"], optional=True)
    for m in ("counting_loop", "dual_rows", "usual_ticks")
]

setup(ext_modules=cythonize(LOOPS, quiet=True))
