"""Result files written so that a reader never sees half of one.

Every file trackloss writes (JSON records, reports, sweep points) goes to a temporary file in
the destination's folder, is flushed to disk, and then replaces the destination in one step
(:func:`os.replace`). An interrupted run leaves the old file, or none, never a stub.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Parameters
    ----------
    path : str or pathlib.Path
        Destination file; its folder must exist.
    text : str
        The whole content.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` as JSON atomically, with ``indent=2, sort_keys=True``.

    Parameters
    ----------
    path : str or pathlib.Path
        Destination file.
    data : object
        Anything :func:`json.dumps` accepts; the same data gives the same bytes.
    """
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
