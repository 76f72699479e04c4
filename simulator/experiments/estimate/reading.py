"""Reading a site's copies (CSV, Parquet, JSON Lines) a batch at a time, with pyarrow datasets.

Every row is one copy an analytics collector received. The columns ``event_key`` (shared by the
copies of one real event), ``path`` (``client`` or ``server``), ``event``, ``time`` and
``visitor`` are required; ``value`` and the segment columns (``device``, ``browser``,
``country``, ``channel``, ...) are optional. A mapping renames the site's own columns to these.

Only the needed columns are read, batch by batch, and each batch is reduced at once to compact
integer codes (a 64-bit hash of the key and of the visitor, a small code per category), so the
memory is a few tens of bytes per row whatever the file's width. Problems raise
:class:`LogError`, whose message names the file, column or row and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REQUIRED = ("event_key", "path", "event", "time", "visitor")
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "json"}
FORMATS[".ndjson"] = "json"
PATHS = ("client", "server")
THIRD_PATHS = ("pixel", "cdn", "third")
"""``path`` values of a third source (a no-JavaScript pixel, a CDN log), used to test whether
the client and server paths miss independently."""


class LogError(ValueError):
    """A log file that cannot be read as copies; the message says where and what was expected."""


@dataclass
class Copies:
    """The copies read so far, as compact columns (one entry per row)."""

    key: list[np.ndarray] = field(default_factory=list)
    server: list[np.ndarray] = field(default_factory=list)
    third: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)
    visitor: list[np.ndarray] = field(default_factory=list)
    time: list[np.ndarray] = field(default_factory=list)
    codes: dict[str, list[np.ndarray]] = field(default_factory=dict)
    labels: dict[str, dict[str, int]] = field(default_factory=dict)
    rows: int = 0


def require_dataset() -> Any:
    """Import ``pyarrow.dataset``, or raise ImportError naming the extra that provides it."""
    try:
        import pyarrow.dataset as ds
    except ImportError as error:
        raise ImportError(
            "trackloss estimate needs pyarrow: pip install 'trackloss[estimate]'"
        ) from error
    return ds


def format_of(path: Path, given: str | None = None) -> str:
    """The pyarrow format of ``path`` (``csv``, ``parquet`` or ``json``), from its suffix."""
    if given:
        return {"jsonl": "json", "json": "json", "csv": "csv", "parquet": "parquet"}[given]
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    for f in files:
        if f.suffix.lower() in FORMATS:
            return FORMATS[f.suffix.lower()]
    raise LogError(f"{path}: expected a .csv, .parquet or .jsonl file (or --format)")


def _hash(column: Any) -> np.ndarray:
    """A 64-bit code per value (integers as they are, anything else hashed)."""
    import pyarrow as pa

    if pa.types.is_integer(column.type):
        return column.to_numpy(zero_copy_only=False).astype(np.int64)
    import pandas as pd

    values = column.cast(pa.string()).to_numpy(zero_copy_only=False)
    return pd.util.hash_array(values.astype(object)).view(np.int64)


def _codes(copies: Copies, name: str, column: Any) -> np.ndarray:
    """Small integer codes of a categorical column, with labels shared across batches."""
    import pyarrow as pa
    import pyarrow.compute as pc

    enc = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    labels = copies.labels.setdefault(name, {})
    local = [labels.setdefault(str(x), len(labels)) for x in enc.dictionary.to_pylist()]
    idx = enc.indices.to_numpy(zero_copy_only=False)
    if not local:
        return np.zeros(len(idx), np.int32)
    out = np.asarray(local, np.int32)[np.nan_to_num(idx, nan=0).astype(np.int64)]
    return out


def _seconds(name: Path, column: Any, first_row: int) -> np.ndarray:
    """Seconds since 1970 of each row's time (timestamps, numbers of seconds, or dates)."""
    import pyarrow as pa

    if pa.types.is_timestamp(column.type):
        ms = column.cast(pa.timestamp("ms", tz=column.type.tz)).cast(pa.int64())
        return ms.fill_null(0).to_numpy(zero_copy_only=False) // 1000
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return column.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    import pandas as pd

    text = pd.Series(column.cast(pa.string()).to_numpy(zero_copy_only=False))
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        row = first_row + int(bad[0]) + 1
        raise LogError(
            f"{name}: row {row}, column 'time': expected a date and time, got "
            f"{text.iloc[int(bad[0])]!r}"
        )
    return parsed.dt.tz_localize(None).to_numpy().astype("datetime64[s]").astype(np.int64)


def _values(name: Path, column: Any, theirs: str) -> np.ndarray:
    """The ``value`` column as numbers (missing values count 0)."""
    import pyarrow as pa

    try:
        numbers = column.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise LogError(
            f"{name}: column {theirs!r} (value): expected numbers: {str(error).splitlines()[0]}"
        ) from None
    return numbers.fill_null(0.0).to_numpy(zero_copy_only=False)


