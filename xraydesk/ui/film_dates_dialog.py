"""Analysis ▸ Set dates of PNG/JPEG films: a date for each open film without one (one day apart in file-name
order at first), kept in the session only (xraydesk.imaging.session.StudySession.date_films)."""

from pathlib import Path

from PyQt5.QtCore import QDate
from PyQt5.QtWidgets import QDateEdit, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

DATE_FORMAT = "yyyyMMdd"  # DICOM DA, as the session keeps it
EXPLANATION = ("PNG and JPEG films carry no date. Dated here (in this session only: the files are not changed), "
               "the films count as one patient, named after their folder, and compare and the trend order them.")


class FilmDatesDialog(QDialog):
    def __init__(self, dates: dict[Path, str], parent: QWidget | None = None):
        super().__init__(parent, windowTitle="Dates of PNG/JPEG films")
        form = QFormLayout()
        self.editors: dict[Path, QDateEdit] = {}
        for path, date in dates.items():
            self.editors[path] = editor = QDateEdit(QDate.fromString(date, DATE_FORMAT), calendarPopup=True,
                                                    displayFormat="yyyy-MM-dd")
            form.addRow(path.name, editor)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(EXPLANATION, wordWrap=True))
        layout.addLayout(form)
        layout.addWidget(buttons)

    def dates(self) -> dict[Path, str]:
        return {path: editor.date().toString(DATE_FORMAT) for path, editor in self.editors.items()}
