"""The Open rule in the window (pytest-qt, offscreen): after opening a second folder, the browser, the
worklist and File ▸ Export ▸ "Every analysed image" show that folder only; Add folder adds to it. Every
page of the PDF shows one patient and says which patient and study it is, as a pseudonym on
de-identified pages ("Patient 2 of 3, study 1 of 2")."""

import re
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
from fakes import FakeAnalyser
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QDialog, QFileDialog
from ui_helpers import WAIT_MS, open_and_wait, shown_window

from xraydesk.ui.export_dialog import ExportScopeDialog

# folder -> (file, Patient ID, Study Instance UID, Study Date); in "second", patient B2 has two studies
FILMS = {
    "first": [("old-a", "A1", "1.1.1", "20240101"), ("old-b", "A2", "1.1.2", "20240102"),
              ("old-c", "A3", "1.1.3", "20240103")],
    "second": [("new-a", "B1", "1.2.1", "20240201"), ("new-b", "B2", "1.2.2", "20240202"),
               ("new-c", "B2", "1.2.3", "20240209"), ("new-d", "B3", "1.2.4", "20240203")],
}


@pytest.fixture
def folders(make_dicom, tmp_path):
    pixels = np.add.outer(np.arange(224), np.arange(280)).astype(np.uint16)
    for folder, films in FILMS.items():
        (tmp_path / folder).mkdir()
        for name, patient, study, date in films:
            make_dicom(f"{folder}/{name}.dcm", pixels, PatientName=f"Name^{patient}", PatientID=patient,
                       StudyInstanceUID=study, SeriesInstanceUID=f"{study}.1", StudyDate=date)
    return {folder: tmp_path / folder for folder in FILMS}


class TrendLimitsAnalyser(FakeAnalyser):
    """The fake model with "no clear change" limits in its metadata: the summary has a trend page."""

    def model(self):
        limits = {"geographic_extent": 1.0, "six_zone_score": 1.0, "p_pneumonia": 0.5}
        return SimpleNamespace(version="Fake CXR 0.0", metadata={"trend": {"no_clear_change": limits}})


@pytest.fixture
def window(qtbot):
    window = shown_window(qtbot, TrendLimitsAnalyser())
    yield window
    window.close()


def open_and_analyse(qtbot, window, folder, replace=True):
    open_and_wait(qtbot, window, [folder]) if replace else window.open_paths([folder], replace=False)
    qtbot.waitUntil(window.workers.is_idle, timeout=WAIT_MS)
    with qtbot.waitSignal(window.analysis.worklistFinished, timeout=WAIT_MS):
        window.analyse_all()


def export_every_analysed_image(qtbot, window, target, monkeypatch):
    """File ▸ Export PDF summary (Ctrl+E), choosing "Every analysed image"."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), "PDF (*.pdf)"))

    def every_analysed_image(dialog):
        next(button for button in dialog.buttons.buttons() if button.property("scope") == "all").setChecked(True)
        return QDialog.Accepted

    monkeypatch.setattr(ExportScopeDialog, "exec_", every_analysed_image)
    qtbot.keyClick(window.canvas, Qt.Key_E, Qt.ControlModifier)
    qtbot.waitUntil(lambda: target.exists() and window.workers.is_idle(), timeout=WAIT_MS)


def page_texts(path) -> list[str]:
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return [" ".join(page.split()) for page in text.split("\f") if page.strip()]


def test_after_opening_a_second_folder_export_worklist_and_browser_show_that_folder_only(qtbot, window, folders,
                                                                                         tmp_path, monkeypatch):
    window.actions["deidentify_pdf"].setChecked(False)
    open_and_analyse(qtbot, window, folders["first"])
    open_and_analyse(qtbot, window, folders["second"])
    second = sorted(folders["second"].glob("*.dcm"))
    assert sorted(window.browser.image_paths()) == second
    assert sorted(window.worklist.paths()) == second
    assert sorted(window.reading.analyses) == second

    export_every_analysed_image(qtbot, window, tmp_path / "second.pdf", monkeypatch)
    pages = page_texts(tmp_path / "second.pdf")
    assert len(pages) == len(second) + 1  # and the trend page of B2's two studies
    everything = " ".join(pages)
    assert all(f"Name^B{n}" in everything for n in (1, 2, 3))
    assert not re.search(r"Name\^A|old-", everything)

    open_and_analyse(qtbot, window, folders["first"], replace=False)  # File ▸ Add folder adds
    assert len(window.reading.analyses) == len(second) + 3 and window.worklist.table.rowCount() == 7


def test_every_page_shows_one_patient_and_says_which_study_by_pseudonym_when_de_identified(qtbot, window, folders,
                                                                                           tmp_path, monkeypatch):
    open_and_analyse(qtbot, window, folders["second"])
    export_every_analysed_image(qtbot, window, tmp_path / "summary.pdf", monkeypatch)
    pages = page_texts(tmp_path / "summary.pdf")
    named = [sorted(set(re.findall(r"Patient (\d) of 3", page))) for page in pages]
    assert all(len(numbers) == 1 for numbers in named)  # never two patients on one page
    studies = sorted(re.search(r"Patient \d of 3, study \d of \d", page).group() for page in pages[:-1])
    assert studies == ["Patient 1 of 3, study 1 of 1", "Patient 2 of 3, study 1 of 2", "Patient 2 of 3, study 2 of 2",
                       "Patient 3 of 3, study 1 of 1"]
    assert "Patient 2 of 3: 2 analysed studies" in pages[-1]  # the trend page
    for private in ("Name^", "B1", "B2", "2024", "new-"):
        assert private not in " ".join(pages)
