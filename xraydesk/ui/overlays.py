"""The AI overlays on the canvas: the heatmap over the whole image (filled or as contours; heat
outside the lungs is shown, never hidden) and the lung outline with the six zones. Both draw in image coordinates, so they stay
registered under zoom and pan; window/level and invert change only the image beneath them."""

from dataclasses import dataclass

import numpy as np
from PyQt5.QtCore import QPointF, QRectF, Qt
from PyQt5.QtGui import QColor, QFont, QImage, QPainter, QPen, QPolygonF

from xraydesk.ai import overlays
from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.ai.outputs import ZONES
from xraydesk.imaging import XRayImage
from xraydesk.ui.canvas import OverlayLayer

LUNG_COLOUR = QColor(79, 195, 247)
ZONE_COLOUR = QColor(255, 255, 255, 150)
POSITIVE_ZONE_COLOUR = QColor(242, 142, 43)
LABEL_BACKGROUND = QColor(0, 0, 0, 150)


@dataclass(frozen=True)
class HeatmapSettings:
    target: str = "pneumonia"
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
    """Lung outline, the six zones, and each zone's opacity probability (positive zones in orange)."""

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
        lungs, zones, positions = self._shapes((image.height, image.width))
        prediction = analysis.prediction
        # A failed lung mask is still outlined, so the reader sees why the zones are withheld.
        if not analysis.severity_withheld:
            for zone, positive in zip(ZONES, prediction.zone_positive):
                painter.setPen(cosmetic_pen(POSITIVE_ZONE_COLOUR if positive else ZONE_COLOUR, 2 if positive else 1))
                for line in zones[zone]:
                    painter.drawPolyline(polygon(line))
        painter.setPen(cosmetic_pen(LUNG_COLOUR, 2))
        for line in lungs:
            painter.drawPolyline(polygon(line))
        if not analysis.severity_withheld:
            self._paint_labels(painter, positions, prediction, self._score_anchor(lungs))

    def _shapes(self, shape: tuple[int, int]):
        if self._geometry is None or self._geometry[0] != shape:
            self._geometry = (shape, overlays.lung_outline(self.analysis, shape),
                              overlays.zone_outlines(self.analysis, shape),
                              overlays.zone_label_positions(self.analysis, shape))
        return self._geometry[1:]

    def _score_anchor(self, lungs: list[np.ndarray]) -> QPointF | None:
        """Below the lungs (the image top is often cut at the apices), centred: where the score is written."""
        if not lungs:
            return None
        points = np.concatenate(lungs)
        return QPointF(float(points[:, 0].min() + points[:, 0].max()) / 2, float(points[:, 1].max()))

    def _paint_labels(self, painter: QPainter, positions: dict, prediction, score_anchor: QPointF | None) -> None:
        """Labels keep their size on screen: drawn untransformed at the zone centre's screen position."""
        transform = painter.transform()
        painter.save()
        painter.resetTransform()
        font = QFont(painter.font())
        font.setPointSize(8)
        painter.setFont(font)
        if score_anchor is not None:
            anchor = transform.map(score_anchor)
            top = min(anchor.y() + 8, painter.device().height() - 50)  # clear of the bottom corner text
            box = QRectF(anchor.x() - 75, top, 150, 22)
            painter.fillRect(box, LABEL_BACKGROUND)
            painter.setPen(Qt.white)
            painter.drawText(box, Qt.AlignCenter, f"Six-zone score {prediction.six_zone_score} / 6")
        for zone, probability, positive in zip(ZONES, prediction.zone_probabilities, prediction.zone_positive):
            if zone not in positions:
                continue
            centre = transform.map(QPointF(*positions[zone]))
            box = QRectF(centre.x() - 26, centre.y() - 16, 52, 32)
            painter.fillRect(box, LABEL_BACKGROUND)
            painter.setPen(POSITIVE_ZONE_COLOUR if positive else Qt.white)
            painter.drawText(box, Qt.AlignCenter, f"{zone}\n{probability:.2f}")
        painter.restore()
