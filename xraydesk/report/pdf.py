"""The PDF summary: one A4 page per analysed image with the image with and without the overlay,
the reading, probabilities against their operating points, the COVID-19 category with its caveat,
the flags in words, the zone diagram, score, extent and opacity (withheld when the lung mask is
implausible), the reader's measurements, the model version and the research-use statement. The words
are the dock's (xraydesk.ai.analysis). A page shows one image, so one patient, and says which patient
and study it is within the summary ("Patient 2 of 3, study 1 of 2": the pseudonym a de-identified page
keeps, xraydesk.report.names). Other kinds of page (xraydesk.report.trend_page) draw themselves the same
way: `page.figure(number, count, deidentify, created, names)`. Written atomically, with
the user's umask: a hidden temporary file beside the target, renamed into place only when complete,
so a failure never leaves a partial PDF behind."""

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from xraydesk import RESEARCH_USE_NOTICE, __version__
from xraydesk.ai import overlays
from xraydesk.ai.analysis import DEFAULT_HEATMAP, TARGET_NAMES, ImageAnalysis
from xraydesk.ai.outputs import ZONES
from xraydesk.ai.overlay_plan import HeatmapFill, HeatmapSettings, Polyline, overlay_plan
from xraydesk.ai.words import (
    COVID_CAVEAT,
    covid_category_line,
    draft_report,
    evidence_note,
    flag_statements,
    probability_rows,
    reading,
    severity_lines,
    six_zone_words,
)
from xraydesk.imaging import ImageDisplay, ViewState, XRayImage
from xraydesk.output_files import temporary_beside
from xraydesk.report.names import ExportNames
from xraydesk.report.text import UNPRINTABLE_NOTE, fit, page_style, unprintable, wrap

A4_INCHES = (8.27, 11.69)
MAX_IMAGE_SIDE = 1024  # enough for print at this size; keeps each page a few hundred KB
HEATMAP_OPACITY = 0.5
MAPS_NOT_COMPUTED = "Map: heatmap not computed (result from the AI node)"
NOTICE_COLOUR = "#b00020"
# The overlay palette, one colour per meaning, shared with the app and the secondary capture.
POSITIVE_ZONE, MEASUREMENT = (overlays.hex_colour(colour) for colour in (overlays.POSITIVE_ZONE_COLOUR,
                                                                          overlays.MEASUREMENT_COLOUR))
LEFT_MARGIN = 0.06
TEXT_WIDTH = 0.88  # of the page width
LINE_SPACING = 1.3
ZONE_DIAGRAM_AREA = (0.70, 0.43, 0.24, 0.125)  # left, bottom, width, height
IMAGE_BOTTOM, IMAGE_HEIGHT = 0.64, 0.25
DRAFT_FLOOR = 0.095  # the footer's top
IDENTITY_FONTSIZE = 8.5
IMAGE_AREA_WIDTH = 0.42  # of the page width, each of the two images
REFUSAL_LINES = 3  # a refusal's reason is elided to about this many lines
READING_FONTSIZE = 11.5
READING_LINES = 3  # the room between the images and the probability chart: every answer's words fit it


@dataclass(frozen=True)
class MeasurementMark:
    """A reader's measurement as printed: its points in the page image's pixels, and its words."""
    kind: str  # "ruler", "angle" or "ctr"
    points: tuple[tuple[float, float], ...]
    text: str

    @classmethod
    def of(cls, measurement, image: XRayImage, scale: tuple[float, float]) -> "MeasurementMark":
        """`measurement` has .kind, .points (stored-image pixels) and .describe(image) (xraydesk.imaging
        measurements); `scale` takes the stored image's x, y to the printed image's."""
        return cls(measurement.kind, tuple((x * scale[0], y * scale[1]) for x, y in measurement.points),
                   measurement.describe(image))

    def segments(self) -> list[tuple[tuple[float, float], ...]]:
        """A cardiothoracic ratio is two separate widths; a ruler or an angle is one line through its points."""
        if self.kind == "ctr":
            return [self.points[i:i + 2] for i in range(0, len(self.points) - 1, 2)]
        return [self.points]


