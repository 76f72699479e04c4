"""Result files written so that a reader never sees half of one.

Every file trackloss writes (JSON records, reports, images, sweep points) goes to a temporary
file in the destination's folder, is flushed to disk, and then replaces the destination in one
step (:func:`os.replace`). An interrupted or failed write leaves the old file, or none, never a
stub. A process killed mid-write (``kill -9``) cannot remove its hidden temporary file; the next
write of the same destination removes such leftovers once they are :data:`STALE_SECONDS` old.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

STALE_SECONDS = 60.0
"""A temporary file untouched for this long belongs to a writer that died: it is removed."""


def temp_files(path: str | Path) -> list[Path]:
    """The hidden temporary files that writes of ``path`` create (``.<name>.*.tmp``)."""
    path = Path(path)
    try:
        return sorted(path.parent.glob(f".{_glob_escape(path.name)}.*.tmp"))
    except OSError:
        return []


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def remove_stale_temp_files(path: str | Path, older_than: float = STALE_SECONDS) -> list[Path]:
    """Remove temporary files of ``path`` left by killed writers; return those removed.

    Parameters
    ----------
    path : str or pathlib.Path
        The destination whose leftovers to remove.
    older_than : float
        Only files not modified for this many seconds go: a live writer's file is younger.
    """
    removed = []
    now = time.time()
    for tmp in temp_files(path):
        try:
            if now - tmp.stat().st_mtime >= older_than:
                tmp.unlink()
                removed.append(tmp)
        except OSError:  # gone already, or not ours to remove: leave it
            continue
    return removed


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    Parameters
    ----------
    path : str or pathlib.Path
        Destination file; its folder must exist.
    data : bytes
        The whole content.

    Raises
    ------
    OSError
        When the folder is missing or unwritable, or the disk is full; the destination is then
        unchanged and no temporary file is left.
    """
    path = Path(path)
    remove_stale_temp_files(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`write_bytes_atomic`).

    Parameters
    ----------
    path : str or pathlib.Path
        Destination file; its folder must exist.
    text : str
        The whole content.
    """
    write_bytes_atomic(path, text.encode("utf-8"))


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


def write_failure(error: OSError) -> str:
    """Why a write failed, in a few words: ``"no space left on device (errno 28)"``."""
    reason = error.strerror or str(error) or type(error).__name__
    reason = reason[:1].lower() + reason[1:]
    return f"{reason} (errno {error.errno})" if error.errno else reason


__all__ = [
    "STALE_SECONDS",
    "remove_stale_temp_files",
    "temp_files",
    "write_bytes_atomic",
    "write_failure",
    "write_json_atomic",
    "write_text_atomic",
]
