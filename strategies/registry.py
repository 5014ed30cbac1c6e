"""Finding strategies: built-ins, the project's ``strategies/`` folder, ``module:Class``
paths and installed packages (entry-point group ``event_backtester.strategies``).

A plug-in that fails to import is reported with its file and error, and the
others still load. ``backtest strategies list`` prints :func:`discover`.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from events.errors import ConfigError
from events.plugins import describe_error, load_class
from strategies.base import Strategy
from strategies.news import BUILTINS

ENTRY_POINT_GROUP = "event_backtester.strategies"
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Found:
    """One discovered strategy, or one plug-in that failed to load (``cls`` None)."""

    name: str
    source: str  # "builtin", "project", "entry point", "path"
    origin: str  # file or module
    cls: type[Strategy] | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.cls is not None


def _classes(module) -> list[type[Strategy]]:
    return [obj for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, Strategy) and obj.__module__ == module.__name__ and obj.name]


def project_strategies(folder: Path) -> list[Found]:
    """Every Strategy subclass in ``folder/*.py`` (a user's project folder)."""
    found = []
    folder = Path(folder)
    if not folder.is_dir() or folder.resolve() == PACKAGE_DIR:
        return found
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        mod_name = f"_user_strategies_{path.stem}"
        try:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001 - a broken plug-in must not stop the rest
            sys.modules.pop(mod_name, None)
            if isinstance(exc, KeyboardInterrupt):
                raise
            found.append(Found(path.stem, "project", str(path), error=describe_error(exc)))
            continue
        classes = _classes(module)
        if not classes:
            found.append(Found(path.stem, "project", str(path),
                               error="no Strategy subclass with a name in this file"))
        found += [Found(c.name, "project", str(path), c) for c in classes]
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
    """Import ``package.module:ClassName``."""
    return load_class(spec, Strategy, "strategy")


def discover(folder: Path | None = None) -> list[Found]:
    """All strategies: built-ins, then a plug-in ``folder`` (default: ``./strategies`` of
    the current project), then entry points. A later source cannot shadow an earlier
    name; the clash is reported.
    """
    folder = Path.cwd() / "strategies" if folder is None else Path(folder)
    out = [Found(c.name, "builtin", c.__module__, c) for c in BUILTINS]
    seen = {f.name for f in out}
    for f in project_strategies(folder) + entry_point_strategies():
        if f.ok and f.name in seen:
            f = Found(f.name, f.source, f.origin, error=f"name {f.name!r} is already taken")
        seen.add(f.name)
        out.append(f)
    return out


def get_strategy(name: str, folder: Path | None = None, **params) -> Strategy:
    """Build a strategy by name (or ``module:Class``) with ``params``."""
    if ":" in name:
        return load_path(name)(**params)
    found: dict[str, Found] = {}
    for f in discover(folder):  # a failed clashing plug-in never hides a working one
        if f.name not in found or (f.ok and not found[f.name].ok):
            found[f.name] = f
    f = found.get(name)
    if f is None:
        names = sorted(n for n, x in found.items() if x.ok)
        raise ConfigError(f"unknown strategy {name!r} (available: {', '.join(names)})",
                          field="strategy")
    if not f.ok:
        raise ConfigError(f"strategy {name!r} failed to load from {f.origin}: {f.error}",
                          field="strategy")
    return f.cls(**params)
