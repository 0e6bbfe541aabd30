"""The severity trend in the results dock (pytest-qt, offscreen): shown for a patient with two analysed
studies, with the change since the prior in xraydesk.ai.trend's words and the limits' meaning as the
tooltip; hidden for a single study; and a long file name that neither widens the dock nor hides its
buttons."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fakes import TREND_LIMITS, TrendLimitsAnalyser, prediction, synthetic_analysis
from PyQt5.QtWidgets import QAction, QLabel
from ui_helpers import WAIT_MS, open_and_wait, wait_for_image

from xraydesk.ai.analysis import StudyIdentity
from xraydesk.ai.trend import ChangeLimits
from xraydesk.imaging.study_keys import StudyKeys
from xraydesk.ui.main_window import MainWindow, scrollable
from xraydesk.ui.results_panel import ResultsPanel
from xraydesk.ui.trend_view import study_summary

LIMITS = TREND_LIMITS


def analysis_of(path: Path, study_uid: str, date: str, extent: tuple[float, float], zones: tuple[float, ...]):
    keys = StudyKeys("Doe^Jane", "P1", study_uid, date, study_description="CHEST", modality="DX", study=study_uid)
    identity = StudyIdentity(path, keys, "DICOM")
    return synthetic_analysis(path, identity=identity, answer=replace(prediction(0.9, zones=zones), lung_extent=extent))


@pytest.fixture
def panel(qtbot):
    panel = ResultsPanel(QAction("Heatmap"), QAction("Zones"))
    qtbot.addWidget(panel)
    panel.resize(420, 900)
    panel.show()
    return panel


def test_trend_for_two_studies_says_the_change_since_the_prior_and_marks_the_current(panel):
    prior = analysis_of(Path("/s/prior.dcm"), "1.1", "20200402", (3.0, 2.2), (0.9, 0.8, 0.7, 0.9, 0.8, 0.1))
    current = analysis_of(Path("/s/current.dcm"), "1.2", "20200408", (2.0, 1.1), (0.9, 0.1, 0.1, 0.8, 0.1, 0.1))
    limits = ChangeLimits(**LIMITS)
    panel.show_analysis(current)
    panel.show_trend([prior, current], current.path, lambda: limits, deidentify=False)
    box = panel.trend
    assert box.isVisible() and box.title() == "Trend — study 2 of 2 of this patient"
    lines = box.change.text().split("\n")
    assert lines[0] == "extent 5.2 → 3.1 since 2020-04-02, 6 days earlier: improving"
    assert lines[1] == "six-zone score 5 → 2: improving"
    assert lines[2].startswith("p(pneumonia) 0.90 → 0.90: no clear change")
    assert box.change.toolTip() == limits.meaning()
    assert box.chart.current == 1 and len(box.chart.trend.studies) == 2
    assert study_summary(box.chart.trend, 0, False) == "2020-04-02: extent 5.2, six-zone score 5, p(pneumonia) 0.90"
    panel.show_trend([prior, current], prior.path, lambda: limits, deidentify=True)
    assert box.change.text().startswith("First study of 2")
    panel.show_trend([prior, current], current.path, lambda: limits, deidentify=True)
    assert "since day 0, 6 days earlier" in box.change.text()
    panel.show_trend([prior, current], current.path, lambda: "the model's metadata has no trend limits",
                      deidentify=False)
    assert box.change.text() == "Change not judged: the model's metadata has no trend limits"

    panel.show_message("Analysing…")
    assert not box.isVisible()
    panel.show_analysis(current)
    panel.show_trend([current], current.path, lambda: limits, deidentify=False)  # one study: no trend
    assert not box.isVisible()


def test_a_long_file_name_is_elided_in_the_middle_and_keeps_the_dock_narrow(qtbot):
    panel = ResultsPanel(QAction("Heatmap"), QAction("Zones"))
    area = scrollable(panel)
    qtbot.addWidget(area)
    area.resize(360, 900)
    area.show()
    qtbot.waitExposed(area)
    name = "1.2.276.0.7230010.3.1.4.8323329.5797.1517875190.762693" + "-" * 20 + "end.dcm"
    panel.show_analysis(synthetic_analysis(Path("/siim") / name))
    qtbot.waitUntil(lambda: "…" in QLabel.text(panel.status))
    shown = QLabel.text(panel.status)
    assert shown.startswith("1.2.276") and "end.dcm" in shown  # elided in the middle
    assert panel.status.text().startswith(name) and panel.status.toolTip() == panel.status.text()
    assert not area.horizontalScrollBar().isVisible()
    assert panel.contours.geometry().right() <= area.viewport().width()


def test_the_window_shows_the_trend_of_the_patient_on_screen(qtbot, make_dicom):
    pixels = np.add.outer(np.arange(96), np.arange(112)).astype(np.uint16)
    prior = make_dicom("prior.dcm", pixels, PatientID="P1", StudyInstanceUID="1.1", StudyDate="20200402")
    current = make_dicom("current.dcm", pixels, PatientID="P1", StudyInstanceUID="1.2", StudyDate="20200408")
    alone = make_dicom("alone.dcm", pixels, PatientID="P2", StudyInstanceUID="2.1", StudyDate="20200405")
    window = MainWindow(TrendLimitsAnalyser())
    window.actions["auto_analyse"].setChecked(False)
    qtbot.addWidget(window)
    window.show()
    open_and_wait(qtbot, window, [current.parent])
    window.analyse_all()
    qtbot.waitUntil(lambda: len(window.analysis.results) == 3 and window.workers.is_idle(), timeout=WAIT_MS)
    box = window.results_panel.trend
    for path, trended in ((current, True), (alone, False), (prior, True)):
        window.browser.select_path(path)
        wait_for_image(qtbot, window, path)
        assert box.isVisible() == trended
    assert box.change.text().startswith("First study of 2")
    window.browser.select_path(current)
    wait_for_image(qtbot, window, current)
    assert box.change.text().startswith("extent 3.2 → 3.2 since 2020-04-02, 6 days earlier: no clear change")
    assert "measured error on repeated readings" in box.change.toolTip()
    window.close()
