"""Builds the compiled page loop (``simulator/model/client/page_loop.pyx`` and its queue).

Everything else about the package is in ``pyproject.toml``. The extensions are optional: where
they cannot be compiled, the package installs without them and settles on arrays instead.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

LOOP = [
    Extension(f"simulator.model.client.{m}", [f"simulator/model/client/{m}.pyx"], optional=True)
    for m in ("queue_heap", "page_loop")
]

setup(ext_modules=cythonize(LOOP, quiet=True))
