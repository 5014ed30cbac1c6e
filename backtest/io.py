"""Writing files safely: the tool replaces only what it wrote itself, always atomically.

Every file and folder the tool writes goes through here:

* a **results folder** (:func:`atomic_dir`) is built in a temporary folder beside its
  target, marked as ours (:data:`MARKER`), and swapped in with one rename under a lock
  on the parent folder, so an interrupted run leaves the previous folder intact and two
  runs on one target never mix. An existing target is replaced only when it is a
  results folder of this tool (or empty); a user's folder, a file, a symbolic link,
  the current folder, the home folder or ``/`` are refused (:class:`OutputError`);
* a **file** (:func:`write_atomic`) is written to a temporary file and renamed over its
  target; an existing file is replaced only when the caller recognises it as one the
  tool wrote (``ours``);
* **names that become paths** (a calendar's or experiment's name in a default output
  folder, a baseline's file name) pass through :func:`path_name`.

Temporary folders left by a killed run (SIGKILL cannot be cleaned up) carry the dead
process id in their name and are removed by the next run writing beside them.
Nothing here knows about the engine.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from events.errors import InputError, OutputError

FLOAT_FORMAT = "%.10g"  # CSV floats: 10 significant digits, the same on every run
# Set by the command line's Ctrl-C handler (backtest.app.cli). The KeyboardInterrupt it
# raises can be lost on its way up: raised while C code runs that clears errors (numpy's
# dtype comparison is one), it is dropped and the run goes on. So every atomic write
# checks this before it swaps its result in: an interrupted run never replaces anything.
_INTERRUPTED = threading.Event()


def note_interrupt() -> None:
    """Record a Ctrl-C: from now on no atomic write of this process swaps its result in
    (:func:`atomic_dir`, :func:`write_bytes_atomic` raise KeyboardInterrupt instead)."""
    _INTERRUPTED.set()


def clear_interrupt() -> None:
    """Forget a recorded Ctrl-C (the command line, before each command it runs)."""
    _INTERRUPTED.clear()


def interrupted() -> bool:
    """Whether a Ctrl-C was recorded (:func:`note_interrupt`)."""
    return _INTERRUPTED.is_set()


def _stop_if_interrupted() -> None:
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


MARKER = ".backtest-run"  # in every results folder: "this folder was written by the tool"
_MARKER_TEXT = '{"tool": "event-backtester", "kind": "results folder"}\n'
# Files a results folder of an earlier version (before the marker) may hold.
_LEGACY = re.compile(r"[\w.-]+\.(csv|json|png|html)")
MAX_NAME = 100  # characters of a name used as a file or folder name
TABLE_FORMATS = ("parquet", "csv")  # of the large tables (write_table); parquet the default


# --------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------


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


def read_json(path: str | Path, error: type[InputError] = InputError) -> Any:
    """A JSON file the tool wrote (run.json, a baseline), refused with one line when it is
    missing, empty, truncated, not UTF-8, nested too deeply or holds NaN."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("no such file", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read: {getattr(exc, 'strerror', None) or exc}",
                    path=str(path)) from None

    def no_constants(name):
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        return json.loads(text, parse_constant=no_constants)
    except RecursionError:
        raise error("not valid JSON: nested too deeply", path=str(path)) from None
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise error(f"not valid JSON ({exc})", path=str(path)) from None


# --------------------------------------------------------------------------------------
# names and files
# --------------------------------------------------------------------------------------


def path_name(text: str, field: str = "name") -> str:
    """A user-given name as one safe path component.

    Letters, digits and ``. _ - + =`` are kept, every other run of characters
    becomes ``-`` (so ``../x`` is ``x`` and ``a/b`` is ``a-b``), leading dots
    and dashes go, and a name longer than :data:`MAX_NAME` is cut. A name with
    nothing left is refused.
    """
    safe = re.sub(r"[^A-Za-z0-9._+=-]+", "-", str(text))
    safe = re.sub(r"[.-]*-[.-]*", "-", safe).strip(".-")[:MAX_NAME].strip(".-")
    if not safe:
        raise OutputError(f"{text!r} cannot be used as a file name", field=field)
    return safe


def _os_error(exc: OSError, path: Path) -> OutputError:
    reason = exc.strerror or type(exc).__name__
    if exc.errno == errno.EROFS:
        reason = "read-only file system"
    return OutputError(f"cannot write here: {reason}", path=str(path))