def scan(
    path: str | Path,
    by: tuple[str, ...] = (),
    columns: dict[str, str] | None = None,
    fmt: str | None = None,
    batch_rows: int = 1 << 20,
) -> Copies:
    """Read the copies of a log file (or folder of files) a batch at a time.

    Parameters
    ----------
    path : str or Path
        A CSV, Parquet or JSON Lines file, or a folder of them.
    by : tuple of str
        Segment columns to keep (besides ``event``).
    columns : dict, optional
        Our column name -> the file's column name, for files that name them otherwise.
    fmt : str, optional
        ``csv``, ``parquet`` or ``jsonl``; guessed from the suffix when omitted.
    batch_rows : int
        Rows per batch (bounds the memory of a batch).

    Returns
    -------
    Copies
        Compact columns of every row and the category labels.
    """
    ds = require_dataset()
    import pyarrow as pa
    import pyarrow.compute as pc

    path = Path(path)
    if not path.exists():
        raise LogError(f"{path}: no such file or folder")
    mapping = {name: name for name in (*REQUIRED, "value", *by)}
    mapping.update({k: v for k, v in (columns or {}).items() if k in mapping})
    try:
        kind = format_of(path, fmt)
        if kind == "parquet":
            # Categories stay dictionary-encoded: far less to decode and to compare.
            categorical = [mapping[c] for c in ("path", "event", *by)]
            options = ds.ParquetReadOptions(dictionary_columns=categorical)
            kind = ds.ParquetFileFormat(read_options=options)
        data = ds.dataset(path, format=kind)
        schema = data.schema
    except (pa.ArrowInvalid, OSError) as error:
        raise LogError(f"{path}: cannot be read: {str(error).splitlines()[0]}") from None
    if not len(schema.names):
        raise LogError(f"{path}: the file is empty (expected a header and rows of copies)")
    for ours in (*REQUIRED, *by):
        if mapping[ours] not in schema.names:
            found = ", ".join(schema.names)
            raise LogError(
                f"{path}: missing column {mapping[ours]!r} ({ours}); the file has: {found}"
            )
    wanted = [ours for ours in mapping if mapping[ours] in schema.names]
    copies = Copies()
    try:
        batches: Iterator = data.to_batches(
            columns=[mapping[c] for c in wanted], batch_size=batch_rows
        )
        for batch in batches:
            cols = dict(zip(wanted, batch.columns, strict=True))
            n = batch.num_rows
            if not n:
                continue
            path_col = pc.utf8_lower(pc.utf8_trim_whitespace(cols["path"].cast(pa.string())))
            is_server = pc.equal(path_col, "server").fill_null(False).to_numpy(zero_copy_only=False)
            is_client = pc.equal(path_col, "client").fill_null(False).to_numpy(zero_copy_only=False)
            is_third = pc.is_in(path_col, pa.array(THIRD_PATHS)).fill_null(False)
            is_third = is_third.to_numpy(zero_copy_only=False)
            bad = np.flatnonzero(~(is_server | is_client | is_third))
            if bad.size:
                i = int(bad[0])
                raise LogError(
                    f"{path}: row {copies.rows + i + 1}, column {mapping['path']!r}: expected "
                    f"'client' or 'server', got {cols['path'][i].as_py()!r}"
                )
            seconds = _seconds(path, cols["time"], copies.rows)
            for name in ("event_key", "visitor"):
                if cols[name].null_count:
                    i = int(
                        np.flatnonzero(pc.is_null(cols[name]).to_numpy(zero_copy_only=False))[0]
                    )
                    raise LogError(
                        f"{path}: row {copies.rows + i + 1}, column {mapping[name]!r}: "
                        "expected a value, got nothing"
                    )
            copies.key.append(_hash(cols["event_key"]))
            copies.visitor.append(_hash(cols["visitor"]))
            copies.server.append(is_server)
            copies.third.append(is_third)
            copies.time.append(seconds)
            if "value" in cols:
                copies.value.append(_values(path, cols["value"], mapping["value"]))
            for name in ("event", *by):
                col = cols[name].fill_null("(none)") if cols[name].null_count else cols[name]
                copies.codes.setdefault(name, []).append(_codes(copies, name, col))
            copies.rows += n
    except (pa.ArrowInvalid, OSError) as error:
        raise LogError(f"{path}: cannot be read: {str(error).splitlines()[0]}") from None
    if copies.rows == 0:
        raise LogError(f"{path}: the file has no rows (expected one row per received copy)")
    return copies


__all__ = ["Copies", "LogError", "REQUIRED", "THIRD_PATHS", "format_of", "scan"]
