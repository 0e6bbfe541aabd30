"""The severity trend in the results dock: six-zone score, geographic extent and p(pneumonia) of each
of the patient's analysed studies against the study date (a small QPainter chart, the current study
marked), and the change since the prior in the words of xraydesk.ai.trend."""

from collections.abc import Iterable
from pathlib import Path

from PyQt5.QtCore import QEvent, QPointF, QRectF, Qt
from PyQt5.QtGui import QColor, QFont, QPainter, QPen, QPolygonF
from PyQt5.QtWidgets import QGroupBox, QLabel, QToolTip, QVBoxLayout, QWidget

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.ai.trend import (
    CHART_PANELS,
    CURRENT_STUDY_COLOUR,
    MEASURE_NAMES,
    MEASURES,
    STUDY_SUMMARY,
    ChangeLimits,
    Trend,
    change_lines,
    patient_trends,
    value_words,
)

CURRENT_COLOUR = QColor(CURRENT_STUDY_COLOUR)
TITLE_HEIGHT = 14  # each panel's title, above it
PANEL_HEIGHT = 44
PANEL_GAP = 4
AXIS_HEIGHT = 18
LEFT_MARGIN = 30  # the y tick labels
RIGHT_MARGIN = 10
NOT_JUDGED_PREFIX = "Change not judged: "


def current_trend(analyses: Iterable[ImageAnalysis], path: Path) -> tuple[Trend, int] | None:
    """The course of the patient of the image at `path` and the index of that image's study in it;
    None when the image is not part of a trend (not analysed, refused, undated, or one study only)."""
    analyses = list(analyses)
    shown = next((analysis for analysis in analyses if analysis.path == path), None)
    if shown is None or shown.prediction is None:
        return None
    patient = shown.identity.keys.patient_id
    trend = patient_trends([analysis for analysis in analyses if analysis.identity.keys.patient_id == patient]).get(patient)
    index = trend.study_index(path) if trend is not None else None
    return None if index is None else (trend, index)


def study_summary(trend: Trend, index: int, deidentify: bool) -> str:
    """One study's values, e.g. "2020-04-02: extent 5.2, six-zone score 3, p(pneumonia) 0.81"."""
    study = trend.studies[index]
    values = [f"{MEASURE_NAMES[measure]} {value_words(measure, study.value(measure))}" for measure in MEASURES]
    return f"{trend.date_label(study, deidentify)}: " + ", ".join(values)


