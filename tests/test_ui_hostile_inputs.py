"""The app with crafted hostile inputs (issue 10): every failure reaches the user and the scan and
thumbnails go on past it."""

import os

import numpy as np
import pytest
from PIL import Image
from ui_helpers import WAIT_MS, open_and_wait, shown_window

from xraydesk.imaging import session as session_module


@pytest.fixture
def window(qtbot):
    main_window = shown_window(qtbot)
    yield main_window
    main_window.close()


def gray_pngs(folder, names):
    folder.mkdir(exist_ok=True)
    for name in names:
        Image.fromarray(np.full((16, 16), 100, dtype=np.uint8)).save(folder / name)
    return [folder / name for name in names]


def thumbnails_done(window, paths) -> bool:
    """Each image has its thumbnail or an error (which replaces its format in the Details column)."""
    items = window.browser._image_items
    return all(path in items and (not items[path].icon(0).isNull() or items[path].text(1) != "PNG")
               for path in paths)


def test_an_unexpected_thumbnail_failure_is_shown_and_the_next_images_get_theirs(qtbot, window, tmp_path,
                                                                                 monkeypatch):
    paths = gray_pngs(tmp_path, ["a.png", "b.png", "c.png"])
    real_make_thumbnail = session_module.make_thumbnail

    def failing_for_a(display):
        if display.image.path.name == "a.png":
            raise ValueError("cannot convert float NaN to integer")
        return real_make_thumbnail(display)

    monkeypatch.setattr(session_module, "make_thumbnail", failing_for_a)
    open_and_wait(qtbot, window, [tmp_path])
    qtbot.waitUntil(lambda: thumbnails_done(window, paths), timeout=WAIT_MS)
    items = window.browser._image_items
    assert items[paths[0]].text(1) == "ValueError: cannot convert float NaN to integer"
    assert not items[paths[1]].icon(0).isNull() and not items[paths[2]].icon(0).isNull()
    qtbot.waitUntil(window.workers.is_idle, timeout=WAIT_MS)


def test_link_loops_fifos_bad_rescale_values_and_odd_names_neither_stop_nor_crash_the_app(qtbot, window, tmp_path,
                                                                                          make_dicom):
    scanned = tmp_path / "scanned"
    odd = os.fsdecode(b"bad\xff.png")  # not UTF-8
    gray_pngs(scanned, ["own.png", odd])
    gray_pngs(tmp_path / "elsewhere", ["linked.png"])
    (scanned / "link").symlink_to(tmp_path / "elsewhere")
    (scanned / "self.dcm").symlink_to(scanned / "self.dcm")
    os.mkfifo(scanned / "fifo.dcm")
    nan = make_dicom("nan.dcm", RescaleSlope="NaN", RescaleIntercept="0")
    os.replace(nan, scanned / "nan.dcm")
    open_and_wait(qtbot, window, [scanned])
    nan_path = scanned / "nan.dcm"
    qtbot.waitUntil(lambda: window.browser._image_items[nan_path].text(1) != "DICOM", timeout=WAIT_MS)
    assert window.browser._image_items[nan_path].text(1).startswith("invalid rescale values")
    assert {path.name for path in window.browser.image_paths()} == {"own.png", odd, "linked.png", "nan.dcm"}
    qtbot.waitUntil(lambda: not window.browser._image_items[scanned / odd].icon(0).isNull(), timeout=WAIT_MS)
    assert window.browser.skipped_count() == 2  # the link loop and the FIFO
    qtbot.waitUntil(window.workers.is_idle, timeout=WAIT_MS)
