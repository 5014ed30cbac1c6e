"""Reports: render a results folder as one self-contained HTML file plus PNGs. Rendering only.

:func:`read_table` reads any table of a results folder, whichever format it was written in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.files import lazy_names

if TYPE_CHECKING:
    from reports.render import read_table, render_report, table_file

__all__ = ["read_table", "render_report", "table_file"]

# The public names load on first use (PEP 562): ``reports.render`` imports matplotlib.
_SOURCES = dict.fromkeys(__all__, "render")


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())
