"""The app's PDF summary job: the pages of the analyses chosen (ReportPage per image, as the reader
viewed and measured it; a trend page per patient with two or more analysed studies), written
atomically with progress. `xraydesk report` builds the same pages as it analyses (xraydesk.report)."""

from collections.abc import Callable, Iterable
from pathlib import Path

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.ai.trend import ChangeLimits
from xraydesk.imaging import ViewState, XRayImage


def write_report(path: Path, analyses: list[ImageAnalysis], image_for: Callable[[Path], XRayImage],
                 limits: Callable[[], ChangeLimits], target: str, views: dict[Path, ViewState],
                 measurements_for: Callable[[Path], Iterable], deidentify: bool, overwrite: bool,
                 report: Callable[[tuple[int, int]], None] = lambda progress: None,
                 draft_for: Callable[[Path], str | None] | None = None,
                 with_maps: Callable[[ImageAnalysis, XRayImage], ImageAnalysis] | None = None) -> tuple[Path, int]:
    """Writes the summary, reporting (page, pages) as it goes; returns (the file, its page count).
    An image in `views` is printed with that view's window and inversion, the others at their default
    window; `draft_for(path)` is the reader's edit of its draft report (None: the model's draft);
    `limits()` is read only when some patient has a trend page; `with_maps` (Analyser.with_maps) computes
    the heatmaps and lung mask an AI node's answer lacks, so that its page shows them."""
    from xraydesk.report import build_pages, write_summary  # matplotlib: on first use

    pages = build_pages(analyses, image_for, limits, view_for=views.get, target=target,
                        measurements_for=measurements_for, draft_for=draft_for, with_maps=with_maps)
    written = write_summary(path, pages, deidentify=deidentify, overwrite=overwrite,
                            on_page=lambda number, count: report((number, count)))
    return written, len(pages)
