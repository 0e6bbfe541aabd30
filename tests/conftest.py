"""Shared fixtures: the real DICOM data beside the repo, synthetic DICOM files, and for the tests that use
Qt (those taking pytest-qt's qtbot) their own settings folder and a guard that fails any test leaving a
QThread running (as napari does). The other tests run without Qt fixtures."""

from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_files import DATA_DIR, write_dicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    generate_uid,
)


@pytest.fixture(autouse=True)
def qt_guards(request):
    """The Qt fixtures below, for the tests that use Qt only."""
    if "qtbot" in request.fixturenames or "qapp" in request.fixturenames:
        request.getfixturevalue("settings_in_tmp")
        request.getfixturevalue("no_qthread_left_running")


@pytest.fixture
def settings_in_tmp(tmp_path_factory):
    """The app's remembered settings (recent files, options) go to a fresh folder per test."""
    from PyQt5.QtCore import QSettings

    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path_factory.mktemp("settings")))


@pytest.fixture(autouse=True)
def user_folders_in_tmp(tmp_path, monkeypatch):
    """PACS settings, the local store and desktop files go to temporary folders, never to the user's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture(scope="session")
def dicom_dir() -> Path:
    folder = DATA_DIR / "dicom"
    if not folder.is_dir():
        pytest.skip(f"shared DICOM data not found at {folder} (set XRAYDESK_DATA)")
    return folder


@pytest.fixture
def make_dicom(tmp_path):
    def make(name: str, pixels: np.ndarray | None = None, **kwargs) -> Path:
        if pixels is None:
            pixels = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
        return write_dicom(tmp_path / name, pixels, **kwargs)

    return make


@pytest.fixture
def make_pixelless_dicom(tmp_path):
    def make(name: str, sop_class=CTImageStorage) -> Path:
        dataset = Dataset()
        dataset.file_meta = FileMetaDataset()
        dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = sop_class
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
        dataset.save_as(tmp_path / name, enforce_file_format=True)
        return tmp_path / name

    return make


@pytest.fixture
def no_qthread_left_running(monkeypatch):
    """Fails a test that leaves a QThread running; such a thread aborts the whole run later."""
    from PyQt5 import sip
    from PyQt5.QtCore import QThread

    started: list[QThread] = []
    original_start = QThread.start

    def tracking_start(thread, *args):
        started.append(thread)
        original_start(thread, *args)

    monkeypatch.setattr(QThread, "start", tracking_start)
    yield
    running = [thread for thread in started if not sip.isdeleted(thread) and thread.isRunning()]
    for thread in running:
        thread.requestInterruption()
        thread.quit()
        thread.wait(10_000)
    assert not running, f"test left {len(running)} QThread(s) running"
