"""DICOMweb end to end against the session's Orthanc (basic auth): QIDO-RS find, WADO-RS retrieve
into the local store, STOW-RS send, and clear messages for a dead URL, a wrong root and a wrong
password."""

import socket
from dataclasses import replace

import pydicom
import pytest
from pydicom.uid import generate_uid

from xraydesk.pacs.client import client_for
from xraydesk.pacs.local_store import ALREADY_STORED, STORED
from xraydesk.pacs.nodes import LocalSide, Node, PacsError
from xraydesk.pacs.types import StudyQuery


def header(path):
    return pydicom.dcmread(path, stop_before_pixels=True)


@pytest.fixture
def web(orthanc):
    return client_for(orthanc.dicomweb_node, LocalSide(timeout_s=10))


def test_echo_answers(web):
    assert web.echo() > 0


def test_find_by_patient_id_date_and_name(web, rsna_files):
    original = header(rsna_files[3])
    [row] = web.find(StudyQuery(patient_id=original.PatientID))
    assert (row.study_uid, row.patient_name, row.study_date, row.modalities, row.images) == (
        original.StudyInstanceUID, str(original.PatientName), original.StudyDate, ("CR",), 1)
    in_range = web.find(StudyQuery(study_date="19000101-19011231"))
    assert {header(path).StudyInstanceUID for path in rsna_files} <= {row.study_uid for row in in_range}
    assert web.find(StudyQuery(study_date="20000101-")) == []
    prefix = original.PatientID[:6]
    assert [row.patient_id for row in web.find(StudyQuery(patient_name=f"{prefix}*"))] == [original.PatientID]


def test_retrieve_by_wado_rs_keeps_the_images_as_stored(web, store, multi_image_study):
    progress = []
    outcome = web.retrieve(multi_image_study.uid, store, progress=lambda done, total: progress.append((done, total)))
    assert [stored.outcome for stored in outcome.files] == [STORED] * multi_image_study.count
    assert progress[-1] == (multi_image_study.count, multi_image_study.count)
    received = pydicom.dcmread(outcome.files[0].path)
    assert received.StudyInstanceUID == multi_image_study.uid
    assert received.file_meta.TransferSyntaxUID.is_compressed  # as stored, not decompressed for us
    again = web.retrieve(multi_image_study.uid, store)
    assert {stored.outcome for stored in again.files} == {ALREADY_STORED}


def test_move_and_unknown_studies_are_refused(web, store, multi_image_study):
    with pytest.raises(PacsError, match="C-MOVE is a DIMSE service"):
        web.retrieve(multi_image_study.uid, store, move=True)
    with pytest.raises(PacsError, match="the node holds no study 1.2.3.999"):
        web.retrieve("1.2.3.999", store)


def test_send_by_stow_rs_reports_each_file(web, orthanc, make_dicom, tmp_path):
    image = make_dicom("stow.dcm", StudyInstanceUID=generate_uid(), SeriesInstanceUID=generate_uid())
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    outcomes = web.send([image, empty])
    assert [(outcome.path, outcome.ok) for outcome in outcomes] == [(image, True), (empty, False)]
    assert outcomes[1].message.startswith("not sent: ")
    assert orthanc.rest_post("/tools/lookup", header(image).SOPInstanceUID)


def test_dead_url_names_itself_and_the_reason():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/dicom-web"
    with pytest.raises(PacsError) as raised:
        client_for(Node(url=url), LocalSide(timeout_s=2)).find(StudyQuery())
    assert str(raised.value) == f"{url}: QIDO-RS: connection refused: nothing listens at this address"


def test_wrong_root_and_wrong_password_are_explained(orthanc):
    wrong_root = replace(orthanc.dicomweb_node, url=f"{orthanc.http_url}/not-dicom-web")
    with pytest.raises(PacsError, match="HTTP 404 not found: is the URL the DICOMweb root"):
        client_for(wrong_root, LocalSide(timeout_s=5)).echo()
    wrong_password = replace(orthanc.dicomweb_node, secret="wrong")
    with pytest.raises(PacsError, match="HTTP 401 unauthorized: check the user name and password"):
        client_for(wrong_password, LocalSide(timeout_s=5)).echo()