@dataclass(frozen=True)
class ReportPage:
    display: np.ndarray  # the image as windowed for viewing and reduced for print, uint8 (H, W)
    analysis: ImageAnalysis
    target: str = DEFAULT_HEATMAP  # which map is overlaid: the opacity map, or an output's Grad-CAM
    view_caption: str = ""  # the window (and inversion) the image is shown with
    measurements: tuple[MeasurementMark, ...] = ()
    draft: str = ""  # the draft report as the reader left it; empty: the model's own (words.draft_report)

    @classmethod
    def of(cls, image: XRayImage, analysis: ImageAnalysis, target: str = DEFAULT_HEATMAP,
           view: ViewState | None = None, measurements=(), draft: str = "") -> "ReportPage":
        """The image with the reader's window and inversion when `view` is given (else at its
        default window), reduced for print (pages of a long worklist stay small), with the reader's
        `measurements` (xraydesk.imaging measurements) drawn on it."""
        display = ImageDisplay(image)
        view = view or ViewState(display.default_window())
        caption = view.window.caption() + ("  Inverted" if view.invert else "")
        reduced = _reduced(display.render(view.window, view.invert))
        scale = (reduced.shape[1] / image.width, reduced.shape[0] / image.height)
        return cls(reduced, analysis, target, caption,
                   tuple(MeasurementMark.of(measurement, image, scale) for measurement in measurements))

    @property
    def analyses(self) -> tuple[ImageAnalysis, ...]:
        return (self.analysis,)

    def figure(self, number: int, count: int, deidentify: bool, created: str,
               names: ExportNames | None = None) -> Figure:
        """`names`: the summary's patients and studies (by default this page's alone)."""
        return _page_figure(self, number, count, deidentify, created, names or ExportNames.of(self.analyses))


class ReportError(Exception):
    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def write_summary(path: Path | str, pages: list, deidentify: bool = True, overwrite: bool = False,
                  on_page: Callable[[int, int], None] | None = None) -> Path:
    """Writes the summary of `pages` (ReportPage, TrendPage: anything with .figure and .analyses); raises
    ReportError (naming the file and the reason) and leaves nothing. `on_page(number, count)` follows the
    progress."""
    path = Path(path)
    if not pages:
        raise ReportError(path, "no analysed image to report")
    if path.exists() and not overwrite:
        raise ReportError(path, "already exists")
    created = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    names = ExportNames.of(analysis for page in pages for analysis in page.analyses)
    temporary = None
    try:
        handle, temporary = temporary_beside(path)
        os.close(handle)
        with matplotlib.rc_context(page_style()), PdfPages(temporary, metadata=_metadata()) as pdf:
            for number, page in enumerate(pages, start=1):
                pdf.savefig(page.figure(number, len(pages), deidentify, created, names))
                if on_page is not None:
                    on_page(number, len(pages))
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        raise ReportError(path, error.strerror or str(error)) from error
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.remove(temporary)
    return path


def _metadata() -> dict:
    return {"Title": "XRayDesk AI second opinion (research use only)", "Creator": f"XRayDesk {__version__}",
            "Subject": RESEARCH_USE_NOTICE}


def identity_lines(analysis: ImageAnalysis, deidentify: bool, names: ExportNames) -> list[str]:
    """Each line fitted to the page's text width (xraydesk.report.text.fit); a note follows them when a
    character has no font."""
    identity = analysis.identity
    keys = identity.keys
    if deidentify:
        lines = ["De-identified: patient name, ID, dates, study description and file name removed.",
                 f"{names.study_words(keys)} in this summary   Modality: {identity.modality}"]
    else:
        lines = [f"Patient: {keys.patient_name or '—'}   ID: {keys.patient_id or '—'}   ({names.study_words(keys)})",
                 f"Study date: {keys.study_date or '—'}   Study: {keys.study_description or '—'}",
                 f"File: {identity.path}   Modality: {identity.modality}"]
    return fitted_lines(lines)


def fitted_lines(lines: list[str], fontsize: float = IDENTITY_FONTSIZE) -> list[str]:
    """Lines of data fitted to the text width, with UNPRINTABLE_NOTE when one has a character no font has."""
    note = [UNPRINTABLE_NOTE] if any(map(unprintable, lines)) else []
    return [fit(line, TEXT_WIDTH * A4_INCHES[0], fontsize) for line in lines] + note


