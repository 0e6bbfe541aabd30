"""Faster first paint: a reduced-resolution preview replaced by the full image without a change of
view, window/level dragged on a reduced frame with the exact full render on release, and the app's
work after its first paint."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dicom_files import REPO_ROOT
from PyQt5.QtCore import QEvent, QPoint, Qt
from PyQt5.QtWidgets import QWidget
from ui_helpers import mouse, shown_canvas

from xraydesk.imaging import ImageDisplay, Preview, Window, XRayImage, load_image
from xraydesk.ui.app import QUIT_ON_FIRST_PAINT, FirstPaint


@pytest.fixture
def canvas(qtbot):
    return shown_canvas(qtbot)


@pytest.fixture(scope="module")
def rg1_preview_and_full(dicom_dir):
    """The lossless JPEG 2000 film of the issue, loaded with its preview."""
    previews = []
    full = load_image(dicom_dir / "wg04/RG1_J2KR.dcm", on_preview=previews.append)
    assert len(previews) == 1
    return previews[0], full


def synthetic(pixels: np.ndarray, name: str = "synthetic.dcm") -> XRayImage:
    return XRayImage(path=Path(name), pixels=pixels.astype(np.float32), source_format="DICOM", bits_stored=12)


def test_full_image_replaces_its_preview_keeping_zoom_pan_and_window(qtbot, canvas, rg1_preview_and_full, dicom_dir):
    preview, full = rg1_preview_and_full
    painted = []
    canvas.imagePainted.connect(painted.append)
    canvas.show_preview(preview)
    canvas.grab()
    assert painted == [preview.image] and canvas.image is None  # nothing analyses or measures a preview
    assert canvas.image_size == (1841, 1955) and canvas.displayed_pixels().shape == (978, 921)
    assert "Preview (1/2 resolution)" in canvas.annotation_lines()["bottom_right"]
    assert canvas.view.window == full.header_windows[0]
    canvas.zoom_by(2.0, 150, 100)
    canvas.set_invert(True)
    view = canvas.view

    canvas.set_image(full)
    canvas.grab()
    assert painted[-1] is full and canvas.image is full and canvas.view == view
    assert not any("Preview" in line for line in canvas.annotation_lines()["bottom_right"])
    direct = ImageDisplay(load_image(dicom_dir / "wg04/RG1_J2KR.dcm"))
    np.testing.assert_array_equal(canvas.displayed_pixels(), direct.render(direct.default_window(), invert=True))


def test_preview_draws_over_the_full_images_area(qtbot, canvas, rg1_preview_and_full):
    """The preview's pixels cover the same screen rectangle as the full image's."""
    preview, full = rg1_preview_and_full
    canvas.show_preview(preview)
    on_screen_preview = canvas.grab().toImage()
    canvas.set_image(full)
    on_screen_full = canvas.grab().toImage()
    transform = canvas.view.transform
    for x, y in ((5, 5), (1835, 1950), (920, 600)):  # image corners and a point inside
        screen_x, screen_y = (round(value) for value in transform.image_to_screen(x + 0.5, y + 0.5))
        assert on_screen_preview.pixelColor(screen_x, screen_y).value() > 0
    outside_x, outside_y = transform.image_to_screen(-4, 900)
    assert on_screen_preview.pixelColor(int(outside_x), int(outside_y)).value() == 0
    assert on_screen_full.pixelColor(int(outside_x), int(outside_y)).value() == 0


def test_an_untouched_automatic_window_becomes_the_full_images_own_and_a_changed_one_stays(canvas):
    rng = np.random.default_rng(1)
    full = synthetic(rng.integers(0, 4096, (64, 64)))
    preview = Preview(synthetic(full.pixels[::2, ::2] + 7), 2, 64, 64)  # its auto window differs a little

    canvas.show_preview(preview)
    canvas.set_image(full)
    assert canvas.view.window == ImageDisplay(full).auto_window()

    canvas.show_message("Opening…")
    canvas.show_preview(preview)
    chosen = Window(1000, 500, label="Manual")
    canvas.set_window(chosen)
    canvas.set_image(full)
    assert canvas.view.window == chosen


def test_a_preview_of_the_image_on_screen_is_ignored(canvas):
    full = synthetic(np.arange(64 * 64).reshape(64, 64))
    canvas.set_image(full)
    canvas.show_preview(Preview(synthetic(full.pixels[::2, ::2]), 2, 64, 64))
    assert canvas.image is full and canvas.preview is None


def test_window_level_drag_renders_a_reduced_frame_and_the_exact_full_one_on_release(qtbot, canvas):
    image = synthetic(np.random.default_rng(2).integers(0, 4096, (1024, 1024)))
    canvas.set_image(image)
    assert canvas.view.transform.scale < 0.5  # 500 px for 1024: a quarter of the pixels is enough while dragging
    start, end = QPoint(300, 250), QPoint(340, 230)
    mouse(canvas, QEvent.MouseButtonPress, start, Qt.RightButton, Qt.RightButton)
    mouse(canvas, QEvent.MouseMove, end, Qt.NoButton, Qt.RightButton)
    dragged = canvas.view.window
    assert dragged != canvas.display.default_window()
    np.testing.assert_array_equal(canvas.displayed_pixels(), canvas.display.render(dragged, reduction=2))
    canvas.grab()

    mouse(canvas, QEvent.MouseButtonRelease, end, Qt.RightButton, Qt.NoButton)
    assert canvas.view.window == dragged
    np.testing.assert_array_equal(canvas.displayed_pixels(), ImageDisplay(image).render(dragged))


def test_first_paint_callback_runs_once_after_the_widget_has_painted(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    calls = []
    FirstPaint(widget, lambda: calls.append(widget.isVisible()))
    assert calls == []
    widget.show()
    qtbot.waitUntil(lambda: calls == [True])
    widget.repaint()
    qtbot.wait(20)
    assert calls == [True]


def test_the_app_reports_its_first_paint_and_quits_for_the_cold_start_bench():
    environment = {**os.environ, QUIT_ON_FIRST_PAINT: "1", "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-m", "xraydesk"], capture_output=True, text=True, timeout=120,
                            cwd=REPO_ROOT, env=environment, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "painted"
