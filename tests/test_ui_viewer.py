"""The viewer window under pytest-qt (offscreen): opening, browsing, window/level, zoom, invert,
overlays, bad input. Assertions are on view state and on rendered pixels."""


from pathlib import Path

import numpy as np
import pytest
from dicom_files import REPO_ROOT
from fakes import synthetic_analysis
from PyQt5.QtCore import QEvent, QMimeData, QPoint, QPointF, QRectF, Qt, QUrl
from PyQt5.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QFont,
    QFontMetricsF,
    QWheelEvent,
)
from PyQt5.QtWidgets import QApplication, QDialog, QTableWidget
from ui_helpers import (
    WAIT_MS,
    canvas_pixels,
    drag,
    mouse,
    open_and_wait,
    shown_canvas,
    shown_window,
    wait_for_image,
)

from xraydesk.ai import overlays
from xraydesk.ai.overlay_plan import zone_plan
from xraydesk.ai.words import six_zone_words
from xraydesk.imaging import (
    IMAGE,
    Orientation,
    fit_transform,
    load_image,
    render_default,
    scan_paths,
)
from xraydesk.ui.browser import PATH_ROLE
from xraydesk.ui.canvas import OverlayLayer, qtransform
from xraydesk.ui.main_window import MainWindow
from xraydesk.ui.overlays import LABEL_POINT_SIZE, ZoneLayer, label_box, placed_labels


@pytest.fixture
def window(qtbot):
    main_window = shown_window(qtbot)  # viewer behaviour alone; analysis has its own tests
    yield main_window
    main_window.close()


def test_open_folder_lists_images_in_order_with_thumbnails_and_shows_one(qtbot, window, dicom_dir):
    folder = dicom_dir / "rsna"
    open_and_wait(qtbot, window, [folder])
    wait_for_image(qtbot, window)
    expected = [entry.path for entry in scan_paths([folder]) if entry.kind == IMAGE]
    assert window.browser.image_paths() == expected
    assert all(not window.browser._image_items[path].icon(0).isNull() for path in expected)
    assert window.browser.skipped_count() == 1  # boxes.csv
    shown = window.canvas.image
    np.testing.assert_array_equal(window.canvas.displayed_pixels(), render_default(load_image(shown.path)))
    assert window.browser_dock.windowTitle() == "Studies — 29 images, 1 skipped"
    # The browser re-sorted as the scan went on: the image shown is still the one selected, and in sight.
    current = window.browser.currentItem()
    assert Path(current.data(0, PATH_ROLE)) == shown.path
    assert window.browser.viewport().rect().intersects(window.browser.visualItemRect(current))


def test_selecting_an_image_shows_it_and_its_tags(qtbot, window, dicom_dir):
    open_and_wait(qtbot, window, [dicom_dir / "wg04"])
    target = dicom_dir / "wg04" / "RG1_J2KR.dcm"
    window.browser.select_path(target)
    wait_for_image(qtbot, window, target)
    window.tag_view.search.setText("transfer syntax")
    assert window.tag_view.visible_tags() == ["(0002,0010)"]
    assert window.canvas.view.window.center == 15000


