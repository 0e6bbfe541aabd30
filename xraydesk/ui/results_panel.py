"""The AI results dock: the reading in words, probabilities as bars with their operating points,
the COVID-19 category with its caveat, the flags in words, the six-zone diagram and score, extent
and opacity per lung, the model version, and the overlay controls. The words come from
xraydesk.ai.analysis, which the PDF uses too."""

from collections.abc import Callable, Iterable
from pathlib import Path

from PyQt5.QtCore import QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QFont, QPainter, QPen
from PyQt5.QtWidgets import (
    QAction,
    QApplication,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from xraydesk import RESEARCH_USE_NOTICE
from xraydesk.ai import overlays
from xraydesk.ai.analysis import HEATMAP_TARGETS, TARGET_NAMES, ImageAnalysis
from xraydesk.ai.outputs import ZONES
from xraydesk.ai.trend import ChangeLimits
from xraydesk.ai.words import (
    COVID_CAVEAT,
    covid_category_line,
    draft_report,
    evidence_note,
    flag_statements,
    made_where,
    probability_rows,
    reading,
    severity_lines,
    six_zone_words,
)
from xraydesk.ui.overlays import POSITIVE_ZONE_COLOUR, HeatmapSettings, qcolour
from xraydesk.ui.trend_view import TrendBox, current_trend

BAR_COLOUR = QColor(78, 121, 167)
ROW_HEIGHT = 24


class FittingLabel(QLabel):
    """A word-wrapped label that never widens its dock: a word too long for the width (a long file
    name) is elided in the middle, and the full text is the tooltip. text() is the full text."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, wordWrap=True)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self._full_text = ""

    def text(self) -> str:
        return self._full_text

    def setText(self, text: str) -> None:
        self._full_text = text
        self._fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        metrics, width = self.fontMetrics(), max(self.contentsRect().width(), 60)
        shown = "\n".join(" ".join(metrics.elidedText(word, Qt.ElideMiddle, width) for word in line.split(" "))
                          for line in self._full_text.split("\n"))
        self.setToolTip(self._full_text if shown != self._full_text else "")
        if shown != super().text():
            super().setText(shown)


class ProbabilityBars(QWidget):
    """One bar per output; a black tick marks the stored operating point where there is one."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[tuple[str, float, float | None]] = []

    def set_rows(self, rows) -> None:
        self.rows = list(rows)
        self.setMinimumHeight(ROW_HEIGHT * len(self.rows) + 4)
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        label_width = max((self.fontMetrics().horizontalAdvance(label) for label, _, _ in self.rows), default=0) + 8
        bar_width = max(self.width() - label_width - 44, 10)
        for index, (label, probability, point) in enumerate(self.rows):
            top = index * ROW_HEIGHT + 2
            painter.setPen(self.palette().windowText().color())
            painter.drawText(QRectF(0, top, label_width - 6, ROW_HEIGHT), Qt.AlignVCenter | Qt.AlignRight, label)
            track = QRectF(label_width, top + 5, bar_width, ROW_HEIGHT - 10)
            painter.fillRect(track, QColor(128, 128, 128, 60))
            painter.fillRect(QRectF(track.left(), track.top(), bar_width * probability, track.height()), BAR_COLOUR)
            if point is not None:
                x = track.left() + bar_width * point
                painter.setPen(QPen(self.palette().windowText().color(), 2))
                painter.drawLine(int(x), int(top + 2), int(x), int(top + ROW_HEIGHT - 2))
            painter.drawText(QRectF(track.right() + 4, top, 40, ROW_HEIGHT), Qt.AlignVCenter, f"{probability:.2f}")
        painter.end()


class ZoneDiagram(QWidget):
    """Six cells as displayed on a frontal film: the patient's right lung on the viewer's left."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(160, 120)
        self.probabilities: tuple[float, ...] = ()
        self.positive: tuple[bool, ...] = ()

    def set_zones(self, probabilities, positive) -> None:
        self.probabilities, self.positive = tuple(probabilities), tuple(positive)
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        cell_width, cell_height = min(self.width(), 240) / 2, self.height() / 3
        for index, (zone, probability, positive) in enumerate(zip(ZONES, self.probabilities, self.positive)):
            column, row = divmod(index, 3)
            cell = QRectF(column * cell_width + 2, row * cell_height + 2, cell_width - 4, cell_height - 4)
            painter.fillRect(cell, POSITIVE_ZONE_COLOUR if positive else QColor(128, 128, 128, 50))
            painter.setPen(self.palette().windowText().color())
            painter.drawRect(cell)
            if positive:  # dark on the positive colour, as the zone labels on the image
                painter.setPen(qcolour(overlays.label_colours(positive=True).text))
            painter.drawText(cell, Qt.AlignCenter, f"{zone}  {probability:.2f}")
        painter.end()


class DraftReportBox(QGroupBox):
    """The draft report, editable; the reader's edit is kept (draftEdited) and printed in the PDF."""
    draftEdited = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Draft report (AI, edit before use)", parent)
        self.text = QPlainTextEdit(minimumHeight=140)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the draft report to the clipboard")
        self.copy_button.clicked.connect(lambda: QApplication.clipboard().setText(self.text.toPlainText()))
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(self.copy_button, alignment=Qt.AlignRight)
        self.text.textChanged.connect(self._edited)
        self._setting = False

    def set_draft(self, draft: str) -> None:
        self._setting = True
        self.text.setPlainText(draft)
        self._setting = False

    def _edited(self) -> None:
        if not self._setting:
            self.draftEdited.emit(self.text.toPlainText())


class ResultsPanel(QWidget):
    heatmapSettingsChanged = pyqtSignal(object)  # HeatmapSettings

    def __init__(self, heatmap_action: QAction, zones_action: QAction, parent: QWidget | None = None):
        super().__init__(parent)
        self.status = FittingLabel()
        self.busy = QProgressBar(maximum=0, visible=False, maximumHeight=10, textVisible=False)
        self.reading = QLabel(wordWrap=True)
        bold = QFont(self.reading.font())
        bold.setBold(True)
        bold.setPointSize(bold.pointSize() + 1)
        self.reading.setFont(bold)
        self.bars = ProbabilityBars()
        self.covid = QLabel(wordWrap=True)
        self.caveat = QLabel(COVID_CAVEAT, wordWrap=True, objectName="smallPrint")
        self.flags = QLabel(wordWrap=True)
        self.score = QLabel(font=bold)
        self.zones = ZoneDiagram()
        self.extent = QLabel(wordWrap=True)
        self.evidence = QLabel(wordWrap=True, objectName="smallPrint")
        self.version = QLabel(objectName="smallPrint")
        self.trend = TrendBox()
        self.draft = DraftReportBox()
        self.result_widgets = (self.reading, self.bars, self.covid, self.caveat, self.flags, self.score, self.zones,
                               self.extent, self.evidence, self.draft)
        layout = QVBoxLayout(self)
        for widget in (self.status, self.busy, *self.result_widgets, self.trend, self.version):
            layout.addWidget(widget)
        layout.addWidget(self._overlay_controls(heatmap_action, zones_action))
        layout.addStretch(1)
        layout.addWidget(QLabel(RESEARCH_USE_NOTICE, wordWrap=True, objectName="smallPrint"))
        self.show_message("Not analysed yet — Analysis ▸ Analyse (Ctrl+Return).")

    def _overlay_controls(self, heatmap_action: QAction, zones_action: QAction) -> QGroupBox:
        box = QGroupBox("Overlay")
        buttons = QHBoxLayout()
        for action in (heatmap_action, zones_action):
            button = QToolButton()
            button.setDefaultAction(action)
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.target = QComboBox()
        for target in HEATMAP_TARGETS:
            self.target.addItem(TARGET_NAMES[target], target)
        self.opacity = QSlider(Qt.Horizontal, minimum=0, maximum=100, value=50)
        self.contours = QToolButton(text="Contours", checkable=True)
        modes = QHBoxLayout()
        modes.addWidget(self.contours)
        modes.addStretch(1)
        form = QFormLayout(box)
        form.addRow(buttons)
        form.addRow("Map", self.target)
        form.addRow("Opacity", self.opacity)
        form.addRow(modes)
        self.target.currentIndexChanged.connect(self._emit_settings)
        self.opacity.valueChanged.connect(self._emit_settings)
        self.contours.toggled.connect(self._emit_settings)
        return box

    def heatmap_settings(self) -> HeatmapSettings:
        return HeatmapSettings(self.target.currentData(), self.opacity.value() / 100,
                               self.contours.isChecked())

    def _emit_settings(self, *_ignored) -> None:
        self.heatmapSettingsChanged.emit(self.heatmap_settings())

    def show_message(self, text: str, busy: bool = False) -> None:
        self.status.setText(text)
        self.status.setVisible(True)
        self.busy.setVisible(busy)
        for widget in (*self.result_widgets, self.trend):
            widget.setVisible(False)

    show_patient_data = True  # file names are often patient IDs (RSNA): hidden with the patient data

    def set_show_patient_data(self, show: bool) -> None:
        self.show_patient_data = show

    def show_analysis(self, analysis: ImageAnalysis, draft: str = "") -> None:
        """`draft`: the reader's edited draft report or one with the comparison; else the model's own."""
        self.version.setText(f"Model: {analysis.model_version}")
        name = analysis.path.name if self.show_patient_data else "The image"
        if analysis.prediction is None:
            self.show_message(f"The input check refused {name}: {analysis.check.reason}. No probabilities are shown."
                              + (f" ({made_where(analysis)})" if analysis.from_node_at is not None else ""))
            return
        prediction = analysis.prediction
        self.show_message(f"{name} — {made_where(analysis)}")
        self.reading.setText(reading(analysis))
        reading_font = self.reading.font()
        reading_font.setBold(not prediction.pneumonia_borderline)  # no bold yes/no inside the band
        self.reading.setFont(reading_font)
        self.bars.set_rows(probability_rows(analysis))
        self.covid.setText(covid_category_line(analysis))
        self.flags.setText("\n".join(flag_statements(analysis)))
        self.score.setText(six_zone_words(analysis))
        self.zones.set_zones(prediction.zone_probabilities, prediction.zone_positive)
        self.extent.setText("\n".join(severity_lines(analysis)))
        self.evidence.setText(evidence_note(analysis) or "")
        self.draft.set_draft(draft or draft_report(analysis))
        shown = {self.flags: bool(self.flags.text()), self.zones: not analysis.severity_withheld,
                 self.extent: not analysis.severity_withheld, self.evidence: bool(self.evidence.text())}
        for widget in self.result_widgets:
            widget.setVisible(shown.get(widget, True))

    def show_trend(self, analyses: Iterable[ImageAnalysis], path: Path, limits: Callable[[], ChangeLimits | str],
                   deidentify: bool) -> None:
        """The course of the shown image's patient when it has two or more analysed studies (else none);
        `limits()` (asked only then) gives what TrendBox.show_trend takes."""
        found = current_trend(analyses, path)
        if found is None:
            self.trend.setVisible(False)
        else:
            self.trend.show_trend(*found, limits(), deidentify)
