"""Writing files: atomic writes of files and folders, table writers, deterministic JSON.

Every file the tool writes goes through here, so that nothing is ever half-written:
a file is written to a temporary file beside its target and renamed over it; a
results folder is built in a temporary folder beside its target and swapped in
with one rename (:func:`atomic_dir`). Nothing here knows about the engine.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

FLOAT_FORMAT = "%.10g"  # CSV floats: 10 significant digits, the same on every run


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, numpy scalars plain Python, tuples lists."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(obj: Any) -> str:
    """Deterministic JSON: sorted keys, shortest float repr, NaN as null, newline-terminated.

    Python's float repr is the shortest string that round-trips, so the same
    numbers give the same bytes on every run and in every process.
    """
    return json.dumps(clean(obj), indent=2, sort_keys=True, allow_nan=False, default=str) + "\n"


def write_bytes_atomic(path: str | Path, data: bytes, fsync: bool = False) -> None:
    """Write ``data`` to a temp file beside ``path``, then rename over it (never half-written).

    ``fsync`` flushes the file to disk before the rename (the price cache asks for it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` atomically (see :func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    """Deterministic JSON (:func:`dumps`) written to ``path``."""
    Path(path).write_text(dumps(obj))


def write_csv(frame: pd.DataFrame, path: str | Path, index: bool = False,
              float_format: str | None = FLOAT_FORMAT) -> None:
    """A table as CSV with floats at :data:`FLOAT_FORMAT` (``float_format=None``: pandas' repr)."""
    frame.to_csv(path, index=index, float_format=float_format)


@contextmanager
def atomic_dir(target: str | Path):
    """Yield a temporary folder; on success it replaces ``target`` in one rename.

    The temporary folder sits beside ``target`` (same file system, so the rename
    is atomic); the previous ``target`` is moved aside first and deleted after
    the swap, so an interrupted run leaves either the old folder or the new one.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the report should not be
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
