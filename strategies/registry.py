"""Finding strategies, and running plug-in code only from places the user named.

Where a strategy may come from, in this order:

1. the **built-ins** (:data:`strategies.news.BUILTINS`): no plug-in code is ever
   loaded to build one;
2. an **installed package** that declares it under the entry-point group
   ``event_backtester.strategies`` (installing it named it);
3. a **folder the user names**: ``--strategies-dir DIR`` (``folder=`` here), or an
   experiment's ``strategies_dir``;
4. an explicit **file or module**: ``--strategy path/to/file.py:Class`` or
   ``--strategy package.module:Class``;
5. the project's ``./strategies`` folder, only when the requested name is none of the
   above, and with a one-line notice on stderr.

A plug-in that fails to import is reported with its file and error, and the others
still load. A later source cannot take a name an earlier one has.
``backtest strategies list`` prints :func:`discover`; it loads ``./strategies`` only
when it is named (``--strategies-dir strategies``) and otherwise lists its files as
not loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from events.errors import ConfigError
from events.files import describe_error, load_class
from strategies.base import Strategy
from strategies.news import BUILTINS

ENTRY_POINT_GROUP = "event_backtester.strategies"
PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = Path("strategies")  # the project's plug-in folder, relative to the cwd


@dataclass(frozen=True)
class Found:
    """One discovered strategy, or one plug-in that failed to load (``cls`` None)."""

    name: str
    source: str  # "builtin", "entry point", "folder", "project", "path"
    origin: str  # file or module
    cls: type[Strategy] | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.cls is not None


def _classes(module) -> list[type[Strategy]]:
    return [obj for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, Strategy) and obj.__module__ == module.__name__ and obj.name]


def _import_file(path: Path):
    """Import one plug-in file under a name unique to its path (two folders may both hold
    a ``my_strat.py``); a failure is re-raised for the caller to report."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    mod_name = f"_user_strategies_{path.stem}_{digest}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
    return module


def folder_strategies(folder: Path, source: str = "folder") -> list[Found]:
    """Every Strategy subclass in ``folder/*.py`` (files starting with ``_`` skipped)."""
    found = []
    folder = Path(folder)
    if not folder.is_dir() or folder.resolve() == PACKAGE_DIR:
        return found
    for path in sorted(folder.resolve().glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            module = _import_file(path)
        except BaseException as exc:  # noqa: BLE001 - a broken plug-in must not stop the rest
            if isinstance(exc, KeyboardInterrupt):
                raise
            found.append(Found(path.stem, source, str(path), error=describe_error(exc)))
            continue
        classes = _classes(module)
        if not classes:
            found.append(Found(path.stem, source, str(path),
                               error="no Strategy subclass with a name in this file"))
        found += [Found(c.name, source, str(path), c) for c in classes]
    return found


def entry_point_strategies() -> list[Found]:
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001
            found.append(Found(ep.name, "entry point", ep.value, error=describe_error(exc)))
            continue
        if inspect.isclass(obj) and issubclass(obj, Strategy):
            found.append(Found(obj.name or ep.name, "entry point", ep.value, obj))
        else:
            found.append(Found(ep.name, "entry point", ep.value,
                               error="entry point is not a Strategy subclass"))
    return found


def load_path(spec: str) -> type[Strategy]:
    """``package.module:ClassName``, or ``path/to/file.py:ClassName`` (a file the user named)."""
    where, _, attr = spec.rpartition(":")
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where)
        if not path.is_file():
            raise ConfigError(f"cannot load strategy {spec!r}: no such file {where}",
                              field="strategy")
        try:
            module = _import_file(path)
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is the user's input
            raise ConfigError(f"cannot load strategy {spec!r}: {describe_error(exc)}",
                              field="strategy") from None
        obj = getattr(module, attr, None)
        if not (inspect.isclass(obj) and issubclass(obj, Strategy)):
            raise ConfigError(f"{spec!r} is not a Strategy subclass", field="strategy")
        return obj
    return load_class(spec, Strategy, "strategy")


def _merge(found: list[Found]) -> list[Found]:
    """Sources in order; a later one cannot take a name an earlier one has (reported)."""
    out, seen = [], set()
    for f in found:
        if f.ok and f.name in seen:
            f = Found(f.name, f.source, f.origin, error=f"name {f.name!r} is already taken")
        seen.add(f.name)
        out.append(f)
    return out


def discover(folder: Path | None = None) -> list[Found]:
    """Built-ins, entry points, then the plug-ins of ``folder`` (one the user named).

    Without ``folder``, the project's ``./strategies`` files are listed as not loaded
    (their code does not run).
    """
    found = [Found(c.name, "builtin", c.__module__, c) for c in BUILTINS]
    found += entry_point_strategies()
    if folder is not None:
        found += folder_strategies(Path(folder))
    elif PROJECT_DIR.is_dir() and PROJECT_DIR.resolve() != PACKAGE_DIR:
        found += [Found(p.stem, "project", str(p), error="not loaded: run with "
                        f"--strategies-dir {PROJECT_DIR} to load it")
                  for p in sorted(PROJECT_DIR.glob("*.py")) if not p.name.startswith("_")]
    return _merge(found)


def get_strategy(name: str, folder: Path | None = None, notice=None, **params) -> Strategy:
    """Build a strategy by name (or ``module:Class`` / ``file.py:Class``) with ``params``.

    ``folder`` is a plug-in folder the user named. Only when ``name`` is neither a
    built-in, an entry point nor in ``folder`` is the project's ``./strategies``
    folder loaded, and ``notice`` (default: a line on stderr) says so.
    """
    if ":" in name:
        return load_path(name)(**params)
    builtin = {c.name: c for c in BUILTINS}
    if name in builtin:  # no plug-in code runs for a built-in
        return builtin[name](**params)
    found = entry_point_strategies()
    if folder is not None:
        found += folder_strategies(Path(folder))
    merged = _merge([Found(c.name, "builtin", c.__module__, c) for c in BUILTINS] + found)
    if not any(f.name == name for f in merged) and folder is None \
            and PROJECT_DIR.is_dir() and PROJECT_DIR.resolve() != PACKAGE_DIR:
        (notice or _stderr)(f"strategy {name!r} is not built in: loading the plug-ins of "
                            f"./{PROJECT_DIR}")
        merged = _merge(merged + folder_strategies(PROJECT_DIR, "project"))
    by_name: dict[str, Found] = {}
    for f in merged:  # a failed clashing plug-in never hides a working one
        if f.name not in by_name or (f.ok and not by_name[f.name].ok):
            by_name[f.name] = f
    f = by_name.get(name)
    if f is None:
        names = sorted(n for n, x in by_name.items() if x.ok)
        raise ConfigError(f"unknown strategy {name!r} (available: {', '.join(names)}; plug-ins "
                          f"load from --strategies-dir DIR or --strategy FILE.py:Class)",
                          field="strategy")
    if not f.ok:
        raise ConfigError(f"strategy {name!r} failed to load from {f.origin}: {f.error}",
                          field="strategy")
    return f.cls(**params)


def _stderr(message: str) -> None:
    print(f"backtest: note: {message}", file=sys.stderr)
