"""The AI overlays on the canvas, drawn from the drawing plan (xraydesk.ai.overlay_plan, shared with
the PDF and the secondary capture): the heatmap over the whole image (filled or as contours; heat
outside the lungs is shown, never hidden) and the lung outline with the six zones. Both draw in image
coordinates, so they stay registered under zoom, pan, rotation and flips; window/level and invert change
only the image beneath them."""

import math

import numpy as np
from PyQt5.QtCore import QPointF, QRectF, Qt
from PyQt5.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QPolygonF

from xraydesk.ai import overlays
from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.ai.overlay_plan import (
    HeatmapFill,
    HeatmapSettings,
    Label,
    Polyline,
    heatmap_plan,
    zone_plan,
)
from xraydesk.ai.words import six_zone_words
from xraydesk.imaging import XRayImage
from xraydesk.ui.canvas import OverlayLayer

__all__ = ["HeatmapLayer", "HeatmapSettings", "ZoneLayer", "label_box"]


def qcolour(rgb: tuple[int, int, int], alpha: int = 255) -> QColor:
    return QColor(*rgb, alpha)


def plan_colour(rgb: tuple[int, int, int], opacity: float = 1.0) -> QColor:
    """A drawing plan's colour and opacity (0-1)."""
    return qcolour(rgb, round(opacity * 255))


POSITIVE_ZONE_COLOUR = qcolour(overlays.POSITIVE_ZONE_COLOUR)
LABEL_POINT_SIZE = 7
LABEL_GAP = 3  # screen pixels between a zone's lateral edge and its label
LABEL_PADDING = 3


def polygon(points: np.ndarray) -> QPolygonF:
    return QPolygonF([QPointF(float(x), float(y)) for x, y in points])


def cosmetic_pen(colour: QColor, width: float) -> QPen:
    """A pen whose width is in screen pixels whatever the zoom."""
    pen = QPen(colour, width)
    pen.setCosmetic(True)
    return pen


def paint_lines(painter: QPainter, lines: list[Polyline]) -> None:
    """A plan's weights in screen pixels (THIN 1, THICK 2)."""
    for line in lines:
        painter.setPen(cosmetic_pen(plan_colour(line.colour, line.alpha), line.weight))
        painter.drawPolyline(polygon(line.points))


class HeatmapLayer(OverlayLayer):
    def __init__(self):
        self.analysis: ImageAnalysis | None = None
        self.settings = HeatmapSettings()
        self._cached_key = None
        self._lines: list[Polyline] = []
        self._picture: QImage | None = None
        self._pixels: np.ndarray | None = None  # the RGBA array the QImage points into

    def set_analysis(self, analysis: ImageAnalysis | None) -> None:
        self.analysis = analysis

    def paint(self, painter: QPainter, image: XRayImage) -> None:
        if self.analysis is None or self.analysis.path != image.path:
            return
        lines = self._planned((image.height, image.width))
        if self._picture is not None:
            painter.setRenderHint(QPainter.SmoothPixmapTransform, True)
            painter.drawImage(QRectF(0, 0, image.width, image.height), self._picture)
        paint_lines(painter, lines)

    def _planned(self, shape: tuple[int, int]) -> list[Polyline]:
        """The plan's contour lines; its fill, if any, becomes the cached QImage."""
        key = (id(self.analysis), self.settings, shape)
        if key != self._cached_key:
            plan = heatmap_plan(self.analysis, shape, self.settings)
            fill = next((part.rgba for part in plan if isinstance(part, HeatmapFill)), None)
            self._pixels = None if fill is None else np.ascontiguousarray(fill)
            self._picture = None if fill is None else QImage(self._pixels.data, fill.shape[1], fill.shape[0],
                                                             fill.shape[1] * 4, QImage.Format_RGBA8888)
            self._lines = [part for part in plan if isinstance(part, Polyline)]
            self._cached_key = key
        return self._lines


class ZoneLayer(OverlayLayer):
    """Lung outline, the six zones, and each zone's opacity probability beside the zone (positive zones
    in their own colour); the six-zone score goes to the corner text."""

    def __init__(self):
        self.analysis: ImageAnalysis | None = None
        self._plan = None

    def set_analysis(self, analysis: ImageAnalysis | None) -> None:
        self.analysis = analysis
        self._plan = None

    def paint(self, painter: QPainter, image: XRayImage) -> None:
        analysis = self.analysis
        if analysis is None or analysis.path != image.path or analysis.prediction is None:
            return
        shape = (image.height, image.width)
        if self._plan is None or self._plan[0] != shape:
            self._plan = (shape, *zone_plan(analysis, shape))
        _shape, lines, labels = self._plan
        paint_lines(painter, lines)
        self._paint_labels(painter, labels)

    def corner_lines(self, image: XRayImage) -> dict[str, list[str]]:
        analysis = self.analysis
        if analysis is None or analysis.path != image.path or analysis.prediction is None:
            return {}
        return {"bottom_right": [six_zone_words(analysis)]}


    def _paint_labels(self, painter: QPainter, labels: list[Label]) -> None:
        """Drawn untransformed at the mapped positions, so they keep their size and follow rotation and flips."""
        transform = painter.transform()
        painter.save()
        painter.resetTransform()
        font = QFont(painter.font())
        font.setPointSize(LABEL_POINT_SIZE)
        painter.setFont(font)
        device = QRectF(0, 0, painter.device().width(), painter.device().height())
        bounds = self.label_area if self.label_area is not None else device
        for box, label in placed_labels(transform, labels, QFontMetricsF(font), bounds):
            paint_label(painter, box, label)
        painter.restore()


def placed_labels(transform, labels: list[Label], metrics: QFontMetricsF, bounds: QRectF) -> list[tuple[QRectF, Label]]:
    """(screen box, label) of each of the plan's zone labels, at a fixed size on screen: beside the zone's
    lateral edge, outside the lung, inside `bounds` (the canvas less its corner texts). A label whose point
    is outside `bounds` (zoomed or panned away, or behind a corner text) is left out; when the lungs are so
    small on screen that labels would overlap, none are placed: the results dock lists every zone."""
    placed = [(label_box(transform, label.anchor, label.side, metrics.horizontalAdvance(label.text) + 2 * LABEL_PADDING,
                         metrics.height() + LABEL_PADDING, bounds), label)
              for label in labels if bounds.contains(transform.map(QPointF(*label.anchor)))]
    boxes = [box for box, _ in placed]
    if any(first.intersects(second) for index, first in enumerate(boxes) for second in boxes[index + 1:]):
        return []
    return placed


def paint_label(painter: QPainter, box: QRectF, label: Label) -> None:
    painter.fillRect(box, plan_colour(label.background, label.background_alpha))
    painter.setPen(qcolour(label.colour))
    painter.drawText(box, Qt.AlignCenter, label.text)


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
