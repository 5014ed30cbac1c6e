"""Reports: render a results folder as one self-contained HTML file plus PNGs. Rendering only.

:func:`read_table` reads any table of a results folder, whichever format it was written in.
"""

from reports.render import read_table, render_report, table_file

__all__ = ["read_table", "render_report", "table_file"]
