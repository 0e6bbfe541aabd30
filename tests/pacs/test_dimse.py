"""DIMSE end to end against the session's Orthanc: echo, C-FIND, C-GET, C-MOVE to our listener,
C-STORE, the listener's refusals, and clear messages from dead or silent nodes."""

import socket

import pydicom
import pytest
from pydicom.uid import CTImageStorage, generate_uid
from pynetdicom import AE, _config

from xraydesk.pacs.client import client_for
from xraydesk.pacs.dimse import CANNOT_UNDERSTAND, DATA_SET_DOES_NOT_MATCH, SOP_CLASS_NOT_SUPPORTED, Listener
from xraydesk.pacs.local_store import ALREADY_STORED, STORED
from xraydesk.pacs.nodes import LocalSide, Node, PacsError
from xraydesk.pacs.types import StudyQuery

PUSHER = "PUSHER"


def header(path):
    return pydicom.dcmread(path, stop_before_pixels=True)


def test_echo_answers(orthanc, local_side):
    assert client_for(orthanc.dimse_node, local_side).echo() > 0


def test_find_by_patient_id_gives_the_study_row(orthanc, local_side, rsna_files):
    original = header(rsna_files[0])
    rows = client_for(orthanc.dimse_node, local_side).find(StudyQuery(patient_id=original.PatientID))
    assert len(rows) == 1
    row = rows[0]
    assert (row.patient_id, row.patient_name, row.study_date) == (original.PatientID, str(original.PatientName),
                                                                  original.StudyDate)
    assert (row.study_uid, row.modalities, row.images) == (original.StudyInstanceUID, ("CR",), 1)


def test_find_by_date_range_and_name_wildcard(orthanc, local_side, rsna_files):
    client = client_for(orthanc.dimse_node, local_side)
    rsna_studies = {header(path).StudyInstanceUID for path in rsna_files}
    in_range = client.find(StudyQuery(study_date="19000101-19011231"))
    assert rsna_studies <= {row.study_uid for row in in_range}
    assert all("19000101" <= row.study_date <= "19011231" for row in in_range)
    assert client.find(StudyQuery(study_date="20000101-")) == []
    prefix = header(rsna_files[1]).PatientID[:6]
    assert [row.patient_id[:6] for row in client.find(StudyQuery(patient_name=f"{prefix}*"))] == [prefix]
    assert client.find(StudyQuery(modalities=("MR",))) == []


def test_retrieve_by_c_get_keeps_the_images_as_stored(orthanc, local_side, store, rsna_files):
    original = pydicom.dcmread(rsna_files[2])
    client = client_for(orthanc.dimse_node, local_side)
    progress = []
    outcome = client.retrieve(original.StudyInstanceUID, store, progress=lambda done, total: progress.append((done,
                                                                                                               total)))
    assert [stored.outcome for stored in outcome.files] == [STORED]
    path = outcome.files[0].path
    assert path.relative_to(store.root).parts == (original.StudyInstanceUID, original.SeriesInstanceUID,
                                                  f"{original.SOPInstanceUID}.dcm")
    received = pydicom.dcmread(path)
    assert received.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID  # not decompressed for us
    assert received.PixelData == original.PixelData
    assert progress[-1] == (1, 1)
    again = client.retrieve(original.StudyInstanceUID, store)
    assert [(stored.path, stored.outcome) for stored in again.files] == [(path, ALREADY_STORED)]


def test_retrieve_by_c_move_arrives_through_our_listener(orthanc, local_side, store, multi_image_study):
    outcome = client_for(orthanc.dimse_node, local_side).retrieve(multi_image_study.uid, store, move=True)
    assert (len(outcome.files), outcome.failed, outcome.cancelled) == (multi_image_study.count, 0, False)
    assert {stored.path.parent.parent.name for stored in outcome.files} == {multi_image_study.uid}
    assert all(stored.path.is_file() for stored in outcome.files)


def test_cancel_stops_a_retrieve_part_way(orthanc, local_side, store, multi_image_study):
    seen = []
    outcome = client_for(orthanc.dimse_node, local_side).retrieve(
        multi_image_study.uid, store, progress=lambda done, total: seen.append(done), should_stop=lambda: bool(seen))
    assert outcome.cancelled
    assert 1 <= len(outcome.files) < multi_image_study.count


def test_send_reports_each_file(orthanc, local_side, make_dicom, tmp_path):
    image = make_dicom("new.dcm", StudyInstanceUID=generate_uid(), SeriesInstanceUID=generate_uid())
    not_dicom = tmp_path / "notes.txt"
    not_dicom.write_text("not an image")
    outcomes = client_for(orthanc.dimse_node, local_side).send([image, not_dicom])
    assert [(outcome.path, outcome.ok) for outcome in outcomes] == [(image, True), (not_dicom, False)]
    assert "not a DICOM" in outcomes[1].message
    assert orthanc.rest_post("/tools/lookup", header(image).SOPInstanceUID)


