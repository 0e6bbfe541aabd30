"""What the app, the PDF and the DICOM secondary capture draw over an image, computed once and
without Qt: the heatmap on the model's grid, the colour of each meaning, outlines of the heatmap, the
lungs and the six zones in image pixel coordinates, where zone labels go, and the cardiothoracic ratio
the lung mask allows."""

from dataclasses import dataclass
from functools import cache

import contourpy
import numpy as np

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.ai.gradcam import upsample
from xraydesk.ai.outputs import ZONES
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE
from xraydesk.ai.zones import midline_column
from xraydesk.imaging.measurements import CardiothoracicRatio, Point

COLORMAP = "turbo"
CONTOUR_LEVELS = (0.25, 0.5, 0.75)
GRID_SHAPE = (MODEL_INPUT_SIZE, MODEL_INPUT_SIZE)

# One colour per meaning (RGB), for the app, the PDF and the DICOM secondary capture. The heatmap and
# its contour lines take their colours from COLORMAP (blue, cyan, green, yellow, orange, red); the lung
# outline, the zone borders and positive zones take colours outside it, so no line reads as heat.
LUNG_OUTLINE_COLOUR = (255, 255, 255)
ZONE_BORDER_COLOUR = (160, 160, 160)
POSITIVE_ZONE_COLOUR = (255, 0, 255)
MEASUREMENT_COLOUR = (255, 255, 0)
# Labels (zone probabilities, measurement captions) sit in boxes that keep them legible over any grey:
# light text on a nearly opaque dark box; a positive zone's label dark text on the positive colour
# (contrast 6.7:1; magenta text on the grey of a film read at about 3:1).
LABEL_TEXT_COLOUR = (255, 255, 255)
LABEL_BACKGROUND_COLOUR = (0, 0, 0)
LABEL_BACKGROUND_ALPHA = 200  # of 255: the image shows through a little
POSITIVE_LABEL_TEXT_COLOUR = (0, 0, 0)


@dataclass(frozen=True)
class LabelColours:
    text: tuple[int, int, int]
    background: tuple[int, int, int]
    background_alpha: int  # 0-255


def label_colours(positive: bool = False) -> LabelColours:
    """The colours of a label's text and box; `positive`: a zone above its operating point."""
    if positive:
        return LabelColours(POSITIVE_LABEL_TEXT_COLOUR, POSITIVE_ZONE_COLOUR, 255)
    return LabelColours(LABEL_TEXT_COLOUR, LABEL_BACKGROUND_COLOUR, LABEL_BACKGROUND_ALPHA)


def heatmap_grid(analysis: ImageAnalysis, target: str) -> np.ndarray:
    """(224, 224) heatmap in [0, 1] on the model's input grid, over the whole image: heat on the
    border, a marker or the shoulder must show (DeGrave et al. 2021), so it is never clipped."""
    return np.clip(upsample(analysis.heatmaps[target], GRID_SHAPE), 0.0, 1.0)