def _page_figure(page: ReportPage, number: int, count: int, deidentify: bool, created: str,
                 names: ExportNames) -> Figure:
    figure = Figure(figsize=A4_INCHES)
    analysis = page.analysis
    figure.text(LEFT_MARGIN, 0.965, "XRayDesk — AI second opinion on a chest X-ray", fontsize=15, weight="bold")
    figure.text(0.94, 0.965, f"Page {number} of {count}", fontsize=10, ha="right")
    figure.text(LEFT_MARGIN, 0.95, "\n".join(identity_lines(analysis, deidentify, names)), fontsize=IDENTITY_FONTSIZE,
                va="top", linespacing=1.5)
    display = page.display
    image_axes = figure.add_axes((LEFT_MARGIN, IMAGE_BOTTOM, IMAGE_AREA_WIDTH, IMAGE_HEIGHT))
    _draw_image(image_axes, display, f"Image   {page.view_caption}".rstrip())  # the caption holds a header's label
    _draw_measurements(image_axes, page.measurements, display.shape)
    bottom = IMAGE_BOTTOM - 0.01
    if analysis.prediction is None:
        figure.text(0.54, 0.80, "The input check refused this image:", fontsize=11, weight="bold")
        reason = fit(analysis.check.reason, REFUSAL_LINES * IMAGE_AREA_WIDTH * A4_INCHES[0], 10)  # names values
        below = write_wrapped(figure, 0.54, 0.78, reason, 10, width=IMAGE_AREA_WIDTH)
        write_wrapped(figure, 0.54, below - 0.01, "No probabilities are shown for it.", 10, width=IMAGE_AREA_WIDTH)
    else:
        overlay_axes = figure.add_axes((0.52, IMAGE_BOTTOM, IMAGE_AREA_WIDTH, IMAGE_HEIGHT))
        _draw_image(overlay_axes, display, _map_caption(analysis, page.target))
        _draw_overlay(overlay_axes, analysis, page.target, display.shape)
        write_wrapped(figure, LEFT_MARGIN, IMAGE_BOTTOM - 0.01, reading(analysis), READING_FONTSIZE,
                      weight="normal" if analysis.prediction.pneumonia_borderline else "bold")  # no bold call in the band
        _draw_probabilities(figure.add_axes((0.22, 0.43, 0.36, 0.12)), analysis)
        _draw_zones_or_why_not(figure, analysis, ZONE_DIAGRAM_AREA)
        top = write_wrapped(figure, LEFT_MARGIN, 0.38, covid_category_line(analysis), 9)  # beside the COVID-19 bar,
        top = write_wrapped(figure, LEFT_MARGIN, top, COVID_CAVEAT, 8, color="#444444")  # always with its caveat
        for statement in flag_statements(analysis):
            top = write_wrapped(figure, LEFT_MARGIN, top - 0.004, statement, 8.5)
        bottom = top if analysis.severity_withheld else _write_severity(figure, analysis, top - 0.012)
    bottom = _list_measurements(figure, page.measurements, bottom - 0.012)
    _write_draft(figure, page.draft or draft_report(analysis, [mark.text for mark in page.measurements]),
                 bottom - 0.012)
    write_footer(figure, analysis, created)
    return figure


def _map_caption(analysis: ImageAnalysis, target: str) -> str:
    if analysis.lacks_maps:  # a caller that did not compute them (Analyser.with_maps) says so, never a bare image
        return MAPS_NOT_COMPUTED
    zones = "lungs (zones withheld)" if analysis.severity_withheld else "lungs and zones"
    return f"Map: {TARGET_NAMES[target]}, {zones}"


