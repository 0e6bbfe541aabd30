"""The network layer loses nothing and holds out against hostile or broken peers (issue 17, part 1):
partial retrieves said as partial for every protocol, DICOMweb requests bounded as a whole, limits
on PDUs, objects, connections and find rows, one-line errors, and no leftovers."""

import contextlib
import io
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pydicom
import pytest
from hostile_http import send_json, send_multipart, series_answer, serving, trickle
from orthanc_server import OrthancServer
from pydicom.uid import CTImageStorage, generate_uid
from pynetdicom import AE

from xraydesk.cli import main
from xraydesk.pacs import dicomweb
from xraydesk.pacs.client import client_for
from xraydesk.pacs.dimse import MAX_PDU_BYTES, OUT_OF_RESOURCES, Listener
from xraydesk.pacs.nodes import LocalSide, Node, PacsError, PacsSettings, save_settings
from xraydesk.pacs.types import StudyQuery

PUSHER = "PUSHER"
STUDY = "1.2.826.0.1.3680043.8.498.17"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["pacs", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def dimse_address(orthanc) -> str:
    return f"{orthanc.aet}@{orthanc.host}:{orthanc.dicom_port}"


def encoded(dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def finishes(call, within_s: float = 60):
    """Runs `call` on a thread; what it returned or raised, or AssertionError when it still runs
    after `within_s` (the hang this guards against)."""
    result = {}

    def target():
        try:
            result["value"] = call()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(within_s)
    assert not thread.is_alive(), f"still running after {within_s} s"
    return result


# ------------------------------------------------------------ 1. partial C-GET / C-MOVE


@pytest.fixture(scope="module")
def study_with_an_unsendable_object(orthanc, rsna_files):
    """Six objects of one series, the third a CT image that XRayDesk neither asks for (C-GET) nor
    keeps (C-MOVE): the node cannot deliver the study whole."""
    study_uid, series_uid = generate_uid(), generate_uid()
    for number, path in enumerate(rsna_files[:6], start=1):
        dataset = pydicom.dcmread(path)
        dataset.PatientID = dataset.PatientName = "XRAYDESK-PARTIAL"
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.InstanceNumber = study_uid, series_uid, number
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        if number == 3:
            dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = CTImageStorage
        orthanc.rest_post("/instances", encoded(dataset))
    return study_uid


@pytest.mark.parametrize("method", [[], ["--move"]], ids=["c-get", "c-move"])
def test_a_partial_retrieve_says_what_is_missing_and_exits_1(orthanc, capsys, tmp_path,
                                                            study_with_an_unsendable_object, method):
    port = ["--port", orthanc.our_port] if method else []
    code, out, _ = run(capsys, "retrieve", dimse_address(orthanc), study_with_an_unsendable_object, "--to",
                       tmp_path, *method, *port)
    match = re.search(r"retrieved (\d) of 6 file\(s\) .*; (\d) failed: (.+)$", out.strip())
    assert code == 1 and match, out
    kept, failed = int(match[1]), int(match[2])
    assert kept + failed == 6 and kept == len(list(tmp_path.rglob("*.dcm"))) and failed >= 1


DOOMED_STUDY_SIZE = 24  # enough that the node cannot send them all in the moment its kill takes


@pytest.fixture
def doomed_orthanc(tmp_path, rsna_files):
    """An Orthanc of this test's own (it gets killed), holding a study of DOOMED_STUDY_SIZE images."""
    with OrthancServer(tmp_path / "doomed") as server:
        server.study_uid = server.upload_as_one_study(rsna_files[:DOOMED_STUDY_SIZE], "XRAYDESK-DOOMED")
        yield server


@pytest.mark.parametrize("move", [False, True], ids=["c-get", "c-move"])
def test_a_node_dying_part_way_leaves_the_kept_files_said(doomed_orthanc, store, move):
    local = LocalSide(ae_title=doomed_orthanc.our_aet, listener_port=doomed_orthanc.our_port, timeout_s=5)

    def kill_after_the_first(done, _total):
        if done >= 1 and doomed_orthanc.process.poll() is None:
            doomed_orthanc.process.kill()
            doomed_orthanc.process.wait()

    outcome = client_for(doomed_orthanc.dimse_node, local).retrieve(doomed_orthanc.study_uid, store, move=move,
                                                                    progress=kill_after_the_first)
    assert 1 <= len(outcome.files) < DOOMED_STUDY_SIZE
    assert (outcome.announced, outcome.failed) == (DOOMED_STUDY_SIZE, DOOMED_STUDY_SIZE - len(outcome.files))
    assert "lost part way" in outcome.reason and "AE title" not in outcome.reason
    assert all(stored.path.is_file() for stored in outcome.files)


# ------------------------------------------------------------ 2. WADO-RS against what QIDO-RS announced


def wado_node(url: str) -> tuple:
    return Node(url=url), LocalSide(timeout_s=5)


def test_wado_rs_counts_per_series_what_qido_rs_announced(make_dicom, store, capsys):
    images = [make_dicom(f"{index}.dcm", StudyInstanceUID=STUDY, SeriesInstanceUID=f"{STUDY}.{index % 2}")
              for index in range(3)]

    def answer(request):
        if request.path.split("?")[0].endswith("/series"):
            send_json(request, series_answer({f"{STUDY}.0": 3, f"{STUDY}.1": 1}))
        elif request.path.endswith(f"{STUDY}.0"):
            send_multipart(request, [images[0].read_bytes()])  # 1 of 3
        else:
            send_multipart(request, [images[1].read_bytes()])

    with serving(answer) as url:
        outcome = client_for(*wado_node(url)).retrieve(STUDY, store)
        code, out, _ = run(capsys, "retrieve", url, STUDY, "--to", store.root)
    assert (len(outcome.files), outcome.failed, outcome.announced) == (2, 2, 4)
    assert outcome.reason == f"series {STUDY}.0: 1 of 3 objects arrived"
    assert code == 1 and "retrieved 2 of 4 file(s)" in out and f"2 failed: series {STUDY}.0: 1 of 3" in out


# ------------------------------------------------------------ 3. DICOMweb bounded as a whole

HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nContent-Length: 100\r\n\r\n"


@pytest.mark.parametrize("trickled", ["headers", "body"])
@pytest.mark.parametrize("operation", ["echo", "find", "retrieve"])
def test_a_server_trickling_bytes_times_out_as_a_whole(store, trickled, operation):
    def answer(request):
        if trickled == "headers":
            trickle(request, HEADERS + b"[]" * 50)
        else:
            request.wfile.write(HEADERS)
            trickle(request, b"[]" * 50)

    with serving(answer) as url:
        client = client_for(Node(url=url), LocalSide(timeout_s=1))
        call = {"echo": client.echo, "find": lambda: client.find(StudyQuery()),
                "retrieve": lambda: client.retrieve(STUDY, store)}[operation]
        result = finishes(call)
    assert isinstance(result.get("error"), PacsError), result
    assert "QIDO-RS: no complete answer within 1 s (timeout; the server stalls or trickles)" in str(result["error"])


def test_a_wado_rs_download_trickling_times_out(make_dicom, store):
    image = make_dicom("one.dcm", StudyInstanceUID=STUDY, SeriesInstanceUID=f"{STUDY}.1")

    def answer(request):
        if request.path.split("?")[0].endswith("/series"):
            send_json(request, series_answer({f"{STUDY}.1": 1}))
        else:
            request.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/related; boundary=B\r\n\r\n--B\r\n\r\n"
                                + image.read_bytes()[:1000])
            trickle(request, image.read_bytes()[1000:])

    with serving(answer) as url:
        result = finishes(lambda: client_for(Node(url=url), LocalSide(timeout_s=1)).retrieve(STUDY, store))
    outcome = result["value"]
    assert (outcome.files, outcome.failed) == ([], 1)
    assert "WADO-RS: no complete answer within 1 s" in outcome.reason
    assert list((store.root / ".incoming").iterdir()) == []  # the part begun is not left behind


# ------------------------------------------------------------ 4. memory: PDUs, objects, QIDO pages and rows


@pytest.fixture
def received():
    return []


@pytest.fixture
def listener(store, received):
    local = LocalSide(ae_title="XRAYDESK", listener_port=0, allowed_calling_aets=[PUSHER], timeout_s=5,
                      max_object_mib=1)
    with Listener(local, store, on_stored=received.append) as running:
        yield running


def test_a_huge_pdu_from_a_refused_caller_is_not_read(listener, caplog):
    """An A-ASSOCIATE-RQ announcing 1.5 GB: the connection ends on its header, before the body."""
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as caller:
        caller.sendall(struct.pack(">BBL", 0x01, 0, 1_500_000_000) + bytes(1024))
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            for _ in range(4 * MAX_PDU_BYTES // 65536):  # far more than the limit, far less than announced
                caller.sendall(bytes(65536))
            if caller.recv(1) == b"":
                raise ConnectionResetError
    assert "a PDU of 1,500,000,000 bytes, over the 262,144-byte limit" in caplog.text


@contextlib.contextmanager
def node_answering_with_a_huge_pdu() -> Iterator[tuple[int, list[int]]]:
    """A "PACS" that answers an association request with an A-ASSOCIATE-AC announcing 1.5 GB and
    then sends bytes for as long as anyone reads them; yields its port and the bytes it got out."""
    server = socket.create_server(("127.0.0.1", 0))
    sent = [0]

    def answer():
        with contextlib.suppress(OSError), server.accept()[0] as caller:
            caller.recv(65536)
            caller.sendall(struct.pack(">BBL", 0x02, 0, 1_500_000_000))
            for _ in range(1600):  # 100 MiB, far more than the limit, far less than announced
                caller.sendall(bytes(65536))
                sent[0] += 65536

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], sent
    finally:
        server.close()
        thread.join(10)


def test_a_huge_pdu_from_the_node_we_call_is_not_read(caplog):
    with node_answering_with_a_huge_pdu() as (port, sent):
        client = client_for(Node(ae_title="HOSTILE", host="127.0.0.1", port=port), LocalSide(timeout_s=5))
        result = finishes(client.echo, within_s=30)
    assert isinstance(result.get("error"), PacsError)
    assert "a PDU of 1,500,000,000 bytes, over the 262,144-byte limit" in str(result["error"])
    assert sent[0] < 32 * 2**20, "the connection ended on the PDU's header, not after its body was read"


def push(port: int, path, ae_title: str = PUSHER):
    ae = AE(ae_title=ae_title)
    header = pydicom.dcmread(path, stop_before_pixels=True)
    ae.add_requested_context(header.SOPClassUID, header.file_meta.TransferSyntaxUID)
    association = ae.associate("127.0.0.1", port, ae_title="XRAYDESK")
    assert association.is_established
    try:
        return association.send_c_store(path)
    finally:
        association.release()


def test_an_object_over_the_limit_is_refused_with_a_status_and_a_log_line(listener, received, make_dicom, caplog):
    big = make_dicom("big.dcm", pixels=np.zeros((1024, 1024), dtype=np.uint16))  # 2 MiB of pixels, the limit 1
    status = push(listener.port, big)
    assert int(status.Status) == OUT_OF_RESOURCES and "over the 1 MiB object limit" in status.ErrorComment
    assert received == [] and "refused an object from PUSHER (127.0.0.1): 2 MiB is over the 1 MiB" in caplog.text
    assert int(push(listener.port, make_dicom("small.dcm")).Status) == 0 and len(received) == 1


def test_a_wado_rs_part_over_the_limit_is_refused_and_the_next_kept(make_dicom, store):
    big = make_dicom("big.dcm", pixels=np.zeros((1024, 1024), dtype=np.uint16), StudyInstanceUID=STUDY)
    small = make_dicom("small.dcm", StudyInstanceUID=STUDY)

    def answer(request):
        if request.path.split("?")[0].endswith("/series"):
            send_json(request, series_answer({"1.2.3.4.5": 2}))
        else:
            send_multipart(request, [big.read_bytes(), small.read_bytes()])

    with serving(answer) as url:
        outcome = client_for(Node(url=url), LocalSide(timeout_s=5, max_object_mib=1)).retrieve(STUDY, store)
    assert ([stored.sop_uid for stored in outcome.files], outcome.failed) == (
        [pydicom.dcmread(small).SOPInstanceUID], 1)
    assert outcome.reason == "object 1: over the 1 MiB object limit"


def test_a_qido_rs_answer_over_the_size_limit_is_refused(monkeypatch):
    monkeypatch.setattr(dicomweb, "MAX_JSON_BYTES", 100_000)
    with serving(lambda request: send_json(request, [{}] * 100_000)) as url, \
            pytest.raises(PacsError, match="QIDO-RS: the answer is larger than"):
        client_for(Node(url=url), LocalSide(timeout_s=5)).find(StudyQuery())


@pytest.mark.parametrize("protocol", ["dimse", "dicomweb"])
def test_find_keeps_at_most_the_row_limit_and_says_so(orthanc, local_side, protocol, caplog, monkeypatch):
    node = orthanc.dimse_node if protocol == "dimse" else orthanc.dicomweb_node
    every = client_for(node, local_side).find(StudyQuery(modalities=()))
    assert len(every) > 3 and not every.truncated
    monkeypatch.setattr(dicomweb, "QIDO_PAGE_ROWS", 2)  # several pages (limit/offset) for DICOMweb
    paged = client_for(node, local_side).find(StudyQuery(modalities=()))
    assert sorted(paged, key=lambda row: row.study_uid) == sorted(every, key=lambda row: row.study_uid)
    cut = client_for(node, replace(local_side, max_find_rows=3)).find(StudyQuery(modalities=()))
    assert len(cut) == 3 and cut.truncated and set(cut) <= set(every)
    assert "more than 3 studies match; the first 3 are listed (narrow the search)" in caplog.text


def test_find_cut_off_exits_1(orthanc, capsys, caplog):
    save_settings(PacsSettings(local=LocalSide(max_find_rows=2)))
    code, out, _ = run(capsys, "find", dimse_address(orthanc), "--modality", "", "--csv")
    assert code == 1 and len(out.splitlines()) == 3 and "the first 2 are listed" in caplog.text


# ------------------------------------------------------------ 5. denial of service


def test_idle_connections_from_one_address_cannot_take_the_listener(store, caplog):
    local = LocalSide(ae_title="XRAYDESK", listener_port=0, allowed_calling_aets=[PUSHER], timeout_s=5,
                      max_associations_per_address=2, association_request_timeout_s=1)
    with Listener(local, store) as listener:
        idle = []
        for _ in range(10):
            connection = socket.socket()
            connection.bind(("127.0.0.2", 0))
            connection.connect(("127.0.0.1", listener.port))
            connection.settimeout(30)
            idle.append(connection)
        node = Node(ae_title="XRAYDESK", host="127.0.0.1", port=listener.port)
        assert client_for(node, LocalSide(ae_title=PUSHER, timeout_s=5)).echo() > 0
        for connection in idle:  # 8 closed at once, 2 once the association request timeout passes
            assert connection.recv(1) == b""
            connection.close()
    assert caplog.text.count("refused a connection from 127.0.0.2: 2 connections from there are open") == 8


def test_a_caller_trickling_its_association_request_is_cut_off(store, caplog):
    local = LocalSide(ae_title="XRAYDESK", listener_port=0, allowed_calling_aets=[PUSHER], timeout_s=1)
    with Listener(local, store) as listener, socket.create_connection(("127.0.0.1", listener.port)) as caller:
        caller.sendall(struct.pack(">BBL", 0x01, 0, 100))
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            for _ in range(100):  # 20 s, unless cut off
                caller.sendall(b"\0")
                time.sleep(0.2)
    assert "closed the connection from 127.0.0.1: no whole PDU within 1 s" in caplog.text


# ------------------------------------------------------------ 6. one line instead of a traceback


def test_a_non_dicom_wado_part_is_refused_and_the_parts_after_it_kept(make_dicom, store, capsys):
    images = [make_dicom(f"{index}.dcm", StudyInstanceUID=STUDY) for index in range(2)]

    def answer(request):
        if request.path.split("?")[0].endswith("/series"):
            send_json(request, series_answer({"1.2.3.4.5": 3}))
        else:
            send_multipart(request, [images[0].read_bytes(), b"<html>Internal error</html>", images[1].read_bytes()])

    with serving(answer) as url:
        code, out, err = run(capsys, "retrieve", url, STUDY, "--to", store.root)
    assert code == 1 and "retrieved 2 of 3 file(s)" in out and "1 failed: object 2: not a DICOM" in out
    assert len(list(store.root.rglob("*.dcm"))) == 2 and "Traceback" not in err


def test_an_unwritable_store_on_wado_rs_is_one_line(orthanc, capsys, tmp_path, multi_image_study, monkeypatch):
    monkeypatch.setenv("XRAYDESK_PACS_PASSWORD", orthanc.password)
    (tmp_path / "a file").write_text("not a folder")
    code, out, err = run(capsys, "retrieve", orthanc.dicomweb_url, multi_image_study.uid, "--user", orthanc.username,
                         "--to", tmp_path / "a file" / "store")
    assert code == 1 and "Traceback" not in err
    assert f"retrieved 0 of {multi_image_study.count} file(s)" in out
    assert f"{multi_image_study.count} failed: cannot write to the local store" in out and "(Not a directory)" in out


def test_a_qido_rs_array_of_non_objects_is_one_line():
    with serving(lambda request: send_json(request, [1, "two", None])) as url, \
            pytest.raises(PacsError, match=r"QIDO-RS: the answer is not what DICOMweb defines \(not a JSON array"):
        client_for(Node(url=url), LocalSide(timeout_s=5)).find(StudyQuery())


@pytest.mark.parametrize(("argv", "words"), [
    (["--allow", "SEVENTEENCHARSAET"], "'SEVENTEENCHARSAET' is not an AE title"),
    (["--allow", PUSHER, "--port", "99999"], "port 99999 is not between 0 and 65535"),
])
def test_bad_listen_arguments_are_one_line(capsys, tmp_path, argv, words):
    code, _, err = run(capsys, "listen", "--to", tmp_path, *argv)
    assert code == 2 and words in err and len(err.splitlines()) == 1


def test_find_into_a_closed_pipe_ends_quietly(orthanc, tmp_path):
    finder = subprocess.Popen([sys.executable, "-m", "xraydesk", "pacs", "find", dimse_address(orthanc),
                               "--modality", "", "--csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finder.stdout.close()  # `| head` gone before the rows come
    err = finder.stderr.read().decode()
    assert finder.wait(timeout=60) == 0 and err == ""


# ------------------------------------------------------------ 8. leftovers and logs


def test_listener_removes_unfinished_objects_of_dead_processes(store):
    incoming = store.root / ".incoming"
    incoming.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    left_before = [incoming / f"{dead.stdout.strip()}-a.partial", incoming / "0123abcd.partial"]  # the old naming too
    in_use = store.incoming_path()  # this process runs: its file is being written
    for path in [*left_before, in_use]:
        path.write_bytes(b"half an object")
    local = LocalSide(listener_port=0, allowed_calling_aets=[PUSHER])
    with Listener(local, store):
        assert [path.exists() for path in [*left_before, in_use]] == [False, False, True]
        left_during = incoming / f"{dead.stdout.strip()}-b.partial"
        left_during.write_bytes(b"half an object")
    assert not left_during.exists() and in_use.exists()


def test_refused_callers_are_logged(listener, caplog):
    node = Node(ae_title="XRAYDESK", host="127.0.0.1", port=listener.port)
    with pytest.raises(PacsError):
        client_for(node, LocalSide(ae_title="STRANGER", timeout_s=5)).echo()
    assert re.search(r"refused the association of STRANGER \(127\.0\.0\.1\): Calling AE title not recognised",
                     caplog.text)


def test_parallel_senders_get_one_line_per_file(tmp_path, make_dicom):
    files = [make_dicom(f"{index}.dcm", StudyInstanceUID=STUDY) for index in range(60)]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listener = subprocess.Popen([sys.executable, "-m", "xraydesk", "pacs", "listen", "--aet", "XRAYDESK", "--port",
                                 str(port), "--to", str(tmp_path / "received"), "--allow", PUSHER],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening as" in listener.stdout.readline()
        node = Node(ae_title="XRAYDESK", host="127.0.0.1", port=port)
        senders = [threading.Thread(target=client_for(node, LocalSide(ae_title=PUSHER)).send, args=(files[half::3],))
                   for half in range(3)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        lines = finishes(lambda: [listener.stdout.readline() for _ in files])["value"]
    finally:
        listener.terminate()
        listener.wait(timeout=20)
    assert all(re.fullmatch(r"stored  \S+\.dcm\n", line) for line in lines), lines


@contextlib.contextmanager
def held_back_after(target_port: int, passed_bytes: int) -> Iterator[int]:
    """A TCP relay to `target_port` that passes a caller's first `passed_bytes` on and holds the rest
    back: a transfer stopped part way for as long as the test likes. Yields the relay's port."""
    relay = socket.create_server(("127.0.0.1", 0))

    def pump(source: socket.socket, sink: socket.socket, limit: float) -> None:
        passed = 0
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if passed < limit:
                    sink.sendall(data[:int(min(len(data), limit - passed))])
                passed += len(data)

    def serve() -> None:
        caller, _ = relay.accept()
        upstream = socket.create_connection(("127.0.0.1", target_port))
        threading.Thread(target=pump, args=(upstream, caller, float("inf")), daemon=True).start()
        pump(caller, upstream, passed_bytes)

    threading.Thread(target=serve, daemon=True).start()
    with relay:
        yield relay.getsockname()[1]


def test_a_store_interrupted_part_way_leaves_nothing_behind(store, make_dicom, tmp_path, monkeypatch):
    """Ctrl+C (the listener stopping) while an object is half received: pynetdicom's temporary file
    of it goes too."""
    temporary = tmp_path / "temporary"  # where pynetdicom writes an object as it arrives
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    image = make_dicom("large.dcm", pixels=np.zeros((1024, 1024), dtype=np.uint16))
    listener = Listener(LocalSide(ae_title="XRAYDESK", listener_port=0, allowed_calling_aets=[PUSHER], timeout_s=30),
                        store)
    listener.start()
    with held_back_after(listener.port, 1_000_000) as port:
        def sender():
            with contextlib.suppress(Exception):  # its association is aborted under it
                push(port, image)

        threading.Thread(target=sender, daemon=True).start()
        finishes(lambda: wait_for(lambda: any(path.stat().st_size > 500_000 for path in temporary.glob("*.dcm"))))
        listener.stop()
    assert list(temporary.iterdir()) == [] and list(store.root.rglob("*.dcm")) == []
    assert list((store.root / ".incoming").glob("*")) == []


def wait_for(condition) -> None:
    while not condition():
        time.sleep(0.05)