def _check_parents(path: Path) -> None:
    """Refuse a path whose nearest existing parent is a file (``notes.txt/out``)."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{parent} is a file, not a folder", path=str(path))
            return


def check_output_file(path: str | Path, ours: Callable[[Path], bool] | None = None) -> Path:
    """``path`` if the tool may write a file there (checked before any work is done): not a
    folder or link, not inside a file, and, when it exists, one ``ours`` recognises."""
    path = Path(path)
    _check_parents(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise OutputError("exists and is not a regular file; not replaced", path=str(path))
    if ours is not None and path.exists() and not ours(path):
        raise OutputError("exists and was not written by this tool; not replaced (choose "
                          "another name or remove it)", path=str(path))
    return path


def write_bytes_atomic(path: str | Path, data: bytes, fsync: bool = False,
                       ours: Callable[[Path], bool] | None = None) -> None:
    """Write ``data`` to a temp file beside ``path``, then rename over it (never half-written).

    An existing ``path`` is replaced only if ``ours(path)`` says the tool wrote it
    (``ours`` None: the caller owns the folder, as the price cache does). ``fsync``
    flushes the file to disk before the rename (the price cache asks for it).
    """
    path = check_output_file(path, ours)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _os_error(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        _stop_if_interrupted()
        os.replace(tmp, path)
    except OSError as exc:
        raise _os_error(exc, path) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path: str | Path, text: str, ours: Callable[[Path], bool] | None = None
                 ) -> None:
    """Write UTF-8 ``text`` atomically (see :func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, text.encode("utf-8"), ours=ours)


def starts_with(prefix: str) -> Callable[[Path], bool]:
    """An ``ours`` test: the existing file's text starts with ``prefix``."""
    def test(path: Path) -> bool:
        try:
            with open(path, "rb") as fh:
                return fh.read(len(prefix.encode())).decode("utf-8", "replace") == prefix
        except OSError:
            return False
    return test


def write_json(path: str | Path, obj: Any) -> None:
    """Deterministic JSON (:func:`dumps`) written to ``path`` (inside a folder being built)."""
    Path(path).write_text(dumps(obj))


def write_csv(frame: pd.DataFrame, path: str | Path, index: bool = False,
              float_format: str | None = FLOAT_FORMAT) -> None:
    """A table as CSV with floats at :data:`FLOAT_FORMAT` (``float_format=None``: pandas' repr)."""
    frame.to_csv(path, index=index, float_format=float_format)


def write_table(frame: pd.DataFrame, folder: str | Path, name: str,
                table_format: str = "parquet", float_format: str | None = FLOAT_FORMAT
                ) -> Path:
    """One of a run's large tables (ar, car, estimates, timing) as ``name.parquet`` or
    ``name.csv`` in ``folder`` (a folder being built); returns the path.

    Parquet (the default) keeps every float exactly and every column's type (dates stay
    dates) and is written and read tens of times faster than CSV at a universe study's
    millions of rows; ``table_format="csv"`` writes :func:`write_csv`'s text (10
    significant digits). Both files hold the same rows and columns; read either with
    :func:`reports.read_table`. The bytes depend only on the table and the pyarrow
    version (in ``run.json``), so a rerun writes the same file.
    """
    if table_format not in TABLE_FORMATS:
        raise ValueError(f"table_format must be one of {TABLE_FORMATS}, got {table_format!r}")
    path = Path(folder) / f"{name}.{table_format}"
    if table_format == "csv":
        write_csv(frame, path, float_format=float_format)
    else:
        frame.to_parquet(path, index=False, engine="pyarrow")
    return path


def write_table_pieces(pieces, folder: str | Path, name: str, table_format: str = "parquet",
                       float_format: str | None = FLOAT_FORMAT) -> Path:
    """A large table given as consecutive pieces (DataFrames with the same columns), written
    as :func:`write_table` writes it whole, one piece in memory at a time: parquet as one
    row group per piece, CSV with the header once. Reads back as the concatenated pieces;
    a CSV is byte for byte the file of the whole table."""
    if table_format not in TABLE_FORMATS:
        raise ValueError(f"table_format must be one of {TABLE_FORMATS}, got {table_format!r}")
    path = Path(folder) / f"{name}.{table_format}"
    if table_format == "csv":
        with open(path, "w", newline="") as fh:
            for i, piece in enumerate(pieces):
                piece.to_csv(fh, index=False, header=i == 0, float_format=float_format)
            if fh.tell() == 0:  # no piece: the empty table's file, as write_csv writes it
                pd.DataFrame().to_csv(fh, index=False)
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = schema = None
    try:
        for piece in pieces:
            table = pa.Table.from_pandas(piece, schema=schema, preserve_index=False)
            if writer is None:
                schema = table.schema  # every piece as the first (a column all missing
                writer = pq.ParquetWriter(path, schema)  # in one piece keeps its type)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        pd.DataFrame().to_parquet(path, index=False, engine="pyarrow")
    return path