@cache
def colour_table() -> np.ndarray:
    import matplotlib

    return (matplotlib.colormaps[COLORMAP](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


def heatmap_rgba(values: np.ndarray, opacity: float) -> np.ndarray:
    """Colour-mapped heatmap whose alpha grows with the value, so cold regions leave the image visible."""
    index = np.round(values * 255).astype(np.uint8)
    alpha = np.round(values * opacity * 255).astype(np.uint8)
    return np.dstack([colour_table()[index], alpha])


def level_colour(level: float) -> tuple[int, int, int]:
    """The colour of a heatmap contour line at `level`: the heatmap's own colour for that value."""
    return tuple(int(c) for c in colour_table()[round(level * 255)])


def hex_colour(rgb: tuple[int, int, int]) -> str:
    """"#rrggbb", as matplotlib and SVG take colours."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def grid_to_image(points: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """(x, y) on the 224 grid (pixel centres at integers) -> image pixel coordinates (centres at +0.5)."""
    height, width = image_shape
    return (points + 0.5) * np.array([width / GRID_SHAPE[1], height / GRID_SHAPE[0]])


def contour_lines(values: np.ndarray, level: float, image_shape: tuple[int, int]) -> list[np.ndarray]:
    """Iso-lines of a grid map at `level`, each an (N, 2) array of image (x, y) points. Traced only over
    the rows and columns that reach `level` and their neighbours, with the whole grid's coordinates: no
    line crosses a cell outside them, so the lines are the whole grid's, point for point, for a fraction
    of the work (a zone covers a tenth of the grid)."""
    values = np.asarray(values, np.float64)
    reached = values >= level
    rows, columns = np.flatnonzero(reached.any(axis=1)), np.flatnonzero(reached.any(axis=0))
    if rows.size == 0:
        return []
    window = slice(max(rows[0] - 1, 0), rows[-1] + 2), slice(max(columns[0] - 1, 0), columns[-1] + 2)
    rows_window, columns_window = window
    generator = contourpy.contour_generator(
        np.arange(values.shape[1], dtype=np.float64)[columns_window],
        np.arange(values.shape[0], dtype=np.float64)[rows_window], values[window], line_type="Separate")
    return [grid_to_image(line, image_shape) for line in generator.lines(level) if len(line) > 1]


def lung_outline(analysis: ImageAnalysis, image_shape: tuple[int, int]) -> list[np.ndarray]:
    return contour_lines(analysis.lung_mask.astype(np.float64), 0.5, image_shape)


def zone_outlines(analysis: ImageAnalysis, image_shape: tuple[int, int]) -> dict[str, list[np.ndarray]]:
    labels = analysis.zone_labels
    return {zone: contour_lines((labels == index).astype(np.float64), 0.5, image_shape)
            for index, zone in enumerate(ZONES, start=1)}


def zone_label_anchors(analysis: ImageAnalysis, image_shape: tuple[int, int]) -> dict[str, tuple[Point, int]]:
    """Where each zone's label goes, outside the lung: ((x, y) on the zone's lateral edge at its centre
    row, in image pixels; the image x direction that points away from the lungs, -1 or +1)."""
    labels = analysis.zone_labels
    anchors = {}
    for index, zone in enumerate(ZONES, start=1):
        rows, columns = np.nonzero(labels == index)
        if rows.size == 0:
            continue
        side = -1 if zone.startswith("R") else 1  # the patient's right lung is on the image's left
        edge = columns.min() - 0.5 if side < 0 else columns.max() + 0.5
        anchors[zone] = (tuple(float(v) for v in grid_to_image(np.array([edge, rows.mean()]), image_shape)), side)
    return anchors


# The lungs outline the heart only where the lung mask leaves it out: then the gap between the lungs low
# down is far wider than the mediastinum's above (a heart ~45% of the thorax against a ~15% mediastinum).
# Masks that run behind the heart cannot give its width: the shipped model's do, its median lower gap was
# 0.9-1.7 times the upper one on the 34 chest films in data/dicom.
HEART_GAP_OVER_MEDIASTINUM = 2.0
# Rows where either lung is under half its widest are the costophrenic tips, not the heart's level.
HEART_LEVEL_LUNG_WIDTH = 0.5
MIN_SHARED_ROWS = 10


@dataclass(frozen=True)
class CtrEstimate:
    """The cardiothoracic ratio's points the lung mask gives: the thorax's inner width (the lungs'
    outer edges at their widest) and, where the mask outlines it, the heart's width; `reason` says
    what is missing and why."""

    thorax: tuple[Point, Point] | None = None
    heart: tuple[Point, Point] | None = None
    reason: str = ""

    def measurement(self) -> CardiothoracicRatio | None:
        if self.thorax is None or self.heart is None:
            return None
        return CardiothoracicRatio((*self.heart, *self.thorax), estimated=True)


def estimate_ctr(analysis: ImageAnalysis | None, image_shape: tuple[int, int]) -> CtrEstimate:
    """The CTR's points from the analysis's lung mask, in image pixels; nothing where the mask cannot tell."""
    if analysis is None or analysis.lung_mask is None:
        return CtrEstimate(reason="the image has no AI lung mask (not analysed, or refused)")
    if analysis.severity_withheld:
        return CtrEstimate(reason="the AI lung mask is implausible")
    mask = analysis.lung_mask
    middle = midline_column(mask)
    right, left = mask[:, :middle], mask[:, middle:]
    rows = np.flatnonzero(right.any(axis=1) & left.any(axis=1))
    if rows.size < MIN_SHARED_ROWS:
        return CtrEstimate(reason="the AI lung mask does not show both lungs side by side")
    outer_right_lung = np.argmax(right, axis=1)  # the first lung column from the image's left
    outer_left_lung = mask.shape[1] - 1 - np.argmax(left[:, ::-1], axis=1)
    widest = rows[np.argmax(outer_left_lung[rows] - outer_right_lung[rows])]
    thorax = tuple(_grid_point(column, widest, image_shape)
                   for column in (outer_right_lung[widest] - 0.5, outer_left_lung[widest] + 0.5))
    heart, reason = _heart_width(right, left, middle, rows, image_shape)
    return CtrEstimate(thorax, heart, reason)


def _heart_width(right: np.ndarray, left: np.ndarray, middle: int, rows: np.ndarray,
                 image_shape: tuple[int, int]) -> tuple[tuple[Point, Point] | None, str]:
    inner_right_lung = middle - 1 - np.argmax(right[:, ::-1], axis=1)
    inner_left_lung = middle + np.argmax(left, axis=1)
    gap = inner_left_lung - inner_right_lung - 1
    top, height = rows[0], rows[-1] - rows[0]
    widths_right, widths_left = right.sum(axis=1), left.sum(axis=1)
    upper = rows[rows < top + height // 3]
    lower = rows[(rows >= top + 2 * height // 3) & (widths_right[rows] >= HEART_LEVEL_LUNG_WIDTH * widths_right.max())
                 & (widths_left[rows] >= HEART_LEVEL_LUNG_WIDTH * widths_left.max())]
    if upper.size == 0 or lower.size == 0:
        return None, "the AI lung mask is too short to find the heart's level"
    if np.median(gap[lower]) < HEART_GAP_OVER_MEDIASTINUM * np.median(gap[upper]):
        return None, "the AI lung mask runs behind the heart, so it gives no heart width"
    level = lower[np.argmax(gap[lower])]  # the transverse diameter: the heart at its widest
    return (_grid_point(inner_right_lung[level] + 0.5, level, image_shape),
            _grid_point(inner_left_lung[level] - 0.5, level, image_shape)), ""


def _grid_point(column: float, row: float, image_shape: tuple[int, int]) -> Point:
    x, y = grid_to_image(np.array([column, row], dtype=np.float64), image_shape)
    return float(x), float(y)
