"""Compare with prior (pytest-qt, offscreen): the prior picked for a patient, the "PRIOR" corner text with
the interval, linked window/level, zoom and pan between films of different sizes (and unlinking), the
prior's own overlay, leaving with C or Esc, the message when there is no prior, and the hanging protocol
(current and prior laid out on open, the prior of the same view position first)."""

import numpy as np
import pytest
from fakes import FakeAnalyser, TrendLimitsAnalyser
from PyQt5.QtCore import QPoint, Qt
from ui_helpers import WAIT_MS, drag, open_and_wait, shown_window, wait_for_image

from xraydesk.imaging import Window, fit_transform
from xraydesk.imaging.study_order import StudyMoment
from xraydesk.ui.compare import NO_PRIOR, linked_window, prior_caption
from xraydesk.ui.main_window import settings


@pytest.fixture
def serial_studies(make_dicom):
    """Patient P1 on three days (the last one current; films of different sizes), and patient P2."""
    def film(name, rows, columns, patient, study_uid, date):
        pixels = (np.add.outer(np.arange(rows), np.arange(columns)) * 7 % 4096).astype(np.uint16)
        return make_dicom(name, pixels, bits_stored=12, PatientID=patient, StudyInstanceUID=study_uid,
                          SeriesInstanceUID=study_uid + ".1", StudyDate=date, StudyDescription="CHEST")

    return {"first": film("p1_first.dcm", 80, 64, "P1", "1.1", "20200328"),
            "prior": film("p1_prior.dcm", 96, 120, "P1", "1.2", "20200402"),
            "current": film("p1_current.dcm", 128, 160, "P1", "1.3", "20200408"),
            "other": film("p2.dcm", 64, 64, "P2", "2.1", "20200405")}


@pytest.fixture
def views_over_time(make_dicom):
    """Patient P1: PA, then AP, then two PA films (current); patient P2 once."""
    def film(name, patient, study_uid, date, view):
        return make_dicom(name, np.full((64, 64), 100, np.uint16), PatientID=patient, StudyInstanceUID=study_uid,
                          SeriesInstanceUID=study_uid + ".1", StudyDate=date, ViewPosition=view)

    return {"first_pa": film("p1_pa.dcm", "P1", "1.1", "20200328", "PA"),
            "prior_ap": film("p1_ap.dcm", "P1", "1.2", "20200402", "AP"),
            "current_pa": film("p1_current.dcm", "P1", "1.3", "20200408", "PA"),
            "current_second": film("p1_current_2.dcm", "P1", "1.3", "20200408", "PA"),
            "other": film("p2.dcm", "P2", "2.1", "20200405", "PA")}


@pytest.fixture
def window(qtbot):
    main_window = shown_window(qtbot, FakeAnalyser())
    yield main_window
    main_window.close()


def enter_compare(qtbot, window, current):
    window.browser.select_path(current)
    wait_for_image(qtbot, window, current)
    window.actions["compare"].trigger()
    qtbot.waitUntil(lambda: window.compare_view.prior.image is not None, timeout=WAIT_MS)
    return window.compare_view


def relative_view(canvas):
    """Zoom relative to fit, and the image point at the view centre as fractions of the image."""
    image, transform = canvas.image, canvas.view.transform
    fit = fit_transform(image.width, image.height, canvas.width(), canvas.height()).scale
    x, y = transform.screen_to_image(canvas.width() / 2, canvas.height() / 2)
    return transform.scale / fit, x / image.width, y / image.height


