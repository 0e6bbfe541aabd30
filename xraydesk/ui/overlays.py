"""The AI overlays on the canvas: the heatmap over the whole image (filled or as contours; heat
outside the lungs is shown, never hidden) and the lung outline with the six zones. Both draw in image
coordinates, so they stay registered under zoom, pan, rotation and flips; window/level and invert change
only the image beneath them. Colours come from xraydesk.ai.overlays, one per meaning."""

import math
from dataclasses import dataclass

import numpy as np
from PyQt5.QtCore import QPointF, QRectF, Qt
from PyQt5.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QPolygonF

from xraydesk.ai import overlays
from xraydesk.ai.analysis import DEFAULT_HEATMAP, ImageAnalysis
from xraydesk.ai.outputs import ZONES
from xraydesk.ai.words import six_zone_words
from xraydesk.imaging import XRayImage
from xraydesk.ui.canvas import OverlayLayer


def qcolour(rgb: tuple[int, int, int], alpha: int = 255) -> QColor:
    return QColor(*rgb, alpha)


LUNG_COLOUR = qcolour(overlays.LUNG_OUTLINE_COLOUR)
ZONE_COLOUR = qcolour(overlays.ZONE_BORDER_COLOUR, 170)
POSITIVE_ZONE_COLOUR = qcolour(overlays.POSITIVE_ZONE_COLOUR)
LABEL_POINT_SIZE = 7
LABEL_GAP = 3  # screen pixels between a zone's lateral edge and its label
LABEL_PADDING = 3


@dataclass(frozen=True)
class HeatmapSettings:
    target: str = DEFAULT_HEATMAP
    opacity: float = 0.5
    contours: bool = False


def polygon(points: np.ndarray) -> QPolygonF:
    return QPolygonF([QPointF(float(x), float(y)) for x, y in points])


def cosmetic_pen(colour: QColor, width: float) -> QPen:
    """A pen whose width is in screen pixels whatever the zoom."""
    pen = QPen(colour, width)
    pen.setCosmetic(True)
    return pen


class HeatmapLayer(OverlayLayer):
    def __init__(self):
        self.analysis: ImageAnalysis | None = None
        self.settings = HeatmapSettings()
        self._cached_key = None
        self._picture: QImage | None = None
        self._pixels: np.ndarray | None = None  # the RGBA array the QImage points into

    def set_analysis(self, analysis: ImageAnalysis | None) -> None:
        self.analysis = analysis

    def values(self) -> np.ndarray | None:
        if self.analysis is None or self.settings.target not in self.analysis.heatmaps:
            return None
        return overlays.heatmap_grid(self.analysis, self.settings.target)

    def paint(self, painter: QPainter, image: XRayImage) -> None:
        if self.analysis is None or self.analysis.path != image.path:
            return
        values = self.values()
        if values is None:
            return
        if self.settings.contours:
            self._paint_contours(painter, values, (image.height, image.width))
        else:
            painter.setRenderHint(QPainter.SmoothPixmapTransform, True)
            painter.drawImage(QRectF(0, 0, image.width, image.height), self._coloured(values))

    def _coloured(self, values: np.ndarray) -> QImage:
        key = (id(self.analysis), self.settings)
        if key != self._cached_key:
            self._pixels = np.ascontiguousarray(overlays.heatmap_rgba(values, self.settings.opacity))
            height, width = values.shape
            self._picture = QImage(self._pixels.data, width, height, width * 4, QImage.Format_RGBA8888)
            self._cached_key = key
        return self._picture

    def _paint_contours(self, painter: QPainter, values: np.ndarray, shape: tuple[int, int]) -> None:
        for level in overlays.CONTOUR_LEVELS:
            colour = QColor(*overlays.level_colour(level))
            colour.setAlphaF(max(self.settings.opacity, 0.3))
            painter.setPen(cosmetic_pen(colour, 2))
            for line in overlays.contour_lines(values, level, shape):
                painter.drawPolyline(polygon(line))


