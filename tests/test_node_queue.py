"""The AI node's durable queue (xraydesk.jobs.queue) on its own: an object's way from received to sent
through every destination, what a second reception does, and the state a new process finds."""

from pathlib import Path

import pytest

from xraydesk.jobs.queue import ANALYSED, FAILED, RECEIVED, SENT, SKIPPED, NodeQueue, QueueError

DESTINATIONS = ("PACS@10.0.0.1:104", "https://archive.example/dicom-web")


@pytest.fixture
def received(tmp_path) -> list[Path]:
    files = [tmp_path / f"{index}.dcm" for index in range(3)]
    for file in files:
        file.write_bytes(b"object")
    return files


@pytest.fixture
def queue(tmp_path):
    queue = NodeQueue(tmp_path / "queue.sqlite")
    yield queue
    queue.close()


def test_an_object_is_sent_once_every_destination_has_its_results(queue, received, tmp_path):
    queue.receive(received[0], "1.2.3")
    (waiting,) = queue.waiting(16)
    queue.analysed(waiting.object_id, [tmp_path / "sr.dcm", tmp_path / "sc.dcm"], "CXR 1.0", "", DESTINATIONS)
    assert queue.waiting(16) == []
    (delivery,) = queue.due(DESTINATIONS[0], 32)
    assert delivery.files == (tmp_path / "sr.dcm", tmp_path / "sc.dcm")
    assert queue.delivered([waiting.object_id], DESTINATIONS[0]) == []  # the other destination still waits
    assert queue.counts()[ANALYSED] == 1
    assert queue.delivered([waiting.object_id], DESTINATIONS[1]) == [waiting.object_id]
    assert queue.counts() == {RECEIVED: 0, ANALYSED: 0, SENT: 1, FAILED: 0, SKIPPED: 0}


def test_a_destination_down_postpones_its_deliveries_only(queue, received, tmp_path):
    queue.receive(received[0], "1.2.3")
    (waiting,) = queue.waiting(16)
    queue.analysed(waiting.object_id, [tmp_path / "sr.dcm"], "CXR 1.0", "", DESTINATIONS)
    queue.postpone_all(DESTINATIONS[0], due=2e9, error="connection refused")
    assert queue.due(DESTINATIONS[0], 32) == [] and len(queue.due(DESTINATIONS[1], 32)) == 1
    (backlog, _) = queue.backlog()
    assert (backlog.destination, backlog.count, backlog.next_try, backlog.error) == (
        DESTINATIONS[0], 1, 2e9, "connection refused")
    queue.try_all_now()  # a new start tries at once
    assert len(queue.due(DESTINATIONS[0], 32)) == 1


def test_an_object_received_again_is_queued_anew_only_once_done(queue, received, tmp_path):
    queue.receive(received[0], "1.2.3")
    (waiting,) = queue.waiting(16)
    queue.receive(received[0], "1.2.3")  # while in hand: nothing changes
    assert queue.waiting(16) == [waiting]
    queue.analysed(waiting.object_id, [tmp_path / "sr.dcm"], "CXR 1.0", "", DESTINATIONS[:1])
    queue.delivered([waiting.object_id], DESTINATIONS[0])
    queue.receive(received[0], "1.2.3")  # done: analysed and sent again (the results keep their UIDs)
    assert queue.waiting(16) == [waiting]
    assert queue.counts()[RECEIVED] == 1 and queue.counts()[SENT] == 0


def test_an_object_removed_as_it_comes_again_is_refused_so_that_its_sender_sends_it_again(queue, received):
    queue.receive(received[0], "1.2.3")
    (waiting,) = queue.waiting(16)
    queue.set_aside(waiting.object_id, SKIPPED, "an XRayDesk result")
    queue.discard([waiting.object_id], SKIPPED, lambda finished: finished.path.unlink())
    with pytest.raises(OSError, match="was being removed as it came again"):
        queue.receive(received[0], "1.2.3")
    assert queue.counts()[SKIPPED] == 1


def test_a_new_process_finds_the_queue_as_it_was_left(tmp_path, received):
    first = NodeQueue(tmp_path / "queue.sqlite")
    for index, file in enumerate(received):
        first.receive(file, f"1.2.{index}")
    one, two, _ = first.waiting(16)
    first.analysed(one.object_id, [tmp_path / "sr.dcm"], "CXR 1.0", "", DESTINATIONS[:1])
    first.set_aside(two.object_id, FAILED, "highdicom cannot make the structured report")
    # no close(): as after kill -9
    second = NodeQueue(tmp_path / "queue.sqlite")
    assert second.counts() == {RECEIVED: 1, ANALYSED: 1, SENT: 0, FAILED: 1, SKIPPED: 0}
    assert [item.path for item in second.waiting(16)] == [received[2]]
    assert second.set_aside_objects(FAILED, 20) == [(received[1], "highdicom cannot make the structured report")]
    assert [delivery.object_id for delivery in second.due(DESTINATIONS[0], 32)] == [one.object_id]
    second.close()


def test_status_of_a_folder_without_a_queue_says_so(tmp_path):
    with pytest.raises(QueueError, match="no queue here"):
        NodeQueue(tmp_path / "queue.sqlite", create=False)
    assert not (tmp_path / "queue.sqlite").exists()
