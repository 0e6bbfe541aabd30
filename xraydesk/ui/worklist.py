"""The worklist: every image of the open folder analysed in the background, as a sortable triage
table (patient, study, p(pneumonia), cause, COVID-19 category, score, status with the call and its
flags, in the dock's words). Double-click opens the image."""

from pathlib import Path

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from xraydesk.ai.analysis import (
    COVID_CAVEAT,
    PNEUMONIA_LIKELY,
    TARGET_NAMES,
    covid_category,
    most_likely_cause,
    pneumonia_call,
    worklist_status,
)
from xraydesk.ui.analysis_controller import WorklistEntry

COLUMNS = ("Patient", "Study", "Image", "p(pneumonia)", "Cause", "COVID-19 category", "Score", "Status")
IDENTIFYING_COLUMNS = (0, 1)  # patient; study date and description
COVID_COLUMN = COLUMNS.index("COVID-19 category")


def entry_cells(entry: WorklistEntry) -> list:
    """Cell values for one row; numbers stay numbers so that columns sort numerically."""
    analysis = entry.analysis
    if analysis is None:
        return ["", "", entry.path.name, None, "", "", None, f"error: {entry.error}"]
    identity = analysis.identity
    patient = identity.patient_name
    if identity.patient_id and identity.patient_id != patient:
        patient = f"{patient} ({identity.patient_id})".strip()
    study = " ".join(part for part in (identity.study_date, identity.study_description) if part)
    prediction = analysis.prediction
    if prediction is None:
        return [patient, study, entry.path.name, None, "", "", None, f"refused: {analysis.check.reason}"]
    cause = TARGET_NAMES[most_likely_cause(prediction)] if pneumonia_call(prediction) == PNEUMONIA_LIKELY else "—"
    score = None if analysis.severity_withheld else prediction.six_zone_score
    return [patient, study, entry.path.name, round(prediction.p_pneumonia, 3), cause,
            covid_category(prediction, analysis.operating_points), score, worklist_status(analysis)]


class WorklistPanel(QWidget):
    imageActivated = pyqtSignal(object)  # Path
    analyseAllRequested = pyqtSignal()
    cancelRequested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)
        header.setDefaultSectionSize(110)
        header.resizeSection(0, 200)
        header.resizeSection(2, 200)
        header.resizeSection(COVID_COLUMN, 280)
        self.table.horizontalHeaderItem(COVID_COLUMN).setToolTip(COVID_CAVEAT)
        header.setStretchLastSection(True)
        header.setSortIndicator(-1, Qt.AscendingOrder)  # folder order until a header is clicked
        self.table.setSortingEnabled(True)
        self.table.itemDoubleClicked.connect(lambda item: self.imageActivated.emit(self.path_at(item.row())))
        self.analyse_button = QPushButton("Analyse all images")
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.progress = QProgressBar(visible=False)
        self.summary = QLabel()
        self.analyse_button.clicked.connect(self.analyseAllRequested)
        self.cancel_button.clicked.connect(self.cancelRequested)
        controls = QHBoxLayout()
        for widget in (self.analyse_button, self.cancel_button, self.progress):
            controls.addWidget(widget)
        controls.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.table)

    def start(self, count: int) -> None:
        self.table.setRowCount(0)
        self.progress.setRange(0, max(count, 1))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.summary.setText(f"Analysing {count} images…")

    def add_entry(self, entry: WorklistEntry) -> None:
        self.table.setSortingEnabled(False)  # else the new row moves while its cells are being set
        row = self.table.rowCount()
        self.table.insertRow(row)
        for column, value in enumerate(entry_cells(entry)):
            item = QTableWidgetItem()
            if value is not None:
                item.setData(Qt.DisplayRole, value)
            self.table.setItem(row, column, item)
        self.table.item(row, 0).setData(Qt.UserRole, str(entry.path))
        self.table.setSortingEnabled(True)
        self.progress.setValue(self.progress.value() + 1)

    def finish(self, summary: str) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setEnabled(False)
        self.summary.setText(summary)

    def path_at(self, row: int) -> Path:
        return Path(self.table.item(row, 0).data(Qt.UserRole))

    def paths(self, selected_only: bool = False) -> list[Path]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()}) if selected_only \
            else range(self.table.rowCount())
        return [self.path_at(row) for row in rows]

    def set_show_patient_data(self, show: bool) -> None:
        for column in IDENTIFYING_COLUMNS:
            self.table.setColumnHidden(column, not show)
