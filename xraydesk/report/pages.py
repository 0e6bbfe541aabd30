"""The report's pages from analyses, without the window (the app's Export and `xraydesk report` share it):
a page per analysed image, then a trend page per patient with two or more analysed studies."""

from collections.abc import Callable, Iterable
from pathlib import Path

from xraydesk.ai.analysis import DEFAULT_HEATMAP, ImageAnalysis
from xraydesk.ai.trend import ChangeLimits, patient_trends
from xraydesk.imaging import ViewState, XRayImage
from xraydesk.report.pdf import ReportPage
from xraydesk.report.trend_page import TrendPage


def trend_pages(analyses: list[ImageAnalysis], limits: ChangeLimits | Callable[[], ChangeLimits]) -> list[TrendPage]:
    """`limits` may be a function, called only when some patient has a trend (a model without measured
    limits can still report single studies)."""
    trends = patient_trends(analyses)
    if not trends:
        return []
    limits = limits if isinstance(limits, ChangeLimits) else limits()
    return [TrendPage(trend, limits) for trend in trends.values()]


def build_pages(analyses: list[ImageAnalysis], image_for: Callable[[Path], XRayImage],
                limits: ChangeLimits | Callable[[], ChangeLimits],
                view_for: Callable[[Path], ViewState | None] | None = None, target: str = DEFAULT_HEATMAP,
                measurements_for: Callable[[Path], Iterable] | None = None) -> list:
    """One ReportPage per analysis, in the order given (image_for(path) gives its image; view_for(path) the
    reader's window, None for the default; measurements_for(path) the reader's measurements), then the
    trend pages; write them with write_summary."""
    pages = [ReportPage.of(image_for(analysis.path), analysis, target, view_for(analysis.path) if view_for else None,
                           measurements_for(analysis.path) if measurements_for else ())
             for analysis in analyses]
    return pages + trend_pages(analyses, limits)
