"""`xraydesk serve`, the AI node, as a process of its own between pynetdicom senders and a real Orthanc as
the destination: every film acknowledged gets exactly one result in Orthanc (an SR, and a secondary
capture unless the input check refused it) through SIGKILLs of the node and an outage of Orthanc; a
corrupt object is refused and the node goes on; what is no chest film gets the SR of a refusal; the
node's own results sent back to it are not analysed again. Assertions hold whatever the model answers."""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pydicom
import pytest
from ai_node import (
    SENDER_AET,
    SUCCESS,
    NodeProcess,
    node_films,
    push,
    queue_counts,
    refused_by_input_check,
    results_in,
    sop_uid,
    status_counts,
)
from orthanc_server import OrthancServer, OrthancUnavailable, free_port
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import BasicTextSRStorage, ComprehensiveSRStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom.status import STATUS_FAILURE, code_to_category
from required_tools import tool_missing

RESULTS_TIMEOUT_S = 900
PUSH_PAUSE_S = 0.4  # each of the two senders: 100 films in over 40 s


@pytest.fixture
def destination(tmp_path):
    """An empty Orthanc of this test's own, to stop and start again."""
    server = OrthancServer(tmp_path / "orthanc")
    try:
        server.start()
    except OrthancUnavailable as error:
        tool_missing(str(error))
    yield server
    server.stop()


@pytest.fixture
def start_node(tmp_path):
    """Starts `xraydesk serve` on a store of this test's, sending to the nodes given; whatever still runs at
    the test's end is killed."""
    started = []

    def start(destinations: list[str], options: tuple[str, ...] = ()) -> NodeProcess:
        started.append(NodeProcess(tmp_path / "store", free_port(), destinations, list(options)).start())
        return started[-1]

    yield start
    for node in started:
        node.kill()


def address(orthanc: OrthancServer) -> str:
    return f"{orthanc.aet}@{orthanc.host}:{orthanc.dicom_port}"


def wait_for_results(orthanc: OrthancServer, sources: set[str], node: NodeProcess) -> dict:
    """Orthanc's results once every source has its report and the node has nothing left to send."""
    deadline = time.monotonic() + RESULTS_TIMEOUT_S
    while time.monotonic() < deadline:
        node.check_running()
        counts = queue_counts(node.store)
        if counts["received"] == counts["analysed"] == 0 and sources <= set(results := results_in(orthanc)):
            return results
        time.sleep(1)
    raise AssertionError(f"results for {len(sources - set(results_in(orthanc)))} of {len(sources)} films never "
                         f"came: {node.status()} {node.log_tail()}")


def assert_one_result_each(orthanc: OrthancServer, results: dict, sources: set[str]) -> None:
    """Each source: exactly one SR, and one secondary capture unless the SR says the input check refused it."""
    assert set(results) == sources
    for source, objects in results.items():
        reports = [uid for sop_class, uid in objects if sop_class == ComprehensiveSRStorage]
        captures = [uid for sop_class, uid in objects if sop_class != ComprehensiveSRStorage]
        assert len(reports) == 1, f"{source}: {objects}"
        assert len(captures) == (0 if refused_by_input_check(orthanc, reports[0]) else 1), f"{source}: {objects}"
    every_uid = [uid for objects in results.values() for _, uid in objects]
    assert len(every_uid) == len(set(every_uid))


@pytest.mark.slow  # minutes: 200 films analysed, the node started three times
def test_every_film_gets_one_result_through_two_kills_and_an_outage_of_the_destination(destination, rsna_files,
                                                                                        start_node, tmp_path):
    """The senders push at a modality's pace, so that the kills and the outage fall while films arrive, are
    analysed and are sent."""
    films = node_films(rsna_files[:10], 200, tmp_path / "films")
    node = start_node([address(destination)])

    def when_sent(count: int) -> None:
        deadline = time.monotonic() + RESULTS_TIMEOUT_S
        while queue_counts(node.store)["sent"] < count:
            node.check_running()
            for sender in pushed:
                if sender.done():
                    sender.result()  # raises what stopped it
            assert time.monotonic() < deadline, node.log_tail()
            time.sleep(0.1)

    with ThreadPoolExecutor(2) as senders:
        pushed = [senders.submit(push, half, node.port, pause_s=PUSH_PAUSE_S) for half in (films[0::2], films[1::2])]
        when_sent(10)
        node.kill()
        node.start()
        when_sent(30)
        destination.stop()  # 10 s away while films keep coming and results wait
        time.sleep(10)
        destination.start()
        when_sent(60)
        node.kill()
        node.start()
        statuses = {**pushed[0].result(), **pushed[1].result()}
    assert sorted(statuses.values()) == [SUCCESS] * len(films)
    sources = {sop_uid(film) for film in films}
    results = wait_for_results(destination, sources, node)
    assert_one_result_each(destination, results, sources)
    counts = status_counts(node.status())
    assert (counts["sent"], counts["failed"]) == (len(films), 0)
    assert node.stop() == 0


