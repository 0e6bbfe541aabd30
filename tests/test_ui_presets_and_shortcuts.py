"""The chest presets and the shortcut editor in the window (pytest-qt, offscreen): key 2 windows the canvas
for the mediastinum, an edited preset and a changed key survive a new window, a key another action has is
refused by name; PNG/JPEG films dated in the session get a prior."""

import datetime

import numpy as np
import pytest
from PIL import Image
from PyQt5.QtCore import QDate, Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QDialogButtonBox
from ui_helpers import open_and_wait, shown_window, wait_for_image

from xraydesk.ui.film_dates_dialog import FilmDatesDialog
from xraydesk.ui.presets_dialog import PresetsDialog
from xraydesk.ui.shortcuts_dialog import ShortcutsDialog


@pytest.fixture
def film(make_dicom):
    return make_dicom("chest.dcm", np.add.outer(np.arange(256), np.arange(256)).astype(np.uint16) * 8,
                      bits_stored=12)


def window_with(qtbot, path):
    window = shown_window(qtbot)
    open_and_wait(qtbot, window, [path])
    wait_for_image(qtbot, window, path if path.is_file() else None)
    return window


def test_key_2_windows_the_mediastinum_and_an_edited_preset_survives_a_new_window(qtbot, film):
    window = window_with(qtbot, film)
    qtbot.keyClick(window.canvas, Qt.Key_2)
    display = window.reading.display
    assert window.canvas.view.window == display.preset_window((40, 400), (50, 100), "Mediastinum")
    window.actions["edit_presets"].trigger()
    dialog = window.findChild(PresetsDialog)
    dialog.boxes["mediastinum", "film_center"].setValue(60)
    dialog.boxes["mediastinum", "film_width"].setValue(20)
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Save).click()
    window.close()

    window = window_with(qtbot, film)  # reads the settings anew
    qtbot.keyClick(window.canvas, Qt.Key_2)
    edited = window.reading.display.preset_window((40, 400), (50, 70), "Mediastinum")
    assert window.canvas.view.window == edited != display.preset_window((40, 400), (50, 100), "Mediastinum")
    qtbot.keyClick(window.canvas, Qt.Key_4)
    assert window.canvas.view.window == window.reading.display.default_window()
    window.close()


def test_a_changed_shortcut_works_survives_a_new_window_and_a_taken_key_is_refused(qtbot, film):
    window = window_with(qtbot, film)
    qtbot.keyClick(window.canvas, Qt.Key_F1)
    dialog = window.findChild(ShortcutsDialog)
    dialog.editors["invert"].setKeySequence(QKeySequence("Ctrl+9"))
    dialog.editors["invert"].editingFinished.emit()
    dialog.editors["zoom_in"].setKeySequence(QKeySequence("F"))  # Fit to window's
    dialog.editors["zoom_in"].editingFinished.emit()
    assert "“Fit to window”" in dialog.message.text()
    assert dialog.key_of("zoom_in") == window.actions["zoom_in"].shortcut().toString() == "+"
    dialog.close()
    qtbot.keyClick(window.canvas, Qt.Key_9, Qt.ControlModifier)
    assert window.canvas.view.invert
    window.close()

    window = window_with(qtbot, film)
    assert window.actions["invert"].shortcut().toString() == "Ctrl+9"
    qtbot.keyClick(window.canvas, Qt.Key_9, Qt.ControlModifier)
    assert window.canvas.view.invert
    window.show_shortcuts()
    window.findChild(ShortcutsDialog).reset()
    assert window.actions["invert"].shortcut().toString() == "I"
    window.close()


def test_films_dated_in_the_dialog_get_a_prior_and_the_files_stay_untouched(qtbot, tmp_path):
    folder = tmp_path / "serial"
    folder.mkdir()
    for name in ("day-2.png", "day-1.png", "day-3.png"):
        Image.fromarray(np.full((32, 32), 90, np.uint8)).save(folder / name)
    before = {path: path.read_bytes() for path in folder.iterdir()}
    window = window_with(qtbot, folder)
    session = window.reading.session
    first, second, third = session.plain_films()
    window.actions["film_dates"].trigger()
    dialog = window.findChild(FilmDatesDialog)
    today = datetime.date.today()
    assert list(dialog.dates().values()) == [(today - datetime.timedelta(days=days)).strftime("%Y%m%d")
                                             for days in (2, 1, 0)]
    dialog.editors[first].setDate(QDate(2024, 1, 20))  # the reader's order, not the names'
    dialog.editors[second].setDate(QDate(2024, 1, 1))
    dialog.editors[third].setDate(QDate(2024, 1, 10))
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok).click()
    assert [study.study_date for study in session.prior_studies(first)] == ["20240110", "20240101"]
    assert session.prior_studies(second) == []
    window.actions["film_dates"].trigger()  # again: the dates as the reader left them
    assert window.findChild(FilmDatesDialog).dates()[first] == "20240120"
    window.close()
    assert before == {path: path.read_bytes() for path in folder.iterdir()}
