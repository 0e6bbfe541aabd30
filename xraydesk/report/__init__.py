"""The PDF summary of analysed images (matplotlib, no Qt)."""

from xraydesk.report.pdf import ReportError, ReportPage, write_summary

__all__ = ["ReportError", "ReportPage", "write_summary"]
