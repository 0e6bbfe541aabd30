"""File ▸ Export ▸ De-identified DICOM: the study browser's images are exported on a worker by the command's
function (tests/test_export_deidentified.py checks the profile itself); a folder among the inputs is refused."""

import shutil

import pydicom
import pytest
from fakes import FakeAnalyser
from PyQt5.QtWidgets import QFileDialog, QMenu
from ui_helpers import WAIT_MS, open_and_wait, shown_window

STUDY = ["dicomdir/77654033/CR1/6154", "dicomdir/77654033/CR2/6247"]


@pytest.fixture
def window(qtbot):
    window = shown_window(qtbot, FakeAnalyser())
    yield window
    window.close()


@pytest.fixture
def study(dicom_dir, tmp_path):
    """Copies of two shared images of one study (the window may write beside what it opens)."""
    folder = tmp_path / "study"
    folder.mkdir()
    for name in STUDY:
        shutil.copyfile(dicom_dir / name, folder / name.replace("/", "-"))
    return folder


def test_the_menu_exports_the_browsers_images_de_identified(qtbot, window, study, tmp_path, monkeypatch):
    open_and_wait(qtbot, window, [study])
    [file_menu] = [action.menu() for action in window.menuBar().actions() if action.text() == "&File"]
    [export_menu] = [action.menu() for action in file_menu.actions() if isinstance(action.menu(), QMenu)
                     and action.text() == "&Export"]
    [action] = [action for action in export_menu.actions() if action.text() == "&De-identified DICOM…"]
    out = tmp_path / "out"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(out))
    action.trigger()
    qtbot.waitUntil(lambda: "wrote" in window.status_label.text(), timeout=WAIT_MS)
    assert "wrote 2 de-identified DICOM files (1 study)" in window.status_label.text()
    copies = [pydicom.dcmread(path) for path in out.rglob("*.dcm")]
    assert {copy.PatientIdentityRemoved for copy in copies} == {"YES"}
    assert len({copy.StudyInstanceUID for copy in copies}) == 1 and "Doe" not in str(copies[0].PatientName)


def test_a_folder_holding_the_images_is_refused_and_said(qtbot, window, study, monkeypatch):
    open_and_wait(qtbot, window, [study])
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(study.parent))
    window.export_deidentified_dicom()
    qtbot.waitUntil(lambda: "stopped" in window.status_label.text(), timeout=WAIT_MS)
    assert "lies inside" in window.status_label.text()
    assert sorted(path.parent for path in study.parent.rglob("*") if path.is_file()) == [study, study]