def test_send_keeps_the_files_compression(orthanc, local_side, rsna_files, tmp_path):
    dataset = pydicom.dcmread(rsna_files[6])
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    copy = tmp_path / "copy.dcm"
    dataset.save_as(copy)
    [outcome] = client_for(orthanc.dimse_node, local_side).send([copy])
    assert outcome.ok, outcome.message
    [found] = orthanc.rest_post("/tools/lookup", dataset.SOPInstanceUID)
    meta = orthanc.rest_get(f"/instances/{found['ID']}/header")
    assert meta["0002,0010"]["Value"] == dataset.file_meta.TransferSyntaxUID  # JPEG as it was, not decompressed


@pytest.fixture
def received():
    return []


@pytest.fixture
def listener(store, received):
    """Our listener on a free port, accepting PUSHER; what it stores goes to `received`."""
    local = LocalSide(ae_title="XRAYDESK", listener_port=0, allowed_calling_aets=[PUSHER], timeout_s=5)
    with Listener(local, store, on_stored=received.append) as running:
        yield running


def raw_push(listener, path) -> int:
    """C-STORE of a file's bytes as they are (pynetdicom does not decode it): a sender we do not control."""
    ae = AE(ae_title=PUSHER)
    ae.add_requested_context(header(path).file_meta.MediaStorageSOPClassUID,
                             header(path).file_meta.TransferSyntaxUID)
    association = ae.associate("127.0.0.1", listener.port, ae_title="XRAYDESK")
    assert association.is_established
    previous, _config.STORE_SEND_CHUNKED_DATASET = _config.STORE_SEND_CHUNKED_DATASET, True
    try:
        status = association.send_c_store(path)
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = previous
        association.release()
    return int(status.Status)


def with_body(path, body: bytes, target):
    """`path`'s preamble and file meta followed by another data set body."""
    meta_end = 132 + 12 + header(path).file_meta.FileMetaInformationGroupLength
    target.write_bytes(path.read_bytes()[:meta_end] + body)
    return target


@pytest.mark.filterwarnings("ignore:Expected explicit VR")  # pydicom on the garbage
def test_listener_refuses_corrupt_objects_and_keeps_storing(listener, received, make_dicom, tmp_path, store):
    valid = make_dicom("valid.dcm")
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(valid.read_bytes()[:-1000])  # a transfer cut short inside the pixel data
    garbage = with_body(valid, bytes(range(256)) * 4, tmp_path / "garbage.dcm")
    dataset = pydicom.dcmread(valid)
    del dataset.SOPInstanceUID
    dataset.save_as(tmp_path / "no_uid.dcm")
    assert raw_push(listener, truncated) == CANNOT_UNDERSTAND
    assert raw_push(listener, garbage) in (CANNOT_UNDERSTAND, DATA_SET_DOES_NOT_MATCH)
    assert raw_push(listener, tmp_path / "no_uid.dcm") == DATA_SET_DOES_NOT_MATCH
    assert received == []
    assert raw_push(listener, valid) == 0
    assert [stored.sop_uid for stored in received] == [header(valid).SOPInstanceUID]
    assert received[0].path.read_bytes()[-64:] == valid.read_bytes()[-64:]
    assert not list((store.root / ".incoming").iterdir())


def test_listener_refuses_classes_it_does_not_keep(listener, received, make_pixelless_dicom):
    sender = LocalSide(ae_title=PUSHER, timeout_s=5)
    node = Node(ae_title="XRAYDESK", host="127.0.0.1", port=listener.port)
    [outcome] = client_for(node, sender).send([make_pixelless_dicom("ct.dcm", CTImageStorage)])
    assert not outcome.ok
    assert f"0x{SOP_CLASS_NOT_SUPPORTED:04X}" in outcome.message
    assert received == []


def test_listener_rejects_an_unknown_calling_ae_title(listener):
    node = Node(ae_title="XRAYDESK", host="127.0.0.1", port=listener.port)
    with pytest.raises(PacsError) as raised:
        client_for(node, LocalSide(ae_title="STRANGER", timeout_s=5)).echo()
    assert "Calling AE title not recognised" in str(raised.value)
    assert client_for(node, LocalSide(ae_title=PUSHER, timeout_s=5)).echo() > 0


def test_listener_on_a_busy_port_says_so(listener, store):
    local = LocalSide(listener_port=listener.port, allowed_calling_aets=[PUSHER])
    with pytest.raises(PacsError, match="cannot listen"):
        Listener(local, store).start()


def test_dead_node_names_itself_and_the_reason():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PacsError) as raised:
        client_for(Node(ae_title="GONE", host="127.0.0.1", port=port), LocalSide(timeout_s=2)).echo()
    assert str(raised.value) == f"GONE@127.0.0.1:{port}: connection refused: nothing listens on 127.0.0.1:{port}"


def test_silent_node_times_out_with_a_message():
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        node = Node(ae_title="SILENT", host="127.0.0.1", port=silent.getsockname()[1])
        with pytest.raises(PacsError, match=r"no answer to the association request within 1 s \(timeout\)"):
            client_for(node, LocalSide(timeout_s=1)).find(StudyQuery())


def test_orthanc_refusing_our_unknown_ae_title_is_explained(orthanc):
    with pytest.raises(PacsError, match="aborted by the node.*'STRANGER' is not allowed"):
        client_for(orthanc.dimse_node, LocalSide(ae_title="STRANGER", timeout_s=5)).find(StudyQuery())
