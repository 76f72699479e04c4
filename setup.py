"""Builds the compiled loops: the page loop and its queue, and the counting loop.

Their sources are ``simulator/model/client/page_loop.pyx`` (and ``queue_heap.pyx``) and
``simulator/model/counting_loop.pyx``. Everything else about the package is in
``pyproject.toml``. The extensions are optional: where they cannot be compiled, the package
installs without them, and settles and counts on arrays instead.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

LOOPS = [
    Extension(f"simulator.model.client.{m}", [f"simulator/model/client/{m}.pyx"], optional=True)
    for m in ("queue_heap", "page_loop")
] + [
    Extension("simulator.model.counting_loop", ["simulator/model/counting_loop.pyx"], optional=True)
]

setup(ext_modules=cythonize(LOOPS, quiet=True))
