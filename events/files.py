"""A user's input files: which file a name means, and reading it, bounded.

* **Which file**: a reference (``openai``, ``my_calendar.yaml``, ``data/cal.yaml``) is a
  path when it names an existing file or looks like one (a suffix or a folder);
  otherwise the name of a file shipped with the package (``events/calendars/openai.yaml``,
  ``events/exposure/nvidia.yaml``): :func:`resolve`, the one place that rule lives.
* **Reading**: every input file (calendars, experiments, exposure maps, price, factor
  and headline CSVs) is read through :func:`read_text`: a regular file, at most so many
  bytes, UTF-8 text, so ``/dev/zero``, a named pipe, a folder or a 50 MB file is refused
  at once with one line instead of hanging or filling memory.
* **Plug-in code** (strategies, scorers) is imported only by the name the user gave,
  ``package.module:ClassName`` (:func:`load_class`), and a failure is one line.
"""

from __future__ import annotations

import importlib
import inspect
import os
import stat
import traceback
from importlib import resources
from pathlib import Path

from events.errors import ConfigError, InputError

MB = 1024 * 1024
MAX_YAML_BYTES = 8 * MB  # a calendar of ~20,000 events; experiments and maps are far smaller
MAX_CSV_BYTES = 512 * MB  # price, factor and headline files
MAX_PARQUET_BYTES = 512 * MB  # bar files (compressed: more rows than a CSV of that size)


def read_bytes(path: str | Path, limit: int, error: type[InputError] = InputError,
               what: str = "file") -> bytes:
    """The bytes of ``path``, refused (``error``) unless it is a regular file of at most
    ``limit`` bytes."""
    path = Path(path)
    shown = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error("no such file", path=shown) from None
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror}", path=shown) from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"is a directory, expected a {what}", path=shown)
    if not stat.S_ISREG(info.st_mode):
        raise error(f"is not a regular file (a device or pipe?), expected a {what}",
                    path=shown)
    if info.st_size > limit:
        raise error(f"is {info.st_size / MB:.1f} MB, more than the {limit / MB:.0f} MB a "
                    f"{what} may have", path=shown)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)  # the file may have grown since stat
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror}", path=shown) from None
    if len(data) > limit:
        raise error(f"is more than the {limit / MB:.0f} MB a {what} may have", path=shown)
    return data


def read_text(path: str | Path, limit: int, error: type[InputError] = InputError,
              what: str = "text file", encoding: str = "utf-8") -> str:
    """:func:`read_bytes` decoded as UTF-8; binary files (NUL bytes) are refused."""
    data = read_bytes(path, limit, error, what)
    try:
        if b"\x00" in data:
            raise UnicodeDecodeError(encoding, data, 0, 1, "NUL byte")
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise error(f"not a text file: binary or not UTF-8, expected a {what}",
                    path=str(path)) from None


FOLDERS = {"calendar": "calendars", "exposure map": "exposure", "chain": "chains"}


def bundled_path(kind: str, name: str) -> Path:
    """Where the bundled file ``name`` of ``kind`` ("calendar", "exposure map") would be."""
    return Path(str(resources.files("events") / FOLDERS[kind] / f"{name}.yaml"))


def bundled_names(kind: str) -> list[str]:
    """Names of the bundled files of ``kind``, sorted."""
    folder = Path(str(resources.files("events") / FOLDERS[kind]))
    return sorted(p.stem for p in folder.glob("*.yaml"))


def resolve(ref: str | Path, kind: str, base: str | Path | None = None) -> Path:
    """The file a user's reference means: a path (relative to ``base`` if given) or a
    bundled name. A reference that is neither comes back as a path, so that the caller
    reports "no such file" with the path the user wrote."""
    text = str(ref)
    path = Path(text) if base is None else Path(base) / text
    if path.exists() or Path(text).suffix or "/" in text or "\\" in text:
        return path
    bundled = bundled_path(kind, text)
    return bundled if bundled.exists() else path


# --------------------------------------------------------------------------------------
# plug-in classes named package.module:ClassName (strategies, scorers)
# --------------------------------------------------------------------------------------


def describe_error(exc: BaseException) -> str:
    """``Type: message (line N)`` of an exception raised while importing a plug-in."""
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (line {last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def load_class(spec: str, base: type, kind: str) -> type:
    """Import ``package.module:ClassName`` and check it subclasses ``base``.

    Any failure is an :class:`InputError` naming the spec (``kind`` is the field:
    "strategy", "scorer").
    """
    module_name, _, attr = spec.partition(":")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:  # noqa: BLE001 - a broken plug-in is the user's input
        raise ConfigError(f"cannot load {kind} {spec!r}: {describe_error(exc)}",
                          field=kind) from None
    if not (inspect.isclass(obj) and issubclass(obj, base)):
        raise ConfigError(f"{spec!r} is not a {base.__name__} subclass", field=kind)
    return obj


# --------------------------------------------------------------------------------------
# package names imported on first use
# --------------------------------------------------------------------------------------


def lazy_names(package: str, sources: dict[str, str], namespace: dict):
    """``(__getattr__, __dir__)`` for a package whose public names load on first use (PEP
    562): ``import backtest`` (and so every command, ``backtest --help`` included) would
    otherwise import scipy.stats, numba, vectorbt and matplotlib through the packages'
    facades. For ``package``: ``sources`` maps each public name to the
    module that defines it (relative to ``package`` unless it contains a dot); a name is
    imported on first access and then kept in ``namespace`` (the package's globals)."""

    def __getattr__(name: str):
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        where = sources[name]
        value = getattr(importlib.import_module(where if "." in where else f"{package}.{where}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *sources})

    return __getattr__, __dir__
