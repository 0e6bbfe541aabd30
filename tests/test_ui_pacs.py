"""The PACS in the window (pytest-qt, offscreen) against a real Orthanc: the query dialog fills its
table, a retrieve opens the study in the browser, Test connection says why a dead node fails, the
listener receives a study pushed by Orthanc (and says so when its port is taken), and Send results
stores an SR and a secondary capture in the image's study, skipping what it cannot send with the
reason."""

import contextlib
import json
import shutil
import socket

import numpy as np
import pydicom
import pytest
from fakes import FakeAnalyser
from pacs.orthanc_server import free_port, serve_for_tests
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QMessageBox
from ui_helpers import WAIT_MS, open_and_wait, wait_for_image

from xraydesk.pacs.dimse import SOP_CLASS_NOT_SUPPORTED
from xraydesk.pacs.local_store import LocalStore, default_store_root
from xraydesk.pacs.nodes import (
    LocalSide,
    Node,
    PacsSettings,
    load_settings,
    save_settings,
)
from xraydesk.ui.main_window import MainWindow, settings
from xraydesk.ui.pacs_dialogs import PacsSettingsDialog, SendResultsDialog
from xraydesk.ui.worklist import COLUMNS

UPLOADED = 2  # RSNA films in the test PACS: one to find and retrieve, one to send results of


@pytest.fixture(scope="module")
def rsna_files(dicom_dir):
    files = sorted((dicom_dir / "rsna").glob("*.dcm"))[:UPLOADED]
    if len(files) < UPLOADED:
        pytest.skip(f"fewer than {UPLOADED} RSNA DICOM files in {dicom_dir / 'rsna'}")
    return files


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory, rsna_files):
    yield from serve_for_tests(tmp_path_factory.mktemp("orthanc"), rsna_files)


def orthanc_settings(orthanc) -> PacsSettings:
    """Our side as Orthanc knows it (AE title, C-MOVE port) and both of its faces, DIMSE first."""
    return PacsSettings(local=LocalSide(ae_title=orthanc.our_aet, listener_port=orthanc.our_port, timeout_s=10),
                        nodes=[orthanc.dimse_node, orthanc.dicomweb_node])


@pytest.fixture
def window(qtbot, orthanc):
    window = MainWindow(FakeAnalyser())
    window.actions["auto_analyse"].setChecked(False)
    qtbot.addWidget(window)
    window.pacs.save_settings(orthanc_settings(orthanc))
    window.show()
    yield window
    window.close()


def patient_id(path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).PatientID)


@pytest.mark.parametrize(("node", "move"), [("test Orthanc", False), ("test Orthanc", True),
                                            ("test Orthanc DICOMweb", False)], ids=["C-GET", "C-MOVE", "WADO-RS"])
def test_query_dialog_fills_its_table_from_orthanc_and_a_retrieve_opens_the_study(qtbot, window, rsna_files, node,
                                                                                 move, make_dicom):
    if move:  # C-MOVE to the app's own listener, running meanwhile
        window.pacs.node_named(node).retrieve_by_move = True
        window.actions["listener"].trigger()
        qtbot.waitUntil(lambda: window.pacs.listener is not None, timeout=WAIT_MS)
    local = make_dicom("local.dcm")
    open_and_wait(qtbot, window, [local])
    wait_for_image(qtbot, window, local)
    window.show_pacs_query()
    dialog = window.query_dialog
    assert [dialog.node.itemText(index) for index in range(dialog.node.count())] == [
        "test Orthanc", "test Orthanc DICOMweb"]
    dialog.node.setCurrentText(node)
    dialog.patient_id.setText(patient_id(rsna_files[0]))
    qtbot.mouseClick(dialog.search_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.results.rowCount() == 1, timeout=WAIT_MS)
    cells = [dialog.results.item(0, column).text() for column in range(dialog.results.columnCount())]
    assert cells[1:3] == [patient_id(rsna_files[0]), "1901-01-01"] and cells[4:] == ["CR", "1"]
    assert dialog.status.text() == "1 study found."

    dialog.results.selectRow(0)
    # With C-MOVE the study comes through the listener; with C-GET and WADO-RS on the retrieve's own connection.
    with qtbot.waitSignal(window.pacs.received, timeout=WAIT_MS) if move else contextlib.nullcontext():
        qtbot.mouseClick(dialog.retrieve_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: "Retrieved 1 study" in dialog.status.text(), timeout=WAIT_MS)
    store = default_store_root()
    qtbot.waitUntil(lambda: store in window.canvas.image.path.parents, timeout=WAIT_MS)  # the retrieved image opens
    retrieved = window.canvas.image.path
    assert sorted(window.browser.image_paths()) == sorted([local, retrieved])  # beside the studies open before
    assert pydicom.dcmread(retrieved).SOPInstanceUID == pydicom.dcmread(rsna_files[0]).SOPInstanceUID
    assert not dialog.cancel_button.isEnabled() and not dialog.progress.isVisible()


