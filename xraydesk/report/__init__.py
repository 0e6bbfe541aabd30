"""The PDF summary of analysed images, with a trend page per patient (matplotlib, no Qt)."""

from xraydesk.report.pages import build_pages, trend_pages
from xraydesk.report.pdf import MeasurementMark, ReportError, ReportPage, write_summary
from xraydesk.report.trend_page import TrendPage

__all__ = ["MeasurementMark", "ReportError", "ReportPage", "TrendPage", "build_pages", "trend_pages", "write_summary"]
