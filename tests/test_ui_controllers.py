"""The controllers that run the reading model's work on workers, without a window (pytest-qt): the
session controller scans what Open and Add folder bring, the analysis controller feeds the model, and
results of a study no longer open never reach it (the Open rule)."""

import numpy as np
import pytest
from fakes import FakeAnalyser
from ui_helpers import WAIT_MS

from xraydesk.reading import Reading
from xraydesk.ui.analysis_controller import AnalysisController
from xraydesk.ui.session_controller import SessionController
from xraydesk.ui.workers import WorkerPool


@pytest.fixture
def folders(make_dicom, tmp_path):
    """Two folders of two images each, a patient per folder."""
    pixels = np.add.outer(np.arange(64), np.arange(64)).astype(np.uint16)
    made = {}
    for folder in "ab":
        (tmp_path / folder).mkdir()
        made[folder] = [make_dicom(f"{folder}/{folder}{index}.dcm", pixels, PatientID=f"ID-{folder}",
                                   StudyInstanceUID=f"1.2.{ord(folder)}", InstanceNumber=index) for index in range(2)]
    return made


class Controllers:
    def __init__(self, analyser):
        self.workers = WorkerPool()
        self.reading = Reading(analyser)
        self.studies = SessionController(self.reading.session, self.workers)
        self.analysis = AnalysisController(self.workers, self.reading)
        self.rows = []
        self.analysis.worklistEntry.connect(self.rows.append)

    def open(self, qtbot, folder, replace=True):
        self.studies.open_paths([folder], replace)
        qtbot.waitUntil(self.workers.is_idle, timeout=WAIT_MS)


@pytest.fixture
def controllers(qtbot):
    made = []

    def make(analyser):
        made.append(Controllers(analyser))
        return made[-1]

    yield make
    for each in made:
        each.workers.shutdown()


def test_a_worklist_of_a_folder_no_longer_open_never_reaches_the_model(qtbot, controllers, folders):
    analyser = FakeAnalyser(hold=True)
    app = controllers(analyser)
    app.open(qtbot, folders["a"][0].parent)
    app.analysis.analyse_paths(app.reading.session.image_paths())
    app.studies.open_paths([folders["b"][0].parent])  # File ▸ Open while the worklist runs
    analyser.release()
    qtbot.waitUntil(app.workers.is_idle, timeout=WAIT_MS)
    assert app.reading.session.image_paths() == folders["b"]
    assert sorted(analyser.analysed) == folders["a"]  # analysed, but of a study no longer open
    assert not app.reading.analyses and app.rows == []


def test_add_folder_keeps_the_analyses_and_analyse_all_reuses_them(qtbot, controllers, folders):
    analyser = FakeAnalyser()
    app = controllers(analyser)
    app.open(qtbot, folders["a"][0].parent)
    with qtbot.waitSignal(app.analysis.worklistFinished, timeout=WAIT_MS):
        app.analysis.analyse_paths(app.reading.session.image_paths())
    app.open(qtbot, folders["b"][0].parent, replace=False)  # File ▸ Add folder
    with qtbot.waitSignal(app.analysis.worklistFinished, timeout=WAIT_MS) as finished:
        app.analysis.analyse_paths(app.reading.session.image_paths())
    assert finished.args == ["Analysed 4 images."]
    assert sorted(app.reading.analyses) == sorted(folders["a"] + folders["b"])
    assert sorted(analyser.analysed) == sorted(folders["a"] + folders["b"])  # the first two once only


def test_the_image_on_screen_is_analysed_on_open_and_a_held_result_of_a_closed_study_is_dropped(qtbot, controllers,
                                                                                               folders):
    analyser = FakeAnalyser(hold=True)
    app = controllers(analyser)
    app.reading.analysis_wanted.connect(app.analysis.request)  # as the window wires it
    app.studies.imageReady.connect(app.reading.show)
    app.open(qtbot, folders["a"][0].parent)
    with qtbot.waitSignal(app.analysis.analysisStarted, timeout=WAIT_MS):
        app.studies.show(folders["a"][0])
    assert app.reading.current.path == folders["a"][0]
    analysed = []
    app.analysis.analysed.connect(analysed.append)
    app.studies.open_paths([folders["b"][0].parent])
    analyser.release()
    qtbot.waitUntil(app.workers.is_idle, timeout=WAIT_MS)
    assert analysed == [] and not app.reading.analyses and app.reading.current is None
