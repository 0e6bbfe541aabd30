"""`xraydesk pacs ...` against the session's Orthanc: run in-process through the CLI's main(), and
`listen` in a subprocess (it runs until Ctrl+C)."""

import csv
import io
import json
import shutil
import signal
import socket
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from fakes import FakeAnalyser
from PIL import Image

from xraydesk.cli import main
from xraydesk.commands.pacs import pacs_main
from xraydesk.pacs.client import client_for
from xraydesk.pacs.nodes import LocalSide, Node, PacsSettings, save_settings


def header(path):
    return pydicom.dcmread(path, stop_before_pixels=True)


def dimse_address(orthanc) -> str:
    return f"{orthanc.aet}@{orthanc.host}:{orthanc.dicom_port}"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["pacs", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_echo_ok_and_dead_node(orthanc, capsys):
    code, out, _ = run(capsys, "echo", dimse_address(orthanc))
    assert code == 0 and f"{dimse_address(orthanc)} answered C-ECHO" in out
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"GONE@127.0.0.1:{probe.getsockname()[1]}"
    code, out, err = run(capsys, "echo", dead, "--timeout", "2")
    assert code == 2
    address = dead.split("@")[1]
    assert err.strip().splitlines() == [f"xraydesk pacs: echo: {dead}: connection refused: nothing listens on {address}"]


def test_find_as_csv_and_table(orthanc, capsys, rsna_files):
    original = header(rsna_files[4])
    code, out, _ = run(capsys, "find", dimse_address(orthanc), "--patient-id", original.PatientID, "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(row["ID"], row["Study UID"], row["Modalities"], row["Images"]) for row in rows] == [
        (original.PatientID, original.StudyInstanceUID, "CR", "1")]
    code, out, err = run(capsys, "find", dimse_address(orthanc), "--date", "19000101-19011231", "--modality", "CR")
    lines = out.splitlines()
    assert code == 0, err
    assert lines[0].split()[:3] == ["Patient", "ID", "Date"]
    assert sum(original.StudyInstanceUID in line for line in lines) == 1


def test_find_rejects_a_bad_date_as_usage(orthanc, capsys):
    code, _, err = run(capsys, "find", dimse_address(orthanc), "--date", "2024-01-01")
    assert code == 2 and "is not a date range" in err


def test_find_through_a_saved_dicomweb_node(orthanc, capsys, rsna_files):
    save_settings(PacsSettings(nodes=[orthanc.dicomweb_node]))
    original = header(rsna_files[5])
    code, out, err = run(capsys, "find", orthanc.dicomweb_node.name, "--patient-id", original.PatientID, "--csv")
    assert code == 0, err
    assert original.StudyInstanceUID in out


def test_find_with_basic_auth_from_the_environment(orthanc, capsys, monkeypatch):
    monkeypatch.setenv("XRAYDESK_PACS_PASSWORD", "wrong")
    code, _, err = run(capsys, "echo", orthanc.dicomweb_url, "--user", orthanc.username)
    assert code == 2 and "HTTP 401" in err
    monkeypatch.setenv("XRAYDESK_PACS_PASSWORD", orthanc.password)
    code, out, _ = run(capsys, "echo", orthanc.dicomweb_url, "--user", orthanc.username)
    assert code == 0 and "answered QIDO-RS" in out


@pytest.mark.parametrize("method", [[], ["--move"]], ids=["c-get", "c-move"])
def test_retrieve_into_a_folder(orthanc, capsys, tmp_path, multi_image_study, method):
    port = ["--port", orthanc.our_port] if method else []
    code, out, _ = run(capsys, "retrieve", dimse_address(orthanc), multi_image_study.uid, "--to", tmp_path / "got",
                       *method, *port)
    assert code == 0, out
    assert f"retrieved {multi_image_study.count} file(s)" in out
    assert len(list((tmp_path / "got" / multi_image_study.uid).rglob("*.dcm"))) == multi_image_study.count


def test_retrieve_of_an_unknown_study_fails(orthanc, capsys, tmp_path):
    code, _, err = run(capsys, "retrieve", dimse_address(orthanc), "1.2.3.999", "--to", tmp_path)
    assert code == 2
    assert err == f"xraydesk pacs: retrieve: {dimse_address(orthanc)}: the node holds no study 1.2.3.999\n"


def test_send_files_and_folders(orthanc, capsys, make_dicom, tmp_path):
    outgoing = tmp_path / "outgoing"
    outgoing.mkdir()
    image = make_dicom("outgoing/one.dcm", StudyInstanceUID="1.2.826.0.1.3680043.8.498.1",
                       SeriesInstanceUID="1.2.826.0.1.3680043.8.498.2")
    (outgoing / "readme.txt").write_text("no image")
    code, out, _ = run(capsys, "send", dimse_address(orthanc), image)
    assert code == 0 and "sent 1 of 1 file(s)" in out
    code, _, err = run(capsys, "send", orthanc.dicomweb_node.url, outgoing, "--user", orthanc.username)
    assert code == 2 and "set $XRAYDESK_PACS_PASSWORD" in err  # said before anything is sent
    code, out, _ = run(capsys, "send", dimse_address(orthanc), outgoing)
    assert code == 1 and "FAILED" in out and "readme.txt" in out and "sent 1 of 2 file(s)" in out


def study_modalities(orthanc, study_uid: str) -> list[str]:
    found = orthanc.rest_post("/tools/find", json.dumps({"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}}))
    return sorted(orthanc.rest_get(f"/instances/{instance}/simplified-tags")["Modality"] for instance in found)


def test_send_results_runs_the_apps_job_each_result_in_its_study_and_says_what_was_skipped(orthanc, capsys,
                                                                                           rsna_files, tmp_path):
    source = rsna_files[3]
    folder = tmp_path / "reading"
    folder.mkdir()
    dicom = shutil.copy(source, folder / source.name)
    Image.fromarray(np.add.outer(np.arange(128), np.arange(128)).astype(np.uint8)).save(folder / "photo.png")
    study_uid = str(header(dicom).StudyInstanceUID)
    before = study_modalities(orthanc, study_uid)
    code = pacs_main(["send-results", dimse_address(orthanc), str(folder)], analyser=FakeAnalyser())
    out = capsys.readouterr().out
    assert code == 1  # partial: the PNG has no study to send to
    assert f"sent  {dicom}: sent (SR and secondary capture)" in out
    assert f"FAILED  {folder / 'photo.png'}: skipped: photo.png: a PNG image has no DICOM study" in out
    assert "sent the results of 1 of 2 image(s)" in out
    assert study_modalities(orthanc, study_uid) == sorted([*before, "OT", "SR"])


def test_listen_stores_pushed_files_until_ctrl_c(tmp_path, make_dicom):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listener = subprocess.Popen(
        [sys.executable, "-m", "xraydesk", "pacs", "listen", "--aet", "XRAYDESK", "--port", str(port), "--to",
         str(tmp_path / "received"), "--allow", "PUSHER"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening as XRAYDESK@127.0.0.1:" in listener.stdout.readline()
        image = make_dicom("pushed.dcm")
        pusher = client_for(Node(ae_title="XRAYDESK", host="127.0.0.1", port=port), LocalSide(ae_title="PUSHER"))
        assert pusher.send([image])[0].ok
        stored_line = listener.stdout.readline()
        assert stored_line.startswith("stored") and str(tmp_path / "received") in stored_line
        listener.send_signal(signal.SIGINT)
        assert listener.wait(timeout=20) == 0
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
