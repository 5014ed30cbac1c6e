"""Loading plug-in classes named ``package.module:ClassName`` (strategies, scorers)."""

from __future__ import annotations

import importlib
import inspect
import traceback

from events.errors import ConfigError


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
