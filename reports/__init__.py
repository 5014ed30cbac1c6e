"""Reports: render a results folder as one self-contained HTML file plus PNGs. Rendering only."""

from reports.render import render_report

__all__ = ["render_report"]