def test_compare_puts_the_most_recent_prior_of_the_patient_left_with_its_interval(qtbot, window, serial_studies):
    open_and_wait(qtbot, window, [serial_studies["current"].parent])
    view = enter_compare(qtbot, window, serial_studies["current"])
    assert window.centralWidget() is view
    prior = view.prior
    assert prior.image.path == serial_studies["prior"]
    assert prior.mapTo(window, QPoint(0, 0)).x() < window.canvas.mapTo(window, QPoint(0, 0)).x()
    assert [view.prior_menu.itemText(i)[:10] for i in range(view.prior_menu.count())] == ["2020-04-02", "2020-03-28"]
    assert prior.annotation_lines()["top_right"][:2] == ["PRIOR — 6 days earlier", "2020-04-02"]
    assert "PRIOR" not in " ".join(window.canvas.annotation_lines()["top_right"])
    assert "2020-04-08" in window.canvas.annotation_lines()["top_right"]

    view.prior_menu.activated.emit(1)  # the reader picks the older study
    qtbot.waitUntil(lambda: prior.image.path == serial_studies["first"], timeout=WAIT_MS)
    assert prior.annotation_lines()["top_right"][:2] == ["PRIOR — 11 days earlier", "2020-03-28"]
    window.actions["hide_patient_data"].trigger()
    lines = prior.annotation_lines()["top_right"]
    assert lines[0] == "PRIOR — 11 days earlier" and "2020-03-28" not in lines
    assert "2020" not in view.prior_menu.itemText(0)

    window.actions["compare"].trigger()  # C again
    assert window.centralWidget() is window.canvas and window.canvas.isVisible()


def test_linked_views_move_together_across_film_sizes_until_unlinked(qtbot, window, serial_studies):
    open_and_wait(qtbot, window, [serial_studies["current"].parent])
    view = enter_compare(qtbot, window, serial_studies["current"])
    current, prior = window.canvas, view.prior
    qtbot.waitUntil(lambda: prior.view.transform.scale != current.view.transform.scale, timeout=WAIT_MS)

    current.zoom_by(2.0, current.width() * 0.3, current.height() * 0.4)
    np.testing.assert_allclose(relative_view(prior), relative_view(current), rtol=1e-6)
    assert relative_view(prior)[0] == pytest.approx(2.0)
    centre_before = relative_view(current)[1:]
    drag(prior, Qt.LeftButton, QPoint(200, 200), QPoint(260, 170))  # panning the prior moves the current too
    np.testing.assert_allclose(relative_view(current), relative_view(prior), rtol=1e-6)
    assert relative_view(current)[1:] != pytest.approx(centre_before)
    default = current.display.default_window()
    current.set_window(default.adjusted(default.center + 100, default.width / 2))
    prior_default = prior.display.default_window()
    ratio = prior_default.width / default.width
    assert prior.view.window.center == pytest.approx(prior_default.center + 100 * ratio)
    assert prior.view.window.width == pytest.approx(prior_default.width / 2)

    window.actions["link_views"].trigger()  # unlink
    before = prior.view
    current.zoom_by(1.5)
    current.set_window(default)
    assert prior.view == before
    window.actions["link_views"].trigger()  # linking again brings the prior to the current
    np.testing.assert_allclose(relative_view(prior), relative_view(current), rtol=1e-6)
    assert prior.view.window == prior_default


def test_the_prior_has_its_own_analysis_and_the_current_views_modes_and_esc_leaves(qtbot, window, serial_studies):
    open_and_wait(qtbot, window, [serial_studies["current"].parent])
    view = enter_compare(qtbot, window, serial_studies["current"])
    assert view.analyse_button.isVisible() and view.prior_layers[0].analysis is None
    view.analyse_button.click()
    qtbot.waitUntil(lambda: view.prior_layers[0].analysis is not None, timeout=WAIT_MS)
    assert view.prior_layers[0].analysis.path == serial_studies["prior"]
    assert window.heatmap_layer.analysis is None  # the current image's overlay is its own
    assert not view.analyse_button.isVisible()
    window.actions["zones"].trigger()
    assert not view.prior_layers[1].visible
    window.actions["window_mode"].trigger()  # W: the left button windows in both views
    assert view.prior.left_button_windows

    qtbot.keyClick(window.canvas, Qt.Key_Escape)
    assert not window.actions["compare"].isChecked() and window.centralWidget() is window.canvas