def write_part(frame: pd.DataFrame, folder: str | Path, index: int) -> Path:
    """One part of a table written as a folder of parquet parts (the AR table):
    ``folder/part-{index:05d}.parquet``, through a temporary name and a rename, so a part
    is whole or absent (a block a cluster retries writes it again, the same bytes)."""
    path = Path(folder) / f"part-{index:05d}.parquet"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.to_parquet(tmp, index=False, engine="pyarrow")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_parts(pieces, folder: str | Path) -> Path:
    """A large table given as consecutive pieces as a folder of parquet parts, one per
    piece (:func:`write_part`); an empty table is one empty part. Parts already in
    ``folder`` (a folder being built) are replaced, none left over."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.parquet"):
        old.unlink()
    n = 0
    for n, piece in enumerate(pieces, 1):
        write_part(piece, folder, n - 1)
    if n == 0:
        write_part(pd.DataFrame(), folder, 0)
    return folder


# --------------------------------------------------------------------------------------
# results folders
# --------------------------------------------------------------------------------------


def is_results_dir(path: Path) -> bool:
    """True for a folder this tool wrote: it holds :data:`MARKER`, or (written before the
    marker existed) run.json and index.html and nothing but the tool's kinds of files."""
    if not path.is_dir() or path.is_symlink():
        return False
    marker = path / MARKER
    if marker.is_file():
        try:
            return json.loads(marker.read_text()).get("tool") == "event-backtester"
        except (OSError, ValueError, AttributeError):
            return False
    try:
        entries = list(path.iterdir())
    except OSError:
        return False
    names = {p.name for p in entries}
    return ({"run.json", "index.html"} <= names
            and all(p.is_file() and _LEGACY.fullmatch(p.name) for p in entries))


def check_output_dir(target: str | Path) -> Path:
    """``target`` if the tool may write a results folder there, else :class:`OutputError`.

    Allowed: a path that does not exist yet, an empty folder, or a results folder
    of this tool (:func:`is_results_dir`). Refused: ``/``, the home folder, the
    current folder or any folder above it, a file, a symbolic link, anything else
    that exists.
    """
    target = Path(target)
    shown = str(target)
    full = Path(os.path.abspath(target))
    cwd = Path.cwd()
    if full == Path(full.anchor) or full == Path.home() or full == cwd or full in cwd.parents:
        raise OutputError("is /, the home folder, or the current folder or one above it; "
                          "give a new folder for the results", path=shown)
    if target.is_symlink():
        raise OutputError("is a symbolic link; not replaced", path=shown)
    _check_parents(target)
    if not target.exists():
        return target
    if not target.is_dir():
        raise OutputError("exists and is a file; the results are a folder: give a new "
                          "folder name", path=shown)
    try:
        empty = not any(target.iterdir())
    except OSError as exc:
        raise _os_error(exc, target) from None
    if not empty and not is_results_dir(target):
        raise OutputError(f"exists and is not a results folder of this tool (no {MARKER}); "
                          f"nothing was replaced: give a new folder", path=shown)
    return target


@contextmanager
def _locked(folder: Path):
    """An exclusive lock on ``folder`` while the block runs (POSIX flock; none elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(parent: Path, name: str) -> None:
    """Temporary and moved-aside folders of ``name`` left by runs that died (SIGKILL).

    A run killed between moving the previous folder aside and moving the new one in
    left no ``name`` at all: the previous folder is put back first.
    """
    pattern = re.compile(rf"\.{re.escape(name)}\.(tmp|old)-(\d+)-\w+")
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if not (m and int(m.group(2)) != os.getpid() and not _alive(int(m.group(2)))
                and (entry / MARKER).is_file()):
            continue
        previous, target = entry / "previous", parent / name
        if m.group(1) == "old" and previous.is_dir() and not target.exists():
            previous.rename(target)
        shutil.rmtree(entry, ignore_errors=True)


@contextmanager
def atomic_dir(target: str | Path):
    """Yield a temporary folder; on success it replaces ``target`` in one rename.

    ``target`` is checked first (:func:`check_output_dir`) and again, under a lock on
    its parent, just before the swap. The temporary folder sits beside ``target``
    (same file system, so the rename is atomic) and is marked as ours; the previous
    results folder is moved aside and deleted after the swap, so an interrupted run
    leaves either the old folder or the new one, never a mix.
    """
    target = check_output_dir(target)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(parent, target.name)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=parent))
    except OSError as exc:
        raise _os_error(exc, parent) from None
    umask = os.umask(0)
    os.umask(umask)
    try:
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the report should not be
        (tmp / MARKER).write_text(_MARKER_TEXT)
        yield tmp
        _stop_if_interrupted()  # a Ctrl-C lost on its way up still stops the swap
        with _locked(parent):
            check_output_dir(target)
            old = None
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-",
                                            dir=parent))
                (old / MARKER).write_text(_MARKER_TEXT)
                target.rename(old / "previous")
            tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise _os_error(exc, target) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
