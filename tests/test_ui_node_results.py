"""Results waiting when the study opens (pytest-qt, offscreen): a folder holding a shared RSNA film and the
AI node's SR of it shows the node's answer in the dock and the worklist, "from the AI node", without
analysing the film; the heatmap is computed when shown, and for a PDF; an SR of another model version is
ignored and the film analysed afresh, as is one that cannot be read (said in one line naming its file);
the node's secondary capture is listed and shown, but refused as a film. The shipped model, counted as it
analyses."""

import shutil
import subprocess
from dataclasses import replace

import pytest
from pydicom.sr.codedict import codes
from ui_helpers import WAIT_MS, shown_window

from xraydesk.ai.analysis import TARGET_NAMES, Analyser
from xraydesk.ai.gate import XRAYDESK_RESULT
from xraydesk.ai.words import FROM_NODE, reading
from xraydesk.dicom_results import capture_display, write_dataset
from xraydesk.dicom_results.codes import code_key, concept_key
from xraydesk.dicom_results.secondary_capture import secondary_capture
from xraydesk.dicom_results.structured_report import structured_report
from xraydesk.imaging import load_image
from xraydesk.report.pdf import MAPS_NOT_COMPUTED
from xraydesk.ui.worklist import COLUMNS

FILM = "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm"
STATUS_COLUMN = COLUMNS.index("Status")


class CountingAnalyser(Analyser):
    """The shipped model, counting the images it analyses."""

    def __init__(self):
        super().__init__()
        self.analysed = []

    def analyse(self, image):
        self.analysed.append(image.path)
        return super().analyse(image)


@pytest.fixture(scope="module")
def analyser():
    return CountingAnalyser()


@pytest.fixture(scope="module")
def node_analysis(dicom_dir, analyser):
    image = load_image(dicom_dir / "rsna" / FILM)
    return image, analyser.analyse(image)


def study_folder(tmp_path, dicom_dir, node_analysis, model_version=None, capture=False, report_content=None):
    """The film and the node's SR of it (`capture`: and its secondary capture; `report_content(report)`
    changes the SR's content), as a retrieve puts them in a study folder."""
    image, analysis = node_analysis
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(dicom_dir / "rsna" / FILM, folder / FILM)
    made = replace(analysis, model_version=model_version or analysis.model_version)
    report = structured_report(made, image.dataset)
    if report_content:
        report_content(report)
    write_dataset(report, folder)
    if capture:
        write_dataset(secondary_capture(made, image.dataset, capture_display(image)), folder)
    return folder


@pytest.fixture
def window(qtbot, analyser):
    window = shown_window(qtbot, analyser, auto_analyse=True)
    yield window
    window.close()


def open_study(qtbot, window, folder, analyser, heatmap=False):
    for overlay in ("heatmap", "zones"):
        window.reading.options.set(overlay, heatmap)
    analyser.analysed.clear()
    window.open_paths([folder])


def test_the_nodes_result_shows_without_analysing_and_the_heatmap_is_computed_when_shown(
        qtbot, window, analyser, dicom_dir, node_analysis, tmp_path):
    folder = study_folder(tmp_path, dicom_dir, node_analysis)
    open_study(qtbot, window, folder, analyser)
    panel = window.results_panel
    qtbot.waitUntil(lambda: "from the AI node" in panel.status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.worklist.table.rowCount() == 1 and window.workers.is_idle(), timeout=WAIT_MS)
    shown = window.reading.current_analysis()
    when = FROM_NODE.format(shown.from_node_at)
    assert panel.status.text().endswith(when) and panel.reading.text() == reading(node_analysis[1])
    assert window.worklist.table.item(0, STATUS_COLUMN).text().endswith(when)
    assert analyser.analysed == []  # the node's answer, not the model's
    assert window.reading.session.image_count() == 1  # the SR is no image of its own

    window.actions["heatmap"].trigger()  # H: the heatmap is shown, so computed now
    qtbot.waitUntil(lambda: bool(window.heatmap_layer.analysis.heatmaps), timeout=WAIT_MS)
    qtbot.waitUntil(window.workers.is_idle, timeout=WAIT_MS)
    assert analyser.analysed == [folder / FILM]
    assert window.reading.current_analysis().from_node_at == shown.from_node_at  # still the node's answer
    assert panel.status.text().endswith(when)


