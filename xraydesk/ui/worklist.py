"""The worklist: every image of the open folder analysed in the background, as a sortable triage
table (read mark, patient, study, image, p(pneumonia-like opacity), cause, COVID-19 category, score,
status with the answer and its flags, in the dock's words), in priority order until a header is
clicked (words.worklist_priority): highest p(pneumonia-like opacity) first, films cleared as normal
after every other analysed film (shown, saying so), refused and unreadable images last.
Double-click or Enter opens the image."""

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

from xraydesk.ai.words import (
    COVID_CAVEAT,
    cause_column,
    covid_category,
    probability,
    worklist_priority,
    worklist_status,
)
from xraydesk.imaging.header import format_study_date
from xraydesk.ui.analysis_controller import WorklistEntry

COLUMNS = ("Read", "Patient", "Study", "Image", "p(opacity)", "Cause", "COVID-19 category", "Score", "Status")
IDENTIFYING_COLUMNS = (1, 2, 3)  # patient; study date and description; file name (often a patient ID)
PATH_COLUMN = COLUMNS.index("Patient")
IMAGE_COLUMN = COLUMNS.index("Image")
PRIORITY_COLUMN = COLUMNS.index("p(opacity)")
UNREADABLE_PRIORITY = -3.0
COVID_COLUMN = COLUMNS.index("COVID-19 category")
READ_MARK = "✓"
SORT_ROLE = Qt.UserRole + 1  # what a cell shown in words sorts by


class SortedByKey(QTableWidgetItem):
    """Shows words, sorts by the number stored under SORT_ROLE (the triage priority)."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if mine is None or theirs is None:
            return super().__lt__(other)
        return mine < theirs


def entry_cells(entry: WorklistEntry, name: str) -> list:
    """Cell values for one row (`name`: the image's, StudySession.image_name); numbers stay numbers so that
    columns sort numerically; the priority cell is (words, sort key)."""
    analysis = entry.analysis
    if analysis is None:
        return ["", "", "", name, ("", UNREADABLE_PRIORITY), "", "", None, f"error: {entry.error}"]
    keys = analysis.identity.keys
    patient = keys.patient_name
    if keys.patient_id and keys.patient_id != patient:
        patient = f"{patient} ({keys.patient_id})".strip()
    study = " ".join(part for part in (format_study_date(keys.study_date), keys.study_description) if part)
    prediction = analysis.prediction
    if prediction is None:
        return ["", patient, study, name, ("", worklist_priority(analysis)), "", "", None,
                f"refused: {analysis.check.reason}"]
    score = None if analysis.severity_withheld else prediction.six_zone_score
    return ["", patient, study, name, (probability(prediction.p_pneumonia), worklist_priority(analysis)),
            cause_column(analysis),
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
        header.resizeSection(0, 40)
        header.resizeSection(PATH_COLUMN, 200)
        header.resizeSection(IMAGE_COLUMN, 200)
        header.resizeSection(COVID_COLUMN, 280)
        self.table.setTextElideMode(Qt.ElideMiddle)  # long file names keep their start and end
        self.table.horizontalHeaderItem(COVID_COLUMN).setToolTip(COVID_CAVEAT)
        header.setStretchLastSection(True)
        # Invalid values (refused, unreadable) sort below every number: last in descending order.
        header.setSortIndicator(PRIORITY_COLUMN, Qt.DescendingOrder)
        self.table.setSortingEnabled(True)
        # activated: Enter on the current row, or a double-click (a single click where the platform says so)
        self.table.activated.connect(lambda index: self.imageActivated.emit(self.path_at(index.row())))
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

    def clear(self) -> None:
        """Open replaced the studies: no rows, nothing running."""
        self.table.setRowCount(0)
        self.finish("")

    def start(self, count: int) -> None:
        self.table.setRowCount(0)
        self.progress.setRange(0, max(count, 1))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.summary.setText(f"Analysing {count} images…")

    def add_entry(self, entry: WorklistEntry, read: bool, name: str) -> None:
        """A row for the image, in place of the one it had (a result found waiting, then the worklist's)."""
        self.table.setSortingEnabled(False)  # else the new row moves while its cells are being set
        row = next((row for row in range(self.table.rowCount()) if self.path_at(row) == entry.path), None)
        if row is None:
            row = self.table.rowCount()
            self.table.insertRow(row)
        for column, value in enumerate(entry_cells(entry, name)):
            item = SortedByKey() if column == PRIORITY_COLUMN else QTableWidgetItem()
            if column == PRIORITY_COLUMN:
                item.setData(Qt.DisplayRole, value[0])
                item.setData(SORT_ROLE, value[1])
            elif value is not None:
                item.setData(Qt.DisplayRole, value)
            self.table.setItem(row, column, item)
        self.table.item(row, PATH_COLUMN).setData(Qt.UserRole, str(entry.path))
        self.table.item(row, IMAGE_COLUMN).setToolTip(str(entry.path))
        self.table.item(row, 0).setText(READ_MARK if read else "")
        self.table.setSortingEnabled(True)
        self.progress.setValue(self.progress.value() + 1)

    def finish(self, summary: str) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setEnabled(False)
        self.summary.setText(summary)

    def path_at(self, row: int) -> Path:
        return Path(self.table.item(row, PATH_COLUMN).data(Qt.UserRole))

    def set_read(self, path: Path, read: bool) -> None:
        for row in range(self.table.rowCount()):
            if self.path_at(row) == path:
                self.table.item(row, 0).setText(READ_MARK if read else "")

    def paths(self, selected_only: bool = False) -> list[Path]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()}) if selected_only \
            else range(self.table.rowCount())
        return [self.path_at(row) for row in rows]

    def set_show_patient_data(self, show: bool) -> None:
        for column in IDENTIFYING_COLUMNS:
            self.table.setColumnHidden(column, not show)
