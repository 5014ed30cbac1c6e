"""Reports: render study and strategy results as HTML and PNG. Rendering only."""

from reports.render import render_report

__all__ = ["render_report"]