def test_a_study_retrieved_while_it_is_open_is_one_image_named_by_its_numbers(qtbot, window, rsna_files):
    original = rsna_files[0]
    open_and_wait(qtbot, window, [original])  # from its own folder
    window.show_pacs_query()
    dialog = window.query_dialog
    dialog.node.setCurrentText("test Orthanc")
    dialog.patient_id.setText(patient_id(original))
    qtbot.mouseClick(dialog.search_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.results.rowCount() == 1, timeout=WAIT_MS)
    dialog.results.selectRow(0)
    with qtbot.waitSignal(window.studies.scanFinished, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.retrieve_button, Qt.LeftButton)  # a copy into the local store
    qtbot.waitUntil(lambda: window.workers.is_idle(), timeout=WAIT_MS)
    assert window.browser.image_paths() == [original] and window.reading.session.summary() == "1 image"

    header = pydicom.dcmread(original, stop_before_pixels=True)
    study = LocalStore().study_folder(header.StudyInstanceUID)
    open_and_wait(qtbot, window, [study])  # the copy alone, named <SOP Instance UID>.dcm
    assert window.browser.image_paths()[0].name == f"{header.SOPInstanceUID}.dcm"
    window.browser.select_path(window.browser.image_paths()[0])
    assert window.browser.currentItem().text(0) == "series 1, image 1"  # not "1: 1.2.276…"
    window.analyse_all()
    qtbot.waitUntil(lambda: window.worklist.table.rowCount() == 1 and window.workers.is_idle(), timeout=WAIT_MS)
    assert window.worklist.table.item(0, COLUMNS.index("Image")).text() == "series 1, image 1"


def test_test_connection_says_why_a_dead_node_fails_and_ok_saves_the_nodes(qtbot, window, orthanc):
    dialog = PacsSettingsDialog(window.pacs, window)
    qtbot.addWidget(dialog)
    dialog.timeout.setValue(3)
    dialog.add_dimse_button.click()
    dialog.form.name.setText("Dead PACS")
    dialog.form.name.textEdited.emit("Dead PACS")
    dialog.form.ae_title.setText("NOBODY")
    dialog.form.ae_title.textEdited.emit("NOBODY")
    dialog.form.host.setText("127.0.0.1")
    dialog.form.host.textEdited.emit("127.0.0.1")
    closed_port = free_port()
    dialog.form.port.setValue(closed_port)
    assert dialog.nodes.item(2, 2).text() == f"NOBODY@127.0.0.1:{closed_port}"
    qtbot.mouseClick(dialog.test_button, Qt.LeftButton)
    assert dialog.test_result.text().startswith("Testing")  # the answer comes from a worker
    qtbot.waitUntil(lambda: dialog.test_result.text().startswith("Failed"), timeout=WAIT_MS)
    assert f"connection refused: nothing listens on 127.0.0.1:{closed_port}" in dialog.test_result.text()
    assert "Traceback" not in dialog.test_result.text()

    dialog.nodes.selectRow(0)
    qtbot.mouseClick(dialog.test_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.test_result.text().startswith("Connected"), timeout=WAIT_MS)
    assert "test Orthanc" in dialog.test_result.text() and " ms" in dialog.test_result.text()

    dialog.accept()
    saved = load_settings()
    assert [node.name for node in saved.nodes] == ["test Orthanc", "test Orthanc DICOMweb", "Dead PACS"]
    assert saved.nodes[2] == Node(name="Dead PACS", ae_title="NOBODY", host="127.0.0.1", port=closed_port)
    assert saved.local.timeout_s == 3


def push(path, port: int, calling: str) -> int:
    """C-STORE of one file to our listener as `calling`; the status it answered."""
    dataset = pydicom.dcmread(path)
    ae = AE(ae_title=calling)
    ae.add_requested_context(dataset.SOPClassUID, ExplicitVRLittleEndian)
    association = ae.associate("127.0.0.1", port, ae_title="XRAYDESK")
    assert association.is_established
    try:
        return int(association.send_c_store(dataset).Status)
    finally:
        association.release()


