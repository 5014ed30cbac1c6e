"""Reports: render a results folder as one self-contained HTML file plus PNGs. Rendering only.

:func:`read_table` reads any table of a results folder, whichever format it was written in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reports.render import read_table, render_report, table_file

__all__ = ["read_table", "render_report", "table_file"]

# The public names load on first use (PEP 562): ``reports.render`` imports matplotlib.
_SOURCES = dict.fromkeys(__all__, "render")


def __getattr__(name: str):
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{_SOURCES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})
