"""The HTML report of a study result: one self-contained file (plots embedded as PNG)."""

from grid_models.report.render import render_report

__all__ = ["render_report"]