class TrendChart(QWidget):
    """One panel per measure on a shared time axis (spaced by the time between studies); a withheld
    value is a grey cross at the bottom of its panel; the current study has a band and a ring. A
    study's values are the tooltip of its column."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.trend: Trend | None = None
        self.current = 0
        self.deidentify = False
        self.setMinimumHeight(len(MEASURES) * (TITLE_HEIGHT + PANEL_HEIGHT + PANEL_GAP) + AXIS_HEIGHT)

    def set_trend(self, trend: Trend, current: int, deidentify: bool) -> None:
        self.trend, self.current, self.deidentify = trend, current, deidentify
        self.update()

    def study_x(self) -> list[float]:
        """Each study's x position in widget pixels."""
        studies = self.trend.studies
        days = [(study.moment - studies[0].moment).total_seconds() / 86400 for study in studies]
        span = max(days[-1], 1e-9)
        width = self.width() - LEFT_MARGIN - RIGHT_MARGIN
        return [LEFT_MARGIN + width * (0.04 + 0.92 * day / span) for day in days]

    def event(self, event) -> bool:
        if event.type() == QEvent.ToolTip and self.trend is not None:
            xs = self.study_x()
            nearest = min(range(len(xs)), key=lambda index: abs(xs[index] - event.pos().x()))
            QToolTip.showText(event.globalPos(), study_summary(self.trend, nearest, self.deidentify), self)
            return True
        return super().event(event)

    def paintEvent(self, event) -> None:
        if self.trend is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        font = QFont(self.font())
        font.setPointSize(8)
        painter.setFont(font)
        xs = self.study_x()
        row_height = TITLE_HEIGHT + PANEL_HEIGHT + PANEL_GAP
        for row, measure in enumerate(MEASURES):
            panel = QRectF(LEFT_MARGIN, row * row_height + TITLE_HEIGHT, self.width() - LEFT_MARGIN - RIGHT_MARGIN,
                           PANEL_HEIGHT)
            self._paint_panel(painter, panel, measure, xs)
        self._paint_dates(painter, xs, len(MEASURES) * row_height)
        painter.end()

    def _paint_panel(self, painter: QPainter, panel: QRectF, measure: str, xs: list[float]) -> None:
        title, highest, colour = CHART_PANELS[measure]
        colour = QColor(colour)
        text_colour = self.palette().windowText().color()
        painter.setPen(text_colour)
        painter.drawText(QRectF(panel.left(), panel.top() - TITLE_HEIGHT, panel.width(), TITLE_HEIGHT),
                         Qt.AlignLeft | Qt.AlignVCenter, title)
        painter.fillRect(panel, QColor(128, 128, 128, 28))
        band = QColor(CURRENT_COLOUR)
        band.setAlpha(60)
        painter.fillRect(QRectF(xs[self.current] - 4, panel.top(), 8, panel.height()), band)
        painter.drawText(QRectF(0, panel.top() - 2, LEFT_MARGIN - 4, 14), Qt.AlignRight | Qt.AlignTop, f"{highest:g}")
        painter.drawText(QRectF(0, panel.bottom() - 12, LEFT_MARGIN - 4, 14), Qt.AlignRight | Qt.AlignBottom, "0")

        def y_of(value: float) -> float:
            return panel.bottom() - 6 - (panel.height() - 12) * value / highest  # the ring stays inside

        values = [study.value(measure) for study in self.trend.studies]
        known = [QPointF(x, y_of(value)) for x, value in zip(xs, values) if value is not None]
        painter.setPen(QPen(colour, 1.5))
        painter.drawPolyline(QPolygonF(known))
        painter.setBrush(colour)
        for point in known:
            painter.drawEllipse(point, 2.5, 2.5)
        painter.setPen(QPen(QColor(128, 128, 128), 1.5))
        for x, value in zip(xs, values):
            if value is None:
                cross = QPointF(x, panel.bottom() - 6)
                painter.drawLine(cross + QPointF(-3, -3), cross + QPointF(3, 3))
                painter.drawLine(cross + QPointF(-3, 3), cross + QPointF(3, -3))
        current = values[self.current]
        if current is not None:
            painter.setBrush(Qt.NoBrush)
            painter.setPen(QPen(CURRENT_COLOUR, 2))
            painter.drawEllipse(QPointF(xs[self.current], y_of(current)), 5.5, 5.5)

    def _paint_dates(self, painter: QPainter, xs: list[float], top: float) -> None:
        """The first, the current and the last study's dates, where they do not overlap."""
        painter.setPen(self.palette().windowText().color())
        metrics = painter.fontMetrics()
        written: list[QRectF] = []
        for index in dict.fromkeys((self.current, 0, len(xs) - 1)):
            label = self.trend.date_label(self.trend.studies[index], self.deidentify)
            width = metrics.horizontalAdvance(label) + 4
            left = min(max(xs[index] - width / 2, 0), self.width() - width)
            box = QRectF(left, top, width, AXIS_HEIGHT)
            if not any(box.intersects(other) for other in written):
                painter.drawText(box, Qt.AlignCenter, label)
                written.append(box)


class TrendBox(QGroupBox):
    """The chart and the change since the prior in words; what "no clear change" means is the words'
    tooltip."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.chart = TrendChart()
        self.change = QLabel(wordWrap=True)
        self.change.setTextInteractionFlags(Qt.TextSelectableByMouse)
        summary = QLabel(STUDY_SUMMARY, wordWrap=True, objectName="smallPrint")
        layout = QVBoxLayout(self)
        for widget in (self.chart, self.change, summary):
            layout.addWidget(widget)

    def show_trend(self, trend: Trend, current: int, limits: ChangeLimits | str, deidentify: bool) -> None:
        """`limits`: the model's "no clear change" limits, or why there are none (the change is then not judged)."""
        self.setTitle(f"Trend — study {current + 1} of {len(trend.studies)} of this patient")
        self.chart.set_trend(trend, current, deidentify)
        if isinstance(limits, ChangeLimits):
            self.change.setText("\n".join(change_lines(trend, limits, current, deidentify)))
            self.change.setToolTip(limits.meaning())
        else:
            self.change.setText(NOT_JUDGED_PREFIX + limits)
            self.change.setToolTip("")
        self.setVisible(True)
