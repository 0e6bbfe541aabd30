"""The report's pages from analyses, without the window (the app's Export and `xraydesk report` share it):
a page per analysed image, then a trend page per patient with two or more analysed studies."""

from collections.abc import Callable, Iterable
from pathlib import Path

from xraydesk.ai.analysis import DEFAULT_HEATMAP, ImageAnalysis
from xraydesk.ai.trend import ChangeLimits, comparison_lines, patient_trends
from xraydesk.ai.words import draft_report
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
                measurements_for: Callable[[Path], Iterable] | None = None,
                draft_for: Callable[[Path], str | None] | None = None,
                with_maps: Callable[[ImageAnalysis, XRayImage], ImageAnalysis] | None = None) -> list:
    """One ReportPage per analysis, in the order given (image_for(path) gives its image; view_for(path) the
    reader's window, None for the default; measurements_for(path) the reader's measurements; draft_for(path)
    the reader's edit of the draft report, else it is drafted with the comparison to the prior;
    with_maps(analysis, image) the analysis with the maps the AI node's answer lacks, Analyser.with_maps),
    then the trend pages; write them with write_summary."""
    trends = trend_pages(analyses, limits)
    pages = []
    for analysis in analyses:
        image = image_for(analysis.path)
        analysis = with_maps(analysis, image) if with_maps else analysis
        measurements = tuple(measurements_for(analysis.path)) if measurements_for else ()
        draft = (draft_for(analysis.path) if draft_for else None) or drafted(
            analysis, analyses, [m.describe(image) for m in measurements], lambda: trends[0].limits)
        pages.append(ReportPage.of(image, analysis, target, view_for(analysis.path) if view_for else None,
                                   measurements, draft))
    return pages + trends


def drafted(analysis: ImageAnalysis, analyses: Iterable[ImageAnalysis], measurements: list[str],
            limits: Callable[[], ChangeLimits | None]) -> str:
    """The model's draft report of `analysis`, with the reader's measurements and, where the patient
    has a prior study among `analyses` and limits() gives change limits, the comparison with it."""
    return draft_report(analysis, measurements, comparison_lines(analyses, analysis.path, limits))