def _write_draft(figure: Figure, draft: str, top: float) -> None:
    """The draft in the space above the footer; what does not fit is named, not silently cut."""
    top = write_wrapped(figure, LEFT_MARGIN, top, "Draft report (AI, for the reader to edit)", 9, weight="bold")
    lines = [line for paragraph in draft.split("\n\n") for line in wrap(paragraph, TEXT_WIDTH * A4_INCHES[0], 7)]
    room = int((top - DRAFT_FLOOR) / (7 * LINE_SPACING * 1.2 / 72 / A4_INCHES[1]))
    if len(lines) > room:
        lines = lines[:max(room - 1, 0)] + ["… the rest of the draft is in the app and in the DICOM SR."]
    figure.text(LEFT_MARGIN, top, "\n".join(lines), fontsize=7, va="top", linespacing=LINE_SPACING, color="#222222")


def write_wrapped(figure: Figure, x: float, top: float, text: str, fontsize: float, width: float = TEXT_WIDTH,
                  **style) -> float:
    """`text` wrapped to `width` (a share of the page width) from `top` down; returns the y below it
    (explicit wrapping, so that what follows is placed below and never overlaps)."""
    lines = wrap(text, width * A4_INCHES[0], fontsize, style.get("weight", "normal"))
    figure.text(x, top, "\n".join(lines), fontsize=fontsize, va="top", linespacing=LINE_SPACING, **style)
    return top - len(lines) * fontsize * LINE_SPACING * 1.2 / 72 / A4_INCHES[1]


def _reduced(display: np.ndarray) -> np.ndarray:
    picture = Image.fromarray(display)
    picture.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE), Image.LANCZOS)
    return np.asarray(picture)


def _draw_image(axes, display: np.ndarray, title: str) -> None:
    axes.imshow(display, cmap="gray", vmin=0, vmax=255, interpolation="lanczos")
    axes.set_title(fit(title, IMAGE_AREA_WIDTH * A4_INCHES[0], 9), fontsize=9)
    axes.set_axis_off()


def _draw_overlay(axes, analysis: ImageAnalysis, target: str, shape: tuple[int, int]) -> None:
    """The drawing plan (xraydesk.ai.overlay_plan) in matplotlib: weights in half points, labels in 6 pt."""
    height, width = shape
    plan = overlay_plan(analysis, shape, HeatmapSettings(target, HEATMAP_OPACITY))
    for part in plan.primitives():
        if isinstance(part, HeatmapFill):
            axes.imshow(part.rgba, extent=(0, width, height, 0), interpolation="bilinear")
        elif isinstance(part, Polyline):
            axes.plot(part.points[:, 0], part.points[:, 1], color=overlays.hex_colour(part.colour),
                      alpha=part.alpha, linewidth=0.5 * part.weight)
        else:
            (x, y), side = part.anchor, part.side
            axes.text(x, y, part.text, fontsize=6, ha="right" if side < 0 else "left", va="center",
                      color=overlays.hex_colour(part.colour),
                      bbox={"facecolor": overlays.hex_colour(part.background), "alpha": part.background_alpha,
                            "pad": 1, "linewidth": 0})
    axes.set_xlim(0, width)
    axes.set_ylim(height, 0)


def _draw_probabilities(axes, analysis: ImageAnalysis) -> None:
    rows = probability_rows(analysis)[::-1]
    positions = np.arange(len(rows))
    axes.barh(positions, [p for _, p, _ in rows], color="#4e79a7", height=0.6)
    for position, (_, probability, point) in zip(positions, rows):
        inside = probability > 0.85  # written on the bar's end, in white, where there is no room beside it
        axes.text(probability + (-0.01 if inside else 0.01), position, f"{probability:.2f}", va="center",
                  ha="right" if inside else "left", color="white" if inside else "black", fontsize=8)
        if point is not None:
            axes.plot([point, point], [position - 0.4, position + 0.4], color="black", linewidth=1.5)
    axes.set_yticks(positions, [label for label, _, _ in rows], fontsize=8.5)
    axes.set_xlim(0, 1)
    axes.set_xlabel("Calibrated probability (black tick: stored operating point)", fontsize=8)
    axes.tick_params(axis="x", labelsize=7.5)
    axes.set_title("Probabilities (bacterial + viral + COVID-19 = pneumonia-like opacity)", fontsize=9)