def test_listener_receives_a_study_pushed_by_orthanc_and_reports_a_taken_port(qtbot, window, orthanc, rsna_files,
                                                                             make_pixelless_dicom):
    window.actions["listener"].trigger()
    qtbot.waitUntil(lambda: window.pacs.listener is not None, timeout=WAIT_MS)
    assert window.actions["listener"].isChecked() and settings().value("pacs_listener", type=bool)
    assert window.status_label.text() == f"Listening as {orthanc.our_aet}@127.0.0.1:{orthanc.our_port}"
    # Orthanc pushes with its own AE title: a saved node, hence allowed.
    instance = orthanc.rest_post("/tools/lookup", pydicom.dcmread(rsna_files[1]).SOPInstanceUID)[0]["ID"]
    orthanc.rest_post("/modalities/xraydesk/store", json.dumps({"Resources": [instance], "Synchronous": True}))
    qtbot.waitUntil(lambda: len(window.browser.image_paths()) == 1, timeout=WAIT_MS)
    stored = window.browser.image_paths()[0]
    assert default_store_root() in stored.parents
    wait_for_image(qtbot, window, stored)  # nothing was open: the received image shows

    # What XRayDesk does not keep is refused with a DICOM status and said in the status bar; the listener goes on.
    assert push(make_pixelless_dicom("ct.dcm"), orthanc.our_port, calling=orthanc.aet) == SOP_CLASS_NOT_SUPPORTED
    qtbot.waitUntil(lambda: "CT Image Storage is not kept by XRayDesk" in window.status_label.text(), timeout=WAIT_MS)
    assert window.pacs.listener.running and window.browser.image_paths() == [stored]

    window.actions["listener"].trigger()
    qtbot.waitUntil(lambda: window.pacs.listener is None, timeout=WAIT_MS)
    assert window.status_label.text() == "Listener stopped"

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        local = window.pacs.settings.local
        local.listener_port = taken.getsockname()[1]
        window.actions["listener"].trigger()
        box = None

        def failed():
            nonlocal box
            box = next((child for child in window.findChildren(QMessageBox) if child.isVisible()), None)
            return box is not None

        qtbot.waitUntil(failed, timeout=WAIT_MS)
    assert "cannot listen" in box.text() and str(local.listener_port) in box.text()
    assert not window.actions["listener"].isChecked() and window.pacs.listener is None
    box.close()


def test_send_results_stores_the_sr_in_the_image_study_and_skips_what_it_cannot_send(qtbot, window, orthanc,
                                                                                   rsna_files, tmp_path):
    source = rsna_files[1]
    folder = tmp_path / "reading"
    folder.mkdir()
    dicom = shutil.copy(source, folder / source.name)
    png = folder / "photo.png"
    Image.fromarray(np.add.outer(np.arange(128), np.arange(128)).astype(np.uint8)).save(png)
    open_and_wait(qtbot, window, [folder])
    wait_for_image(qtbot, window)
    window.analyse_all()
    qtbot.waitUntil(lambda: window.worklist.table.rowCount() == 2 and window.workers.is_idle(), timeout=WAIT_MS)
    window.worklist.table.selectAll()
    window.send_results_to_pacs()
    dialog = window.findChild(SendResultsDialog)
    assert dialog.node.currentText() == "test Orthanc"
    qtbot.mouseClick(dialog.send_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Results of"), timeout=WAIT_MS)
    outcomes = {dialog.images.item(row, 0).text(): dialog.images.item(row, 1).text() for row in range(2)}
    assert outcomes == {source.name: "sent (SR and secondary capture)",
                        "photo.png": "skipped: photo.png: a PNG image has no DICOM study to attach the result to"}
    assert dialog.status.text() == "Results of 1 of 2 images sent."
    assert not dialog.send_button.isEnabled()  # a second send would store a second copy

    header = pydicom.dcmread(dicom, stop_before_pixels=True)
    found = orthanc.rest_post("/tools/find", json.dumps({"Level": "Instance", "Expand": True,
                                                         "Query": {"StudyInstanceUID": header.StudyInstanceUID}}))
    modalities = sorted(instance["MainDicomTags"].get("Modality") or
                        orthanc.rest_get(f"/instances/{instance['ID']}/simplified-tags")["Modality"]
                        for instance in found)
    assert modalities == ["CR", "OT", "SR"]  # the film, its secondary capture and the report, in one study
    report = next(instance for instance in found
                  if orthanc.rest_get(f"/instances/{instance['ID']}/simplified-tags")["Modality"] == "SR")
    tags = orthanc.rest_get(f"/instances/{report['ID']}/simplified-tags")
    evidence = tags["CurrentRequestedProcedureEvidenceSequence"][0]["ReferencedSeriesSequence"][0]
    assert evidence["ReferencedSOPSequence"][0]["ReferencedSOPInstanceUID"] == header.SOPInstanceUID
    written = sorted((default_store_root() / "results").rglob("*.dcm"))
    assert len(written) == 2 and all(path.parent.name == header.StudyInstanceUID for path in written)
    assert sorted(path.name for path in folder.iterdir()) == sorted([source.name, "photo.png"])  # sources untouched


def test_a_listener_left_on_starts_with_the_window_and_stops_when_it_closes(qtbot, orthanc):
    save_settings(orthanc_settings(orthanc))
    settings().setValue("pacs_listener", True)
    window = MainWindow(FakeAnalyser())
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.pacs.listener is not None, timeout=WAIT_MS)
    assert window.actions["listener"].isChecked()
    window.close()
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server binds: despite TIME_WAIT
        probe.bind(("127.0.0.1", orthanc.our_port))
        probe.listen()  # the port is free again: the listener stopped
