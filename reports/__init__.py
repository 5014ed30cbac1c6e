"""Reports: render study and strategy results as HTML and PNG. Rendering only."""

from reports.render import render_report, render_sweep

__all__ = ["render_report", "render_sweep"]