def test_a_result_of_another_model_version_is_analysed_afresh(qtbot, window, analyser, dicom_dir, node_analysis,
                                                              tmp_path):
    folder = study_folder(tmp_path, dicom_dir, node_analysis, model_version="XRayDesk CXR 0.0.1")
    open_study(qtbot, window, folder, analyser)
    qtbot.waitUntil(lambda: "analysed in" in window.results_panel.status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(window.workers.is_idle, timeout=WAIT_MS)
    assert analyser.analysed == [folder / FILM]
    assert window.reading.current_analysis().from_node_at is None


def test_the_pdf_of_the_nodes_result_shows_its_heatmap_computed_for_it(qtbot, window, analyser, dicom_dir,
                                                                       node_analysis, tmp_path):
    folder = study_folder(tmp_path, dicom_dir, node_analysis)
    open_study(qtbot, window, folder, analyser)  # overlays off: the maps are not computed for the screen
    qtbot.waitUntil(lambda: "from the AI node" in window.results_panel.status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(window.workers.is_idle, timeout=WAIT_MS)
    assert analyser.analysed == [] and window.reading.current_analysis().lacks_maps
    target = tmp_path / "summary.pdf"
    window.write_pdf(target, window.analyses_to_report("all"))
    qtbot.waitUntil(lambda: target.exists() and window.workers.is_idle(), timeout=WAIT_MS)
    assert analyser.analysed == [folder / FILM]  # on the worker, for the page
    text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True, check=True).stdout
    assert f"Map: {TARGET_NAMES['opacity']}" in text and MAPS_NOT_COMPUTED not in text


def without_measurements(report):
    """The SR's content as a truncated copy might hold it: its measurements gone."""
    report.ContentSequence = [item for item in report.ContentSequence
                              if concept_key(item) != code_key(codes.DCM.ImagingMeasurements)]


def test_a_node_result_that_cannot_be_read_is_named_in_one_line_and_the_film_analysed_afresh(
        qtbot, window, analyser, dicom_dir, node_analysis, tmp_path):
    folder = study_folder(tmp_path, dicom_dir, node_analysis, report_content=without_measurements)
    [report] = [path for path in folder.iterdir() if path.name != FILM]
    messages = []
    window.analysis.message.connect(messages.append)
    open_study(qtbot, window, folder, analyser)
    qtbot.waitUntil(lambda: "analysed in" in window.results_panel.status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: bool(messages) and window.workers.is_idle(), timeout=WAIT_MS)
    reason = "not readable as XRayDesk's AI result (ValueError: no Imaging Measurements in its content)"
    assert messages == [f"{report.name}: {reason}"]
    assert analyser.analysed == [folder / FILM]
    assert window.reading.current_analysis().from_node_at is None


def test_the_nodes_secondary_capture_is_shown_but_refused_as_a_film(qtbot, window, analyser, dicom_dir,
                                                                    node_analysis, tmp_path):
    folder = study_folder(tmp_path, dicom_dir, node_analysis, capture=True)
    open_study(qtbot, window, folder, analyser)
    qtbot.waitUntil(lambda: window.reading.session.image_count() == 2 and window.workers.is_idle(), timeout=WAIT_MS)
    [capture] = [path for path in window.reading.session.image_paths() if path.name != FILM]
    with qtbot.waitSignal(window.analysis.worklistFinished, timeout=WAIT_MS):
        window.analyse_all()
    rows = {window.worklist.path_at(row): window.worklist.table.item(row, STATUS_COLUMN).text()
            for row in range(window.worklist.table.rowCount())}
    assert rows[capture] == f"refused: {XRAYDESK_RESULT}"
    assert rows[folder / FILM].endswith(FROM_NODE.format(window.reading.analyses[folder / FILM].from_node_at))
    window.show_path(capture)  # shown, for the reader to look at; the dock says why it has no answer
    qtbot.waitUntil(lambda: window.canvas.image is not None and window.canvas.image.path == capture, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: XRAYDESK_RESULT in window.results_panel.status.text(), timeout=WAIT_MS)