class ZoneLayer(OverlayLayer):
    """Lung outline, the six zones, and each zone's opacity probability beside the zone (positive zones
    in their own colour); the six-zone score goes to the corner text."""

    def __init__(self):
        self.analysis: ImageAnalysis | None = None
        self._geometry = None

    def set_analysis(self, analysis: ImageAnalysis | None) -> None:
        self.analysis = analysis
        self._geometry = None

    def paint(self, painter: QPainter, image: XRayImage) -> None:
        analysis = self.analysis
        if analysis is None or analysis.path != image.path or analysis.prediction is None:
            return
        lungs, zones, anchors = self._shapes((image.height, image.width))
        prediction = analysis.prediction
        # A failed lung mask is still outlined, so the reader sees why the zones are withheld.
        withheld = analysis.severity_withheld
        positives = [] if withheld else [zone for zone, positive in zip(ZONES, prediction.zone_positive) if positive]
        if not withheld:
            self._paint_lines(painter, [line for zone in ZONES if zone not in positives for line in zones[zone]],
                              ZONE_COLOUR, 1)
        self._paint_lines(painter, lungs, LUNG_COLOUR, 2)
        # Positive zones last: their outer edge lies on the lung outline and must stay visible.
        self._paint_lines(painter, [line for zone in positives for line in zones[zone]], POSITIVE_ZONE_COLOUR, 2)
        if not withheld:
            self._paint_labels(painter, anchors, prediction)

    def corner_lines(self, image: XRayImage) -> dict[str, list[str]]:
        analysis = self.analysis
        if analysis is None or analysis.path != image.path or analysis.prediction is None:
            return {}
        return {"bottom_right": [six_zone_words(analysis)]}

    @staticmethod
    def _paint_lines(painter: QPainter, lines: list[np.ndarray], colour: QColor, width: float) -> None:
        painter.setPen(cosmetic_pen(colour, width))
        for line in lines:
            painter.drawPolyline(polygon(line))

    def _shapes(self, shape: tuple[int, int]):
        if self._geometry is None or self._geometry[0] != shape:
            self._geometry = (shape, overlays.lung_outline(self.analysis, shape),
                              overlays.zone_outlines(self.analysis, shape),
                              overlays.zone_label_anchors(self.analysis, shape))
        return self._geometry[1:]

    def _paint_labels(self, painter: QPainter, anchors: dict, prediction) -> None:
        """Drawn untransformed at the mapped positions, so they keep their size and follow rotation and flips."""
        transform = painter.transform()
        painter.save()
        painter.resetTransform()
        font = QFont(painter.font())
        font.setPointSize(LABEL_POINT_SIZE)
        painter.setFont(font)
        device = QRectF(0, 0, painter.device().width(), painter.device().height())
        bounds = self.label_area if self.label_area is not None else device
        for box, text, positive in placed_labels(transform, anchors, prediction, QFontMetricsF(font), bounds):
            paint_label(painter, box, text, overlays.label_colours(positive))
        painter.restore()


def placed_labels(transform, anchors: dict, prediction, metrics: QFontMetricsF,
                  bounds: QRectF) -> list[tuple[QRectF, str, bool]]:
    """(screen box, text, positive) of each zone's label: beside the zone's lateral edge, outside the lung,
    inside `bounds` (the canvas less its corner texts). A zone whose label point is outside `bounds`
    (zoomed or panned away, or behind a corner text) gets none; when the lungs are so small on screen that
    labels would overlap, there are none: the results dock lists every zone."""
    labels = []
    for zone, probability, positive in zip(ZONES, prediction.zone_probabilities, prediction.zone_positive):
        if zone in anchors and bounds.contains(transform.map(QPointF(*anchors[zone][0]))):
            text = f"{zone} {probability:.2f}"
            size = (metrics.horizontalAdvance(text) + 2 * LABEL_PADDING, metrics.height() + LABEL_PADDING)
            labels.append((label_box(transform, *anchors[zone], *size, bounds), text, positive))
    boxes = [box for box, _, _ in labels]
    if any(first.intersects(second) for index, first in enumerate(boxes) for second in boxes[index + 1:]):
        return []
    return labels


def paint_label(painter: QPainter, box: QRectF, text: str, colours: overlays.LabelColours) -> None:
    painter.fillRect(box, qcolour(colours.background, colours.background_alpha))
    painter.setPen(qcolour(colours.text))
    painter.drawText(box, Qt.AlignCenter, text)


def label_box(transform, anchor: tuple[float, float], side: int, width: float, height: float,
              bounds: QRectF) -> QRectF:
    """A label's screen box just beyond `anchor` in the image's x direction `side` (wherever that
    points on screen after rotation or a flip), kept inside `bounds`."""
    start = transform.map(QPointF(*anchor))
    away = transform.map(QPointF(anchor[0] + side, anchor[1])) - start
    length = math.hypot(away.x(), away.y()) or 1.0
    dx, dy = away.x() / length, away.y() / length
    reach = abs(dx) * width / 2 + abs(dy) * height / 2 + LABEL_GAP
    box = QRectF(start.x() + dx * reach - width / 2, start.y() + dy * reach - height / 2, width, height)
    box.moveLeft(min(max(box.left(), bounds.left()), bounds.right() - width))
    box.moveTop(min(max(box.top(), bounds.top()), bounds.bottom() - height))
    return box
