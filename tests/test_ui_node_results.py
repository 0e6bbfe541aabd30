"""Results waiting when the study opens (pytest-qt, offscreen): a folder holding a shared RSNA film and the
AI node's SR of it shows the node's answer in the dock and the worklist, "from the AI node", without
analysing the film; the heatmap is computed when shown; an SR of another model version is ignored and the
film analysed afresh. The shipped model, counted as it analyses."""

import shutil
from dataclasses import replace

import pytest
from ui_helpers import WAIT_MS, shown_window

from xraydesk.ai.analysis import Analyser
from xraydesk.ai.words import FROM_NODE, reading
from xraydesk.dicom_results import write_dataset
from xraydesk.dicom_results.structured_report import structured_report
from xraydesk.imaging import load_image
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


def study_folder(tmp_path, dicom_dir, node_analysis, model_version=None):
    """The film and the node's SR of it, as a retrieve puts them in a study folder."""
    image, analysis = node_analysis
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(dicom_dir / "rsna" / FILM, folder / FILM)
    made = replace(analysis, model_version=model_version or analysis.model_version)
    write_dataset(structured_report(made, image.dataset), folder)
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