def test_compare_and_trend_take_the_same_prior_among_studies_of_one_day(qtbot, make_dicom):
    """Two studies on 2020-04-08, at 11:12 (Study Time) and 13:08 (no Study Time: its Acquisition DateTime
    stands in; its UID sorts first), and one 5 days earlier: both views order the day by time."""
    pixels = np.add.outer(np.arange(96), np.arange(112)).astype(np.uint16)

    def film(name, study_uid, date, **times):
        return make_dicom(name, pixels, PatientID="P1", StudyInstanceUID=study_uid,
                          SeriesInstanceUID=study_uid + ".1", StudyDate=date, **times)

    before = film("before.dcm", "1.5", "20200403", StudyTime="0930")
    morning = film("morning.dcm", "1.9", "20200408", StudyTime="111200")
    afternoon = film("afternoon.dcm", "1.1", "20200408", AcquisitionDateTime="20200408130800")
    window = shown_window(qtbot, TrendLimitsAnalyser())
    open_and_wait(qtbot, window, [before.parent])
    assert window.browser.image_paths() == [before, morning, afternoon]
    window.analyse_all()
    qtbot.waitUntil(lambda: len(window.analysis.results) == 3 and window.workers.is_idle(), timeout=WAIT_MS)
    for current, prior, interval in ((afternoon, morning, "1 h 56 min earlier"), (morning, before, "5 days earlier")):
        view = enter_compare(qtbot, window, current)
        assert view.prior.image.path == prior
        assert view.prior.annotation_lines()["top_right"][0] == f"PRIOR — {interval}"
        trend = window.results_panel.trend.chart.trend
        current_study = trend.study_index(current)
        assert prior in trend.studies[trend.prior_index(current_study)].paths
        assert f", {interval}: " in window.results_panel.trend.change.text().split("\n")[0]
        window.actions["compare"].trigger()
    window.close()


def test_no_prior_gives_a_status_message_and_no_split(qtbot, window, serial_studies):
    open_and_wait(qtbot, window, [serial_studies["current"].parent])
    for path in (serial_studies["other"], serial_studies["first"]):  # another patient; the patient's first study
        window.browser.select_path(path)
        wait_for_image(qtbot, window, path)
        window.actions["compare"].trigger()
        assert not window.actions["compare"].isChecked()
        assert window.centralWidget() is window.canvas
        assert window.status_label.text() == NO_PRIOR


def test_window_links_in_units_of_each_films_default_window():
    default, other = Window(2048, 4096), Window(128, 256)
    assert linked_window(default, default, other) == other
    linked = linked_window(Window(2048 + 400, 1024), default, other)
    assert (linked.center, linked.width) == (128 + 25, 64)
    assert prior_caption(StudyMoment.parse("20200402"), StudyMoment.parse("20200403")) == "PRIOR — 1 day earlier"


def test_the_hanging_protocol_lays_out_a_study_opened_beside_its_prior_of_the_same_view(qtbot, window, views_over_time):
    assert not window.actions["hanging_protocol"].isChecked()  # off until the reader turns it on
    open_and_wait(qtbot, window, [views_over_time["current_pa"].parent])
    window.browser.select_path(views_over_time["current_pa"])
    wait_for_image(qtbot, window, views_over_time["current_pa"])
    assert not window.actions["compare"].isChecked()
    window.actions["hanging_protocol"].trigger()
    assert settings().value("hanging_protocol", type=bool)  # remembered

    for path in (views_over_time["other"], views_over_time["current_pa"]):  # no prior; another study opened
        window.browser.select_path(path)
        wait_for_image(qtbot, window, path)
    assert window.actions["compare"].isChecked()
    view = window.compare_view
    qtbot.waitUntil(lambda: view.prior.image is not None, timeout=WAIT_MS)
    assert view.prior.image.path == views_over_time["first_pa"]  # PA beside PA, not the later AP
    assert view.prior_menu.currentIndex() == 1

    qtbot.keyClick(window.canvas, Qt.Key_Escape)  # left: another image of the same study does not hang it again
    window.browser.select_path(views_over_time["current_second"])
    wait_for_image(qtbot, window, views_over_time["current_second"])
    assert not window.actions["compare"].isChecked()
