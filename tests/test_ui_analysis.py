"""The AI second opinion in the window (pytest-qt, offscreen): worker signals, newest-wins and stale
results, errors and a missing model, the dock's and the worklist's words, the worklist with cancel,
overlays registered to the image, and the PDF export. A fake analyser controls timing; two tests
run the shipped model end to end."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from fakes import HOT_CELL, FakeAnalyser, prediction, synthetic_analysis
from PyQt5.QtCore import QPoint, Qt
from PyQt5.QtWidgets import QAction, QApplication, QDialog, QFileDialog, QMessageBox
from ui_helpers import WAIT_MS, canvas_pixels, drag, open_and_wait, shown_window, wait_for_image

from xraydesk.ai.analysis import StudyIdentity
from xraydesk.ai.gate import InputCheck
from xraydesk.ai.lung_check import LungMaskCheck
from xraydesk.ai.model import DEFAULT_MODEL_DIR
from xraydesk.ai.words import COVID_CAVEAT, NO_CATEGORY_OPACITY_BORDERLINE, POSITIVE_NO_ZONES, SIX_ZONE_EVIDENCE
from xraydesk.imaging import Window
from xraydesk.ui.analysis_controller import WorklistEntry
from xraydesk.ui.export_dialog import ExportScopeDialog
from xraydesk.ui.main_window import MainWindow
from xraydesk.ui.results_panel import ResultsPanel
from xraydesk.ui.worklist import COLUMNS, PRIORITY_COLUMN, READ_MARK, SORT_ROLE, WorklistPanel, entry_cells

FOLDER_SIZE = 5


@pytest.fixture
def images(make_dicom):
    """Five small DX images in one folder, each with its own patient."""
    pixels = np.add.outer(np.arange(224), np.arange(280)).astype(np.uint16)
    paths = [make_dicom(f"image{i}.dcm", pixels, PatientName=f"Doe^Jane{i}", PatientID=f"ID-{i}",
                        StudyDate="20240105", InstanceNumber=i) for i in range(FOLDER_SIZE)]
    return paths


def make_window(qtbot, analyser, auto_analyse=True) -> MainWindow:
    return shown_window(qtbot, analyser, auto_analyse)


@pytest.fixture
def open_window(qtbot):
    windows = []

    def make(analyser, auto_analyse=True):
        windows.append(make_window(qtbot, analyser, auto_analyse))
        return windows[-1]

    yield make
    for window in windows:
        window.close()


def shown_analysis_path(window):
    layer = window.heatmap_layer
    return layer.analysis.path if layer.analysis else None


def test_opening_an_image_analyses_it_on_a_worker_and_shows_the_result(qtbot, open_window, images):
    window = open_window(FakeAnalyser())
    with qtbot.waitSignal(window.analysis.analysed, timeout=WAIT_MS) as analysed:
        window.open_paths([images[0].parent])
    assert analysed.args[0].path == images[0]
    qtbot.waitUntil(lambda: shown_analysis_path(window) == images[0], timeout=WAIT_MS)
    panel = window.results_panel
    assert panel.reading.text().startswith("Pneumonia-like opacity likely — p(") and panel.reading.isVisible()
    assert panel.score.text() == "Six-zone score: 3 / 6 (a zone counts at p >= 0.50)"
    assert [label for label, _, _ in panel.bars.rows] == ["Normal (no abnormality)", "Bacterial", "Viral", "COVID-19",
                                                          "Pneumonia-like opacity", "Abnormal (any)"]


@pytest.fixture
def panel(qtbot):
    panel = ResultsPanel(QAction("Heatmap"), QAction("Zones"))
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def shown_texts(panel) -> list[str]:
    return [widget.text() for widget in (panel.reading, panel.covid, panel.caveat, panel.flags, panel.score,
                                         panel.extent, panel.evidence) if widget.isVisible()]


def test_the_dock_shows_the_covid_19_category_with_its_caveat_beside_the_bars(panel):
    panel.show_analysis(synthetic_analysis(Path("a.dcm"), identity=StudyIdentity(Path("a.dcm"), patient_age=35)))
    layout = panel.layout()
    assert layout.indexOf(panel.covid) == layout.indexOf(panel.bars) + 1
    assert layout.indexOf(panel.caveat) == layout.indexOf(panel.covid) + 1
    assert panel.bars.isVisible() and panel.caveat.isVisible() and panel.caveat.text() == COVID_CAVEAT
    assert panel.covid.text() == ("COVID-19, RSNA consensus category (Simpson et al. 2020): "
                                  "Atypical appearance for COVID-19 pneumonia.")
    assert panel.reading.font().bold() and not panel.flags.isVisible()
    assert panel.evidence.isVisible() and panel.evidence.text() == SIX_ZONE_EVIDENCE
    assert panel.extent.text() == ("Geographic extent: 3.2 / 8   (right 1.8, left 1.4; 0-4 each)\n"
                                   "Degree of opacity: 2.1 / 8   (right 1.2, left 0.9; 0-4 each)")
    panel.show_analysis(synthetic_analysis(Path("hip.dcm"), check=InputCheck(False, "body part is HIP")))
    assert not panel.bars.isVisible() and not panel.caveat.isVisible() and not panel.covid.isVisible()


def test_inside_the_band_the_dock_says_indeterminate_not_in_bold(panel):
    panel.show_analysis(synthetic_analysis(Path("b.dcm"), p_pneumonia=0.52))
    assert panel.reading.text() == ("Indeterminate for pneumonia-like opacity — p(pneumonia-like opacity) = 0.52, "
                                    "inside the borderline band 0.45-0.55.")
    assert not panel.reading.font().bold()
    assert not any("likely" in text or "No abnormality" in text for text in shown_texts(panel))
    assert panel.flags.isVisible() and "borderline band 0.45-0.55" in panel.flags.text()
    panel.show_analysis(synthetic_analysis(Path("a.dcm")))
    assert panel.reading.font().bold()


def test_the_dock_explains_flags_and_withholds_severity_on_an_implausible_lung_mask(panel):
    unfamiliar = InputCheck(True, unfamiliar="unfamiliar image: lower confidence — unlike the training films")
    panel.show_analysis(synthetic_analysis(Path("n.dcm"), check=unfamiliar, answer=prediction(zones=(0.1,) * 6)))
    assert panel.flags.text() == ("Unfamiliar image: lower confidence — unlike the training films.\n"
                                  f"{POSITIVE_NO_ZONES}")
    assert panel.score.text() == "Six-zone score: 0 / 6 (a zone counts at p >= 0.50)"
    assert not panel.evidence.isVisible()
    panel.show_analysis(synthetic_analysis(Path("w.dcm"), lung_check=LungMaskCheck(False, "two small blobs")))
    assert panel.score.text() == "Six-zone score: withheld (lung mask implausible)"
    assert "Lung mask implausible (two small blobs)" in panel.flags.text() and panel.flags.isVisible()
    assert not panel.zones.isVisible() and not panel.extent.isVisible() and not panel.evidence.isVisible()


def test_the_worklist_writes_probabilities_as_the_dock_does_and_sorts_them_by_value(qtbot):
    panel = WorklistPanel()
    qtbot.addWidget(panel)
    panel.start(4)
    for name, p in (("a.dcm", 0.998), ("b.dcm", 0.9996), ("c.dcm", 0.87)):
        panel.add_entry(WorklistEntry(Path(name), synthetic_analysis(Path(name), p)), False, name)
    panel.add_entry(WorklistEntry(Path("d.dcm"), error="unreadable"), False, "d.dcm")
    shown = [(panel.path_at(row).name, panel.table.item(row, PRIORITY_COLUMN).text()) for row in range(4)]
    # never "1" beside "0.998": both beyond what the calibration resolves; still ranked by value
    assert shown == [("b.dcm", "> 0.99"), ("a.dcm", "> 0.99"), ("c.dcm", "0.87"), ("d.dcm", "")]


def test_the_worklist_uses_the_docks_words():
    def cells(analysis):
        return dict(zip(COLUMNS, entry_cells(WorklistEntry(analysis.path, analysis), analysis.path.name)))

    clear = cells(synthetic_analysis(Path("a.dcm")))
    assert clear["Cause"] == "cannot be told" and clear["Status"] == "Pneumonia-like opacity likely"
    assert clear["Score"] == 3 and clear["p(opacity)"][0] == "0.90"
    child = cells(synthetic_analysis(Path("a.dcm"), identity=StudyIdentity(Path("a.dcm"), patient_age=3)))
    assert child["Cause"] == "Viral"
    assert clear["COVID-19 category"] == "Atypical appearance for COVID-19 pneumonia"
    borderline = cells(synthetic_analysis(Path("b.dcm"), p_pneumonia=0.52,
                                          lung_check=LungMaskCheck(False, "two small blobs")))
    assert borderline["Status"] == ("Indeterminate for pneumonia-like opacity; lung mask implausible; in the "
                                    "borderline band")
    assert borderline["Cause"] == "—" and borderline["Score"] is None
    assert borderline["COVID-19 category"] == NO_CATEGORY_OPACITY_BORDERLINE  # the band gets its own words


def test_signals_of_one_analysis_come_in_order(qtbot, open_window, images):
    window = open_window(FakeAnalyser(), auto_analyse=False)
    open_and_wait(qtbot, window, [images[0]])
    wait_for_image(qtbot, window)
    seen = []
    window.analysis.analysisStarted.connect(lambda path: seen.append(("started", path)))
    window.analysis.analysed.connect(lambda analysis: seen.append(("analysed", analysis.path)))
    qtbot.keyClick(window.canvas, Qt.Key_Return, Qt.ControlModifier)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=WAIT_MS)
    assert seen == [("started", images[0]), ("analysed", images[0])]
    qtbot.waitUntil(window.workers.is_idle, timeout=WAIT_MS)


def test_a_result_for_an_image_left_behind_is_kept_but_not_shown_and_the_newest_wins(qtbot, open_window, images):
    analyser = FakeAnalyser(hold=True)
    window = open_window(analyser, auto_analyse=False)
    open_and_wait(qtbot, window, [images[0].parent])
    wait_for_image(qtbot, window, images[0])
    window.analyse_current()  # held: the worker is busy with image 0
    for path in images[1:4]:  # image 1 and 2 are superseded while waiting; image 3 is the newest
        window.browser.select_path(path)
        wait_for_image(qtbot, window, path)
        window.analyse_current()
    analyser.release()
    qtbot.waitUntil(lambda: shown_analysis_path(window) == images[3], timeout=WAIT_MS)
    qtbot.waitUntil(window.workers.is_idle, timeout=WAIT_MS)
    assert analyser.analysed == [images[0], images[3]]
    assert images[0] in window.analysis.results  # kept for later, never drawn over image 3
    assert window.canvas.image.path == images[3]


def test_a_worker_exception_becomes_a_message_in_the_results_panel(qtbot, open_window, images):
    window = open_window(FakeAnalyser(error=RuntimeError("out of memory in the model")))
    open_and_wait(qtbot, window, [images[0]])
    qtbot.waitUntil(lambda: "out of memory" in window.results_panel.status.text(), timeout=WAIT_MS)
    assert window.results_panel.status.text() == "Analysis failed: out of memory in the model"
    assert window.canvas.image is not None  # the image is still shown, the app goes on
    assert not window.results_panel.reading.isVisible()


def test_without_model_files_the_viewer_works_and_the_panel_says_why(qtbot, open_window, images, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("XRAYDESK_MODELS", str(tmp_path / "no-models"))
    window = open_window(None)
    open_and_wait(qtbot, window, [images[0].parent])
    qtbot.waitUntil(lambda: "AI unavailable" in window.results_panel.status.text(), timeout=WAIT_MS)
    message = window.results_panel.status.text()
    assert "xraydesk-cxr.json" in message and "still works as a viewer" in message
    window.browser.select_path(images[1])  # the next image fails fast with the same message
    wait_for_image(qtbot, window, images[1])
    qtbot.waitUntil(lambda: "AI unavailable" in window.results_panel.status.text(), timeout=WAIT_MS)
    assert window.canvas.displayed_pixels() is not None


def test_preloading_at_launch_says_when_the_model_is_ready_or_why_not(qtbot, open_window, tmp_path, monkeypatch):
    analyser = FakeAnalyser()
    analyser.is_loaded = False
    window = open_window(analyser)
    with qtbot.waitSignal(window.analysis.modelLoaded, timeout=WAIT_MS):
        window.preload_model()
    assert window.results_panel.status.text().startswith("Fake CXR 0.0 is ready.")
    monkeypatch.setenv("XRAYDESK_MODELS", str(tmp_path / "no-models"))
    window = open_window(None)
    window.preload_model()
    qtbot.waitUntil(lambda: "AI unavailable" in window.results_panel.status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(window.workers.is_idle, timeout=WAIT_MS)


def test_refused_input_shows_the_reason_and_no_probabilities(qtbot, open_window, dicom_dir):
    if not (DEFAULT_MODEL_DIR / "xraydesk-cxr.keras").is_file():
        pytest.skip("the shipped model is not in models/")
    window = open_window(None)
    hip = dicom_dir / "nonchest" / "RG2_J2KI__hip.dcm"
    open_and_wait(qtbot, window, [hip])
    qtbot.waitUntil(lambda: hip in window.analysis.results, timeout=WAIT_MS)
    assert "refused RG2_J2KI__hip.dcm: body part examined is HIP" in window.results_panel.status.text()
    assert not window.results_panel.bars.isVisible()


def test_the_shipped_model_analyses_a_real_dicom_with_heatmaps_and_zones(qtbot, open_window, dicom_dir):
    if not (DEFAULT_MODEL_DIR / "xraydesk-cxr.keras").is_file():
        pytest.skip("the shipped model is not in models/")
    window = open_window(None)
    path = min((dicom_dir / "rsna").glob("*.dcm"))
    open_and_wait(qtbot, window, [path])
    qtbot.waitUntil(lambda: path in window.analysis.results, timeout=WAIT_MS)
    analysis = window.analysis.results[path]
    assert analysis.check.accepted and analysis.prediction is not None
    assert set(analysis.heatmaps) == {"opacity", "pneumonia", "bacterial", "viral", "covid"}
    assert all(0 <= heatmap.min() and heatmap.max() <= 1 for heatmap in analysis.heatmaps.values())
    assert 0.2 < analysis.lung_mask.mean() < 0.6 and set(np.unique(analysis.zone_labels)) == set(range(7))
    assert window.results_panel.version.text() == f"Model: {analysis.model_version}"
    assert window.results_panel.caveat.isVisible() and window.results_panel.covid.text().startswith("COVID-19, RSNA")


def test_worklist_fills_a_sortable_table_and_double_click_opens_the_image(qtbot, open_window, images):
    window = open_window(FakeAnalyser(), auto_analyse=False)
    open_and_wait(qtbot, window, [images[0].parent])
    with qtbot.waitSignal(window.analysis.worklistFinished, timeout=WAIT_MS) as finished:
        qtbot.keyClick(window.canvas, Qt.Key_Return, Qt.ControlModifier | Qt.ShiftModifier)
    assert finished.args == [f"Analysed {FOLDER_SIZE} images."]
    table = window.worklist.table
    assert table.rowCount() == FOLDER_SIZE
    priority = [table.item(row, PRIORITY_COLUMN).data(SORT_ROLE) for row in range(FOLDER_SIZE)]
    assert priority == sorted(priority, reverse=True) and all(isinstance(value, float) for value in priority)
    shown = [table.item(row, PRIORITY_COLUMN).text() for row in range(FOLDER_SIZE)]
    assert all(text == "> 0.99" or len(text) == 4 for text in shown)  # two decimals, never "1"
    assert {table.item(row, 1).text() for row in range(FOLDER_SIZE)} >= {"Doe^Jane0 (ID-0)"}
    table.sortByColumn(PRIORITY_COLUMN, Qt.AscendingOrder)
    column = [table.item(row, PRIORITY_COLUMN).data(SORT_ROLE) for row in range(FOLDER_SIZE)]
    assert column == sorted(column)
    target = window.worklist.path_at(2)
    qtbot.mouseDClick(table.viewport(), Qt.LeftButton, pos=table.visualItemRect(table.item(2, 1)).center())
    wait_for_image(qtbot, window, target)
    qtbot.waitUntil(lambda: shown_analysis_path(window) == target, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: table.item(2, 0).text() == READ_MARK, timeout=WAIT_MS)  # read once seen a moment
    table.setCurrentCell(4, 1)
    qtbot.keyClick(table, Qt.Key_Return)  # Enter opens the current row
    wait_for_image(qtbot, window, window.worklist.path_at(4))


def test_paging_past_images_leaves_them_unread_and_a_moment_on_screen_or_m_reads_one(qtbot, open_window, images):
    window = open_window(FakeAnalyser(), auto_analyse=False)
    window.read_marker.timer.setInterval(60_000)  # longer than this test takes to page
    open_and_wait(qtbot, window, [images[0].parent])
    wait_for_image(qtbot, window, images[0])
    for path in images[1:]:
        qtbot.keyClick(window.canvas, Qt.Key_PageDown)
        wait_for_image(qtbot, window, path)
    qtbot.keyClick(window.canvas, Qt.Key_PageUp)
    wait_for_image(qtbot, window, images[-2])
    assert not any(window.reading.session.is_read(path) for path in images)
    qtbot.keyClick(window.canvas, Qt.Key_M)  # the reader's word: read now, and the timer no longer decides
    assert window.reading.session.is_read(images[-2]) and not window.read_marker.timer.isActive()
    window.read_marker.timer.setInterval(50)
    qtbot.keyClick(window.canvas, Qt.Key_PageUp)
    wait_for_image(qtbot, window, images[-3])
    qtbot.waitUntil(lambda: window.reading.session.is_read(images[-3]), timeout=WAIT_MS)  # left on screen: read
    assert [window.reading.session.is_read(path) for path in images] == [False, False, True, True, False]


def test_n_opens_the_unread_flagged_images_in_priority_order_and_hidden_data_hides_file_names(qtbot, open_window,
                                                                                            images):
    window = open_window(FakeAnalyser(), auto_analyse=False)
    window.read_marker.timer.setInterval(50)
    open_and_wait(qtbot, window, [images[0].parent])
    with qtbot.waitSignal(window.analysis.worklistFinished, timeout=WAIT_MS):
        window.analyse_all()
    shown = window.canvas.image.path  # the first image, opened by the scan: read after its moment on screen
    qtbot.waitUntil(lambda: window.reading.session.is_read(shown), timeout=WAIT_MS)
    order = window.worklist.paths()
    expected = order[order.index(shown) + 1:] + order[:order.index(shown)]  # onwards from the one on screen
    opened = []
    for _ in expected:
        qtbot.keyClick(window.canvas, Qt.Key_N)
        qtbot.waitUntil(lambda: window.canvas.image.path not in opened + [shown], timeout=WAIT_MS)
        opened.append(window.canvas.image.path)
        qtbot.waitUntil(lambda: window.reading.session.is_read(opened[-1]), timeout=WAIT_MS)
    assert opened == expected  # every FakeAnalyser answer is positive, so every image is flagged
    qtbot.keyClick(window.canvas, Qt.Key_N)
    assert window.status_label.text().startswith("No unread flagged image")
    qtbot.keyClick(window.canvas, Qt.Key_M)  # the image on screen back to unread
    assert not window.reading.session.is_read(opened[-1])
    qtbot.keyClick(window.canvas, Qt.Key_D)
    browser_texts = [item.text(0) for item in window.browser.findItems("", Qt.MatchContains | Qt.MatchRecursive)]
    assert not any(path.name in text for path in images for text in browser_texts)
    assert "Image 1" in browser_texts
    assert window.worklist.table.isColumnHidden(COLUMNS.index("Image"))


def test_worklist_can_be_cancelled(qtbot, open_window, images):
    window = open_window(FakeAnalyser(delay=0.3), auto_analyse=False)
    open_and_wait(qtbot, window, [images[0].parent])
    window.analyse_all()
    qtbot.waitUntil(lambda: window.worklist.table.rowCount() >= 1, timeout=WAIT_MS)
    with qtbot.waitSignal(window.analysis.worklistFinished, timeout=WAIT_MS) as finished:
        window.worklist.cancel_button.click()
    assert finished.args[0].startswith("Cancelled after")
    assert window.worklist.table.rowCount() < FOLDER_SIZE
    assert not window.worklist.cancel_button.isEnabled()


def test_closing_the_window_during_an_analysis_stops_its_worker(qtbot, images):
    window = make_window(qtbot, FakeAnalyser(delay=0.5))
    open_and_wait(qtbot, window, [images[0]])
    window.analyse_current()
    assert not window.workers.is_idle()
    window.close()
    assert window.workers.is_idle()  # joined: nothing runs on after the window has gone


def heatmap_centre(window) -> tuple[float, float]:
    """Centre of what the heatmap adds to the canvas (the picture with it minus without it)."""
    with_heatmap = canvas_pixels(window.canvas).astype(float)
    window.actions["heatmap"].toggle()
    without = canvas_pixels(window.canvas).astype(float)
    window.actions["heatmap"].toggle()
    weight = np.abs(with_heatmap - without).sum(axis=2)
    rows, columns = np.indices(weight.shape)
    return (columns * weight).sum() / weight.sum(), (rows * weight).sum() / weight.sum()


def expected_centre(window) -> tuple[float, float]:
    image = window.canvas.image
    row, column = HOT_CELL
    return window.canvas.view.transform.image_to_screen((column + 0.5) / 7 * image.width, (row + 0.5) / 7 * image.height)


def test_the_heatmap_stays_registered_under_zoom_pan_window_and_invert(qtbot, open_window, make_dicom):
    flat = make_dicom("flat.dcm", np.full((224, 280), 2000, np.uint16))  # a uniform background keeps the
    window = open_window(FakeAnalyser())                                   # heatmap's footprint symmetric
    open_and_wait(qtbot, window, [flat])
    qtbot.waitUntil(lambda: shown_analysis_path(window) == flat, timeout=WAIT_MS)
    window.actions["zones"].setChecked(False)
    canvas = window.canvas
    def zoom_beside_the_spot():
        x, y = expected_centre(window)
        canvas.zoom_by(1.8, x + 30, y)

    # Each step keeps the whole spot on the canvas: a clipped spot would move its centre.
    for change in (lambda: None, lambda: drag(canvas, Qt.MiddleButton, QPoint(200, 200), QPoint(300, 220)),
                   zoom_beside_the_spot, lambda: qtbot.keyClick(canvas, Qt.Key_I),
                   lambda: qtbot.keyClick(canvas, Qt.Key_1)):  # the lung window
        change()
        assert heatmap_centre(window) == pytest.approx(expected_centre(window), abs=3)


def test_h_hides_the_heatmap_and_contour_mode_draws_lines_only(qtbot, open_window, images):
    window = open_window(FakeAnalyser())
    open_and_wait(qtbot, window, [images[0]])
    qtbot.waitUntil(lambda: shown_analysis_path(window) == images[0], timeout=WAIT_MS)
    window.actions["zones"].setChecked(False)
    filled = canvas_pixels(window.canvas)
    qtbot.keyClick(window.canvas, Qt.Key_H)
    plain = canvas_pixels(window.canvas)
    qtbot.keyClick(window.canvas, Qt.Key_H)
    window.results_panel.contours.setChecked(True)
    contours = canvas_pixels(window.canvas)
    changed = lambda picture: (np.abs(picture.astype(int) - plain).sum(axis=2) > 30).sum()
    assert changed(filled) > 0
    assert 0 < changed(contours) < changed(filled) / 2


def test_pdf_export_de_identified_by_default(qtbot, open_window, images, tmp_path, monkeypatch):
    window = open_window(FakeAnalyser(), auto_analyse=False)
    open_and_wait(qtbot, window, [images[0].parent])
    with qtbot.waitSignal(window.analysis.worklistFinished, timeout=WAIT_MS):
        window.analyse_all()
    target = tmp_path / "out" / "summary.pdf"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), "PDF (*.pdf)"))
    offered = {}

    def choose_every_analysed_image(dialog):
        offered.update({button.property("scope"): button.text() for button in dialog.buttons.buttons()})
        next(button for button in dialog.buttons.buttons() if button.property("scope") == "all").setChecked(True)
        return QDialog.Accepted

    monkeypatch.setattr(ExportScopeDialog, "exec_", choose_every_analysed_image)
    qtbot.keyClick(window.canvas, Qt.Key_E, Qt.ControlModifier)
    qtbot.waitUntil(lambda: target.exists() and window.workers.is_idle(), timeout=WAIT_MS)
    assert "Saved" in window.status_label.text()
    assert offered["all"].endswith(f"({FOLDER_SIZE})") and offered["current"].endswith("(1)")
    assert pdf_pages(target) == FOLDER_SIZE
    text = pdf_text(target)
    assert "Research use only" in text and "Fake CXR 0.0" in text and "Six-zone score: 3 / 6" in text
    for private in ("Doe", "Jane", "ID-0", "ID-4", "2024", "image0", "image4"):
        assert private not in text
    assert sorted(path.name for path in target.parent.iterdir()) == ["summary.pdf"]


def test_pdf_with_patient_data_when_asked_and_selected_rows_only(qtbot, open_window, images, tmp_path):
    window = open_window(FakeAnalyser(), auto_analyse=False)
    open_and_wait(qtbot, window, [images[0].parent])
    with qtbot.waitSignal(window.analysis.worklistFinished, timeout=WAIT_MS):
        window.analyse_all()
    window.actions["deidentify_pdf"].setChecked(False)
    window.worklist.table.selectRow(1)
    analyses = window.analyses_to_report()
    assert len(analyses) == 1
    target = tmp_path / "one.pdf"
    window.write_pdf(target, analyses)
    qtbot.waitUntil(lambda: target.exists() and window.workers.is_idle(), timeout=WAIT_MS)
    assert pdf_pages(target) == 1
    assert analyses[0].identity.keys.patient_name in pdf_text(target)


def test_pdf_prints_the_image_on_screen_with_the_readers_window(qtbot, open_window, images, tmp_path):
    window = open_window(FakeAnalyser(), auto_analyse=True)
    with qtbot.waitSignal(window.analysis.analysed, timeout=WAIT_MS):
        open_and_wait(qtbot, window, [images[0]])
    qtbot.keyClick(window.canvas, Qt.Key_I)
    window.canvas.set_window(Window(300, 120, label="Reader"))
    target = tmp_path / "viewed.pdf"
    window.write_pdf(target, window.analyses_to_report())
    qtbot.waitUntil(lambda: target.exists() and window.workers.is_idle(), timeout=WAIT_MS)
    assert "WC 300 WW 120 Reader Inverted" in " ".join(pdf_text(target).split())


def test_pdf_export_never_overwrites_without_asking(qtbot, open_window, images, tmp_path, monkeypatch):
    window = open_window(FakeAnalyser())
    open_and_wait(qtbot, window, [images[0]])
    qtbot.waitUntil(lambda: images[0] in window.analysis.results, timeout=WAIT_MS)
    existing = tmp_path / "keep.pdf"
    existing.write_bytes(b"the radiologist's earlier file")
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(existing), ""))
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: asked.append(args) or QMessageBox.No)
    window.export_pdf()
    qtbot.waitUntil(window.workers.is_idle, timeout=WAIT_MS)
    assert len(asked) == 1 and existing.read_bytes() == b"the radiologist's earlier file"


def test_pdf_errors_are_reported_and_leave_nothing(qtbot, open_window, images, tmp_path):
    window = open_window(FakeAnalyser())
    open_and_wait(qtbot, window, [images[0]])
    qtbot.waitUntil(lambda: images[0] in window.analysis.results, timeout=WAIT_MS)
    target = tmp_path / "missing-folder" / "summary.pdf"
    window.write_pdf(target, window.analyses_to_report())
    qtbot.waitUntil(lambda: "not saved" in window.status_label.text(), timeout=WAIT_MS)
    assert "summary.pdf" in window.status_label.text() and "No such file or directory" in window.status_label.text()
    assert not target.parent.exists()


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_the_dock_shows_an_editable_draft_report_with_one_click_copy(panel, qtbot):
    panel.show_analysis(synthetic_analysis(Path("a.dcm")))
    draft = panel.draft.text.toPlainText()
    assert draft.startswith("FINDINGS: Pneumonia-like opacity") and "IMPRESSION:" in draft and panel.draft.isVisible()
    with qtbot.waitSignal(panel.draft.draftEdited) as edited:
        panel.draft.text.appendPlainText("Reader: agree.")
    assert edited.args[0].endswith("Reader: agree.")
    qtbot.mouseClick(panel.draft.copy_button, Qt.LeftButton)
    assert QApplication.clipboard().text().endswith("Reader: agree.")
    panel.show_analysis(synthetic_analysis(Path("b.dcm")), draft="FINDINGS: kept edit.")
    assert panel.draft.text.toPlainText() == "FINDINGS: kept edit."


def test_the_readers_draft_edit_is_kept_for_the_image(qtbot, open_window, images):
    window = open_window(FakeAnalyser())
    with qtbot.waitSignal(window.analysis.analysed, timeout=WAIT_MS):
        window.open_paths([images[0]])
    qtbot.waitUntil(lambda: window.results_panel.draft.isVisible(), timeout=WAIT_MS)
    window.results_panel.draft.text.setPlainText("IMPRESSION: the reader's own words.")
    assert window.reading.session.drafts[images[0]] == "IMPRESSION: the reader's own words."