def test_right_drag_changes_window_level_and_the_rendered_image(qtbot, window, dicom_dir):
    path = next((dicom_dir / "rsna").glob("*.dcm"))
    open_and_wait(qtbot, window, [path])
    wait_for_image(qtbot, window)
    canvas = window.canvas
    before_window, before_pixels = canvas.view.window, canvas.displayed_pixels().copy()
    centre = QPoint(canvas.width() // 2, canvas.height() // 2)
    drag(canvas, Qt.RightButton, centre, centre + QPoint(80, 60))
    after = canvas.view.window
    assert after.width > before_window.width and after.center > before_window.center
    assert canvas.displayed_pixels().mean() < before_pixels.mean() - 5  # higher level: darker
    assert f"WC {after.center:.0f}" in window.view_label.text()
    assert f"WC {after.center:g}" in canvas.annotation_lines()["bottom_left"][-1]


def test_left_drag_pans_unless_in_window_level_mode(qtbot, window, dicom_dir):
    open_and_wait(qtbot, window, [dicom_dir / "barre" / "CR-MONO1-10-chest"])
    wait_for_image(qtbot, window)
    canvas = window.canvas
    start = canvas.view
    drag(canvas, Qt.LeftButton, QPoint(300, 300), QPoint(340, 310))
    assert canvas.view.transform.offset_x == pytest.approx(start.transform.offset_x + 40)
    assert canvas.view.window == start.window
    window.actions["window_mode"].trigger()
    drag(canvas, Qt.LeftButton, QPoint(300, 300), QPoint(360, 300))
    assert canvas.view.window.width > start.window.width


def test_wheel_zooms_around_the_cursor_and_keys_fit_and_show_1_to_1(qtbot, window, dicom_dir):
    open_and_wait(qtbot, window, [dicom_dir / "wg04" / "RG1_UNCR.dcm"])
    wait_for_image(qtbot, window)
    canvas = window.canvas
    fitted_scale = canvas.view.transform.scale
    cursor = QPointF(400, 300)
    under_cursor = canvas.view.transform.screen_to_image(cursor.x(), cursor.y())
    QApplication.sendEvent(canvas, QWheelEvent(cursor, canvas.mapToGlobal(cursor.toPoint()), QPoint(), QPoint(0, 240),
                                               Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False))  # fmt: skip
    assert canvas.view.transform.scale == pytest.approx(fitted_scale * 1.25**2)
    assert canvas.view.transform.screen_to_image(cursor.x(), cursor.y()) == pytest.approx(under_cursor)
    qtbot.keyClick(canvas, Qt.Key_0)
    assert canvas.view.transform.scale == 1.0
    qtbot.keyClick(canvas, Qt.Key_F)
    assert canvas.view.transform.scale == pytest.approx(fitted_scale)


def test_one_to_one_shows_the_windowed_pixels_exactly(qtbot, window, dicom_dir):
    open_and_wait(qtbot, window, [dicom_dir / "barre" / "gdcm-CR-MONO1-10-chest.dcm"])
    wait_for_image(qtbot, window)
    canvas = window.canvas
    qtbot.keyClick(canvas, Qt.Key_0)
    screen = canvas_pixels(canvas)
    x0, y0 = canvas.width() // 2 - 40, canvas.height() // 2 - 40
    image_x, image_y = (int(v) for v in canvas.view.transform.screen_to_image(x0, y0))
    expected = canvas.displayed_pixels()[image_y : image_y + 80, image_x : image_x + 80]
    np.testing.assert_array_equal(screen[y0 : y0 + 80, x0 : x0 + 80, 0], expected)


def test_invert_presets_and_reset(qtbot, window, dicom_dir):
    open_and_wait(qtbot, window, [dicom_dir / "canon"])
    wait_for_image(qtbot, window)
    canvas = window.canvas
    default = canvas.displayed_pixels().copy()
    qtbot.keyClick(canvas, Qt.Key_I)
    assert canvas.view.invert and window.actions["invert"].isChecked()
    np.testing.assert_array_equal(canvas.displayed_pixels(), 255 - default)
    for key, label in [(Qt.Key_6, "Auto"), (Qt.Key_7, "Full range"), (Qt.Key_1, "Lung"), (Qt.Key_2, "Mediastinum"),
                       (Qt.Key_3, "Bone")]:
        qtbot.keyClick(canvas, key)
        assert canvas.view.window.label == label
    qtbot.keyClick(canvas, Qt.Key_5)
    assert canvas.view.window == canvas.image.header_windows[0]
    qtbot.keyClick(canvas, Qt.Key_0)
    qtbot.keyClick(canvas, Qt.Key_R)
    assert not canvas.view.invert and canvas.view.fitted
    np.testing.assert_array_equal(canvas.displayed_pixels(), default)


def test_hide_patient_data_removes_it_from_the_corners(qtbot, window, dicom_dir):
    open_and_wait(qtbot, window, [dicom_dir / "dicomdir" / "77654033" / "CR1"])
    wait_for_image(qtbot, window)
    canvas = window.canvas
    text = lambda: "\n".join(line for lines in canvas.annotation_lines().values() for line in lines)
    assert "Doe^Archibald" in text() and "77654033" in text()
    browser_labels = lambda: [item.text(0) for item in window.browser.findItems("", Qt.MatchContains | Qt.MatchRecursive)]
    assert any("Doe Archibald" in label for label in browser_labels())
    qtbot.keyClick(canvas, Qt.Key_D)
    assert "Doe" not in text() and "77654033" not in text() and "1995" not in text()
    assert "WC" in text()
    assert not any("Doe" in label or "1995" in label for label in browser_labels())
    assert window.tag_view.visible_tags() == []
    qtbot.keyClick(canvas, Qt.Key_D)
    assert "Doe^Archibald" in text() and any("Doe Archibald" in label for label in browser_labels())
    assert "(0010,0010)" in window.tag_view.visible_tags()


def test_tag_search_finds_elements_inside_sequences(qtbot, window, dicom_dir):
    open_and_wait(qtbot, window, [dicom_dir / "canon"])
    wait_for_image(qtbot, window)
    window.tag_view.search.setText("referenced sop instance")
    assert window.tag_view.visible_tags() == ["(0008,2112)", "(0008,1155)"]  # the sequence and its item's element


class Square(OverlayLayer):
    """A red square at image pixels (100..120, 50..70)."""

    def paint(self, painter, image):
        painter.fillRect(100, 50, 20, 20, QColor(255, 0, 0))


def test_overlay_layer_stays_registered_to_the_image_under_zoom_and_pan(qtbot, window, dicom_dir):
    open_and_wait(qtbot, window, [dicom_dir / "barre" / "CR-MONO1-10-chest"])
    wait_for_image(qtbot, window)
    canvas = window.canvas
    canvas.add_overlay(Square())
    canvas.zoom_by(1.7, 123, 77)
    drag(canvas, Qt.MiddleButton, QPoint(200, 200), QPoint(260, 230))
    screen = canvas_pixels(canvas)
    inside = canvas.view.transform.image_to_screen(110, 60)
    outside = canvas.view.transform.image_to_screen(110, 90)
    assert tuple(screen[int(inside[1]), int(inside[0])]) == (255, 0, 0)
    assert tuple(screen[int(outside[1]), int(outside[0])]) != (255, 0, 0)


def test_bad_files_show_a_message_naming_the_file_and_the_app_keeps_working(qtbot, window, dicom_dir, tmp_path):
    (tmp_path / "empty.dcm").write_bytes(b"")
    open_and_wait(qtbot, window, [tmp_path / "empty.dcm"])
    assert "empty.dcm: file is empty (0 bytes)" in window.canvas.message
    truncated = tmp_path / "cut.dcm"
    truncated.write_bytes((dicom_dir / "wg04" / "RG1_UNCR.dcm").read_bytes()[:3_000_000])
    open_and_wait(qtbot, window, [truncated])
    assert window.canvas.image is None and "cut.dcm: " in window.canvas.message
    assert "truncated" in window.canvas.message
    good = dicom_dir / "barre" / "gdcm-CR-MONO1-10-chest.dcm"
    open_and_wait(qtbot, window, [good])
    wait_for_image(qtbot, window, good)


def test_dropped_files_are_opened_and_remembered_as_recent(qtbot, window, dicom_dir):
    path = dicom_dir / "siim"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    # Called directly: QApplication routes drop events only while a real drag is in progress.
    enter = QDragEnterEvent(QPoint(50, 50), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    window.dropEvent(QDropEvent(QPointF(50, 50), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    wait_for_image(qtbot, window)
    qtbot.waitUntil(window.workers.is_idle, timeout=WAIT_MS)
    assert window.canvas.image.path.parent == path.resolve()
    assert window.recent_paths()[0] == str(path.resolve())
    assert [action.text() for action in window.recent_menu.actions()] == [str(path.resolve())]


def test_closing_during_a_scan_leaves_no_thread_running(qtbot, dicom_dir):
    main_window = MainWindow()
    main_window.actions["auto_analyse"].setChecked(False)  # viewer behaviour alone; analysis has its own tests
    qtbot.addWidget(main_window)
    main_window.open_paths([dicom_dir])
    main_window.close()
    assert main_window.workers.is_idle()


def test_shortcuts_dialog_lists_every_shortcut_and_the_readme_documents_them(qtbot, window):
    qtbot.keyClick(window.canvas, Qt.Key_F1)
    dialog = window.findChild(QDialog)
    table = dialog.findChild(QTableWidget)
    keys = [table.cellWidget(row, 0).keySequence().toString() if table.cellWidget(row, 0) else table.item(row, 0).text()
            for row in range(table.rowCount())]  # every action, those without a key too: the reader may give one
    assert [key for key in keys if key] == [key for key, _ in window.shortcut_table()]
    assert {"F", "0", "1", "2", "3", "4", "5", "6", "7", "I", "R", "D", "Ctrl+O"} <= set(keys)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for key, action in window.shortcut_table():
        assert f"| `{key}` | {action} |" in readme
    dialog.close()


# ------------------------------------------------------------ the canvas alone: rotation, flips, corners, cursor


@pytest.fixture
def canvas(qtbot):
    return shown_canvas(qtbot, (600, 400))


ORIENTATIONS = [Orientation(turns, horizontal, False) for turns in range(4) for horizontal in (False, True)]


@pytest.mark.parametrize("orientation", ORIENTATIONS, ids=str)
def test_every_orientation_maps_image_to_screen_and_back_and_fits_the_turned_image(orientation):
    transform = fit_transform(300, 200, 400, 600, orientation)  # turned a quarter, it fills the view exactly
    for point in ((0, 0), (300, 200), (12.5, 170.25)):
        assert transform.screen_to_image(*transform.image_to_screen(*point)) == pytest.approx(point)
    corners = np.array([transform.image_to_screen(x, y) for x in (0, 300) for y in (0, 200)])
    assert corners.min(axis=0) == pytest.approx((0, 0) if orientation.quarter_turns % 2 else (0, 500 / 3))
    assert corners.max(axis=0) == pytest.approx((400, 600) if orientation.quarter_turns % 2 else (400, 1300 / 3))


def test_rotating_and_flipping_move_the_overlays_with_the_image(qtbot, canvas, make_dicom):
    stored = np.arange(200 * 300, dtype=np.uint16).reshape(200, 300)
    canvas.set_image(load_image(make_dicom("ramp.dcm", stored)))
    canvas.add_overlay(Square())
    upright = canvas.view.transform.image_to_screen(110, 60)
    canvas.rotate(1)
    assert canvas.view.transform.orientation.quarter_turns == 1 and canvas.view.fitted
    turned = canvas.view.transform.image_to_screen(110, 60)
    assert turned[0] > canvas.width() / 2 and turned[1] < canvas.height() / 2  # top-left goes to top-right
    screen = canvas_pixels(canvas)
    assert tuple(screen[int(turned[1]), int(turned[0])]) == (255, 0, 0)
    assert tuple(screen[int(upright[1]), int(upright[0])]) != (255, 0, 0)
    assert "Rotated 90°" in canvas.annotation_lines()["bottom_left"]
    canvas.zoom_by(1.5, 100, 100)
    canvas.flip(horizontal=True)
    flipped = canvas.view.transform.image_to_screen(110, 60)
    assert tuple(canvas_pixels(canvas)[int(flipped[1]), int(flipped[0])]) == (255, 0, 0)
    assert canvas.annotation_lines()["bottom_left"][-2:] == ["Rotated 90°", "Flipped H"]
    canvas.reset_view()
    assert canvas.view.transform.orientation == Orientation()
    np.testing.assert_array_equal(canvas.image.pixels, stored)  # the image itself (what the AI sees) never turns


def test_zone_labels_sit_beyond_the_lateral_edge_on_screen_whatever_the_rotation(canvas, make_dicom):
    canvas.set_image(load_image(make_dicom("dark.dcm", np.zeros((224, 224), np.uint16))))
    anchors = overlays.zone_label_anchors(synthetic_analysis(canvas.image.path), (224, 224))
    (x, y), side = anchors["RU"]
    assert side == -1 and x == pytest.approx(30)  # lungs_224's right lung starts at column 30
    bounds = QRectF(0, 0, canvas.width(), canvas.height())
    for turns, away in ((0, (-1, 0)), (1, (0, -1)), (2, (1, 0)), (3, (0, 1))):
        if turns:
            canvas.rotate(1)
        transform = qtransform(canvas.view.transform)
        anchor = transform.map(QPointF(x, y))
        box = label_box(transform, (x, y), side, 40, 12, bounds)
        shift = box.center() - anchor
        assert np.sign([round(shift.x()), round(shift.y())]).tolist() == list(away)
        assert not box.contains(anchor)


def test_zone_labels_keep_clear_of_the_corner_texts_when_zoomed_in(canvas, make_dicom):
    canvas.set_image(load_image(make_dicom("p.dcm", np.zeros((224, 224), np.uint16), PatientName="Doe^Jane",
                                           PatientID="P1", StudyDate="20200402", ViewPosition="AP")))
    zones = ZoneLayer()
    zones.set_analysis(synthetic_analysis(canvas.image.path))
    canvas.add_overlay(zones)
    canvas.zoom_by(1.6, canvas.width() / 2, canvas.height() / 2)  # the lower zones' labels reach the bottom corners
    canvas.grab()  # a paint: the canvas hands the layer the area clear of its corner texts
    transform = qtransform(canvas.view.transform)
    _lines, labels = zone_plan(zones.analysis, (224, 224))
    metrics = QFontMetricsF(QFont(canvas.font().family(), LABEL_POINT_SIZE))
    corners = canvas.corner_text_boxes()
    everywhere = placed_labels(transform, labels, metrics, QRectF(canvas.rect()))
    assert any(box.intersects(corner) for box, _ in everywhere for corner in corners)  # as they were drawn
    clear = placed_labels(transform, labels, metrics, zones.label_area)
    assert clear and not any(box.intersects(corner) for box, _ in clear for corner in corners)


def test_a_positive_zones_label_is_dark_on_the_positive_colour_and_every_label_is_legible():
    def luminance(rgb):
        linear = [(c / 255 / 12.92) if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for positive in (False, True):
        label = overlays.label_colours(positive)
        lighter, darker = sorted((luminance(label.text), luminance(label.background)), reverse=True)
        assert (lighter + 0.05) / (darker + 0.05) >= 4.5  # WCAG AA for small text (over an opaque box)
    assert overlays.label_colours(True).background == overlays.POSITIVE_ZONE_COLOUR
    assert overlays.label_colours(False).background_alpha >= 200  # a bright rib under it stays dark enough


def test_the_six_zone_score_is_a_corner_line_clear_of_the_notices(canvas, make_dicom):
    canvas.set_image(load_image(make_dicom("dark.dcm", np.zeros((224, 224), np.uint16))))
    canvas.image.notices.append("File has no DICOM preamble")
    zones = ZoneLayer()
    zones.set_analysis(synthetic_analysis(canvas.image.path))
    canvas.add_overlay(zones)
    corners = canvas.annotation_lines()
    score = six_zone_words(zones.analysis)
    assert score.startswith("Six-zone score: 3 / 6") and corners["bottom_right"][0] == score
    assert corners["bottom_left"][0] == "File has no DICOM preamble"
    zones.visible = False
    assert score not in canvas.annotation_lines()["bottom_right"]


def test_corners_show_age_sex_and_view_and_hide_age_and_sex_with_patient_data(canvas, make_dicom):
    canvas.set_image(load_image(make_dicom("p.dcm", PatientAge="047Y", PatientSex="F", ViewPosition="AP",
                                           StudyDate="20200402")))
    corners = canvas.annotation_lines()
    assert "Age 47 years · Sex F" in corners["top_left"]
    assert "View AP" in corners["top_right"] and "2020-04-02" in corners["top_right"]
    canvas.set_show_patient_data(False)
    text = [line for lines in canvas.annotation_lines().values() for line in lines]
    assert "View AP" in text and not any("47" in line or "Sex" in line or "2020" in line for line in text)


def test_the_cursor_reports_the_modality_value_after_rescale(canvas, make_dicom):
    stored = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    canvas.set_image(load_image(make_dicom("r.dcm", stored, RescaleSlope=2, RescaleIntercept=-100)))
    reports = []
    canvas.cursorValue.connect(reports.append)
    canvas.rotate(-1)
    mouse(canvas, QEvent.MouseMove, QPoint(*(round(v) for v in canvas.view.transform.image_to_screen(5.5, 3.5))),
          Qt.NoButton, Qt.NoButton)
    assert reports[-1] == f"x 5  y 3  value {(3 * 64 + 5) * 2 - 100}"
    mouse(canvas, QEvent.MouseMove, QPoint(2, 2), Qt.NoButton, Qt.NoButton)  # beside the image
    assert reports[-1] == ""


def test_each_overlay_meaning_has_its_own_colour():
    meanings = [overlays.LUNG_OUTLINE_COLOUR, overlays.ZONE_BORDER_COLOUR, overlays.POSITIVE_ZONE_COLOUR,
                overlays.MEASUREMENT_COLOUR, *(overlays.level_colour(level) for level in overlays.CONTOUR_LEVELS)]
    assert len(set(meanings)) == len(meanings)