def _draw_zone_diagram(axes, analysis: ImageAnalysis) -> None:
    """Six cells laid out as displayed: the patient's right lung on the viewer's left."""
    prediction = analysis.prediction
    for index, zone in enumerate(ZONES):
        column, row = divmod(index, 3)
        positive = prediction.zone_positive[index]
        axes.add_patch(_cell(column, 2 - row, POSITIVE_ZONE if positive else "#eeeeee"))
        axes.text(column + 0.5, 2 - row + 0.5, f"{zone}\n{prediction.zone_probabilities[index]:.2f}",
                  ha="center", va="center", fontsize=8.5, weight="bold" if positive else "normal")
    axes.set_xlim(0, 2)
    axes.set_ylim(0, 3)
    axes.set_xticks([0.5, 1.5], ["Right lung", "Left lung"], fontsize=8)
    axes.set_yticks([])
    axes.set_title("Zone opacity\n(filled: above operating point)", fontsize=8.5)


def _cell(x: float, y: float, colour: str) -> Rectangle:
    return Rectangle((x + 0.03, y + 0.03), 0.94, 0.94, facecolor=colour, edgecolor="#555555")


def _draw_zones_or_why_not(figure: Figure, analysis: ImageAnalysis, area: tuple[float, ...]) -> None:
    if analysis.severity_withheld:
        left, bottom, width, height = area
        write_wrapped(figure, left, bottom + height, six_zone_words(analysis), 10, width=width, weight="bold")
    else:
        _draw_zone_diagram(figure.add_axes(area), analysis)


def _write_severity(figure: Figure, analysis: ImageAnalysis, top: float) -> float:
    """The score, extent, opacity and, where it applies, the Toussie note; returns the y below them."""
    below = write_wrapped(figure, LEFT_MARGIN, top, six_zone_words(analysis), 12, weight="bold")
    for line in severity_lines(analysis):
        below = write_wrapped(figure, LEFT_MARGIN, below - 0.003, line, 9.5)
    note = evidence_note(analysis)
    return write_wrapped(figure, LEFT_MARGIN, below - 0.008, note, 8) if note else below


def _draw_measurements(axes, marks: tuple[MeasurementMark, ...], shape: tuple[int, int]) -> None:
    """Each measurement's lines, and its words beside its last point (kept on the image)."""
    height, width = shape
    for mark in marks:
        for segment in mark.segments():
            axes.plot([x for x, _ in segment], [y for _, y in segment], color=MEASUREMENT, linewidth=1.2,
                      marker="o", markersize=2)
        x, y = mark.points[-1]
        axes.text(x, max(y - 0.03 * height, 0), mark.text, color=MEASUREMENT, fontsize=6.5, va="bottom",
                  ha="right" if x > 0.6 * width else "left",  # kept on the image
                  bbox={"facecolor": "black", "alpha": 0.6, "pad": 1, "linewidth": 0})
    axes.set_xlim(0, width)
    axes.set_ylim(height, 0)


def _list_measurements(figure: Figure, marks: tuple[MeasurementMark, ...], top: float) -> float:
    if not marks:
        return top
    return write_wrapped(figure, LEFT_MARGIN, top, "Measurements (yellow on the image): "
                         + "; ".join(mark.text for mark in marks) + ".", 9)


def write_footer(figure: Figure, analysis: ImageAnalysis, created: str) -> None:
    points = analysis.operating_points
    figure.text(LEFT_MARGIN, 0.075, f"Model: {analysis.model_version}   Operating points: pneumonia "
                f"{_point_words(points['pneumonia'])}, abnormal {_point_words(points['abnormal'])},\nnormal rule-out "
                f"{points['normal_ruleout']['threshold']:.2f}, COVID-19 {_point_words(points['covid'])}, zone "
                f"{points['zone']['threshold']:.2f}\nReport created {created} by XRayDesk {__version__}",
                fontsize=7.5, va="center", linespacing=1.4)
    figure.text(LEFT_MARGIN, 0.03, RESEARCH_USE_NOTICE, fontsize=9, color=NOTICE_COLOUR, weight="bold", wrap=True)


def _point_words(point: dict) -> str:
    low, high = point["band"]
    return f"{point['threshold']:.2f} (borderline {low:.2f}-{high:.2f})"