def corrupt_object(path: Path) -> Path:
    """A valid file meta followed by bytes that are no data set."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = pydicom.uid.ComputedRadiographyImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.save_as(path, enforce_file_format=True)
    with path.open("ab") as handle:
        handle.write(b"\x08\x00\x16\x00UI\xff\xff" + bytes(range(256)) * 4)
    return path


def text_report(path: Path) -> Path:
    """Someone else's report: a DICOM object without an image."""
    report = Dataset()
    report.file_meta = FileMetaDataset()
    report.SOPClassUID = report.file_meta.MediaStorageSOPClassUID = BasicTextSRStorage
    report.SOPInstanceUID = report.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    report.StudyInstanceUID, report.SeriesInstanceUID = generate_uid(), generate_uid()
    report.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    report.Modality, report.PatientID, report.PatientName = "SR", "NODE-REPORT", "Report^Only"
    report.save_as(path, enforce_file_format=True)
    return path


def test_a_corrupt_object_is_refused_and_what_is_no_chest_film_gets_the_sr_of_a_refusal(destination, rsna_files,
                                                                                         dicom_dir, start_node,
                                                                                         tmp_path):
    film = node_films(rsna_files[:1], 1, tmp_path / "films")[0]
    hip, report = dicom_dir / "nonchest" / "RG2_J2KI__hip.dcm", text_report(tmp_path / "report.dcm")
    corrupt = corrupt_object(tmp_path / "corrupt.dcm")
    node = start_node([address(destination)])
    statuses = push([corrupt, film, hip, report], node.port)
    assert code_to_category(statuses[corrupt]) == STATUS_FAILURE  # refused, and the association goes on
    assert [statuses[path] for path in (film, hip, report)] == [SUCCESS] * 3
    sources = {sop_uid(path) for path in (film, hip, report)}
    results = wait_for_results(destination, sources, node)
    assert_one_result_each(destination, results, sources)
    for refused in (hip, report):
        ((_, report_uid),) = results[sop_uid(refused)]
        assert refused_by_input_check(destination, report_uid)
    assert f"refused an object from {SENDER_AET}" in node.log.read_text()
    assert node.stop() == 0


def test_its_own_results_sent_back_are_not_analysed_again(destination, rsna_files, start_node, tmp_path):
    film = node_films(rsna_files[:1], 1, tmp_path / "films")[0]
    node = start_node([address(destination)])
    push([film], node.port)
    results = wait_for_results(destination, {sop_uid(film)}, node)
    returned = []
    for index, (_, uid) in enumerate(results[sop_uid(film)]):  # as a PACS routing everything to the node would
        instance = destination.rest_post("/tools/lookup", uid)[0]["ID"]
        returned.append(tmp_path / f"result-{index}.dcm")
        returned[-1].write_bytes(destination.raw_get(f"/instances/{instance}/file"))
    assert set(push(returned, node.port).values()) == {SUCCESS}
    deadline = time.monotonic() + 120
    while queue_counts(node.store)["skipped"] < len(returned) and time.monotonic() < deadline:
        time.sleep(1)
    status = node.status()
    assert status_counts(status)["skipped"] == len(returned)
    assert "an XRayDesk result, not an image to analyse" in status
    assert set(results_in(destination)) == {sop_uid(film)}  # nothing answers the results
    assert node.stop() == 0


def wait_for_counts(node: NodeProcess, done) -> dict:
    deadline = time.monotonic() + RESULTS_TIMEOUT_S
    while not done(counts := queue_counts(node.store)):
        node.check_running()
        assert time.monotonic() < deadline, f"{node.status()} {node.log_tail()}"
        time.sleep(1)
    return counts


def test_a_node_killed_analyses_and_sends_on_restart_what_it_acknowledged(rsna_files, start_node, tmp_path):
    """Killed right after the films are acknowledged (its model still loading), then again with their results
    waiting for a destination that is down: each restart goes on from the queue, and --status says where
    everything stands."""
    films = node_films(rsna_files[:3], 6, tmp_path / "films")
    destination = OrthancServer(tmp_path / "orthanc")  # its ports chosen, not started yet
    node = start_node([address(destination)])
    assert set(push(films, node.port).values()) == {SUCCESS}
    node.kill()
    status = node.status()
    assert "no node running" in status
    assert sum(status_counts(status).values()) == len(films)
    node.start()
    assert "node running (process" in node.status()
    wait_for_counts(node, lambda counts: counts["analysed"] == len(films))
    status = node.status()
    assert f"waiting for {address(destination)}: {len(films)} object(s)" in status
    assert "connection refused" in status
    node.kill()
    try:
        destination.start()
        node.start()
        sources = {sop_uid(film) for film in films}
        assert_one_result_each(destination, wait_for_results(destination, sources, node), sources)
        assert status_counts(node.status())["sent"] == len(films)
        assert node.stop() == 0
    finally:
        destination.stop()


@pytest.mark.slow  # a Dask LocalCluster starts, its worker loads the model
def test_the_analysis_runs_on_dask_workers_with_the_receiver_in_one_process(destination, rsna_files, start_node,
                                                                           tmp_path):
    pytest.importorskip("dask.distributed", reason="the cluster extra: pip install 'xraydesk[cluster]'")
    films = node_films(rsna_files[:3], 5, tmp_path / "films")
    node = start_node([address(destination)], ("--workers", "1"))
    assert set(push(films, node.port).values()) == {SUCCESS}
    sources = {sop_uid(film) for film in films}
    assert_one_result_each(destination, wait_for_results(destination, sources, node), sources)
    assert "analysing in the Dask cluster at tcp://" in node.log.read_text()
    assert node.stop() == 0
