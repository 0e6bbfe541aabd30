"""`xraydesk serve`, the AI node (no Qt): a modality or PACS pushes each film to it by C-STORE, and the
result (an SR, and a secondary capture unless refused) is in the film's study at every destination
before anyone opens it.

One process receives: the pacs Listener, whose store (the node's `received/` folder) flushes each
object to disk and records it in the durable queue (jobs.queue) before the sender hears success.
The analysis (here, or on a Dask cluster) takes the received objects in batches through the pipeline
`predict` uses (jobs.node_analysis) and writes their results into `results/`. One sender per
destination sends the results of many objects per association; while a destination is down its
results wait, and it is tried again after 1, 2, 4 ... up to RETRY_CAP_S seconds. Results sent to every
destination are removed with their object; failed ones stay for a look.

Every step is recorded before the next begins, and results have UIDs derived from their source's
(dicom_results.source.result_uids): killed at any moment, the node on restart analyses what it had
acknowledged and sends what it had not sent, and a result sent twice is the same object twice, which
an archive keeps once. A stop (SIGTERM, Ctrl+C) ends the batch in hand and each send in progress."""

import fcntl
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path

from xraydesk.jobs.node_analysis import Done, Work, analyse_objects, analyse_on_worker
from xraydesk.jobs.pipeline import BATCH_SIZE
from xraydesk.jobs.queue import ANALYSED, FAILED, SENT, SKIPPED, Finished, NodeQueue
from xraydesk.pacs.client import client_for
from xraydesk.pacs.local_store import LocalStore, StoredFile
from xraydesk.pacs.nodes import LocalSide, Node, PacsError

LOGGER = logging.getLogger(__name__)

QUEUE_FILE = "queue.sqlite"
RECEIVED_FOLDER = "received"
RESULTS_FOLDER = "results"
LOCK_FILE = "serve.lock"
SEND_BATCH = 32  # objects whose results go in one association
RETRY_CAP_S = 60.0  # the longest wait between two tries of a destination
IDLE_WAIT_S = 1.0  # the longest a loop sleeps before looking at its stop event again


class NodeBusyError(Exception):
    """Another `xraydesk serve` runs on this store."""


def retry_delay(failures: int) -> float:
    """Seconds to wait after the `failures`-th failure in a row: 1, 2, 4 ... RETRY_CAP_S."""
    return min(2.0 ** (failures - 1), RETRY_CAP_S)


class NodeStore:
    """The node's folder: its queue, the objects received and their results."""

    def __init__(self, root: Path):
        self.root = root.expanduser().resolve()
        self.queue_path = self.root / QUEUE_FILE
        self.received = self.root / RECEIVED_FOLDER
        self.results = self.root / RESULTS_FOLDER

    def results_folder(self, object_id: int) -> Path:
        return self.results / str(object_id)

    def lock(self):
        """Holds the store for this process (released when it ends, killed or not); NodeBusyError
        when another node holds it. Returns the open lock file: the lock lasts as long as it."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / LOCK_FILE, "a+")  # noqa: SIM115 - held open while the node runs
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise NodeBusyError(f"{self.root}: another xraydesk serve (process {holder}) uses this store") from error
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        return handle

    def running_process(self) -> str | None:
        """The process id of the node that holds this store, None when none runs."""
        try:
            with open(self.root / LOCK_FILE) as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return handle.read().strip() or "?"
        except FileNotFoundError:
            pass
        return None

    def discard(self, finished: Finished) -> None:
        """An object done with, and its results."""
        finished.path.unlink(missing_ok=True)
        shutil.rmtree(self.results_folder(finished.object_id), ignore_errors=True)

    def remove_empty_folders(self) -> None:
        """The study and series folders of objects since discarded (at start, while nothing is received)."""
        for folder, _, _ in sorted(os.walk(self.received), reverse=True):
            if Path(folder) != self.received:
                try:
                    Path(folder).rmdir()
                except OSError:  # not empty
                    pass


class LocalAnalysis:
    """The analysis in this process: one batch at a time, done when submitted."""

    in_hand: frozenset = frozenset()  # nothing is out while the node looks for work
    where = "this process"

    def __init__(self, models: Path | None):
        from xraydesk.ai.analysis import warm_up
        from xraydesk.ai.model import ChestXRayModel

        self.model = ChestXRayModel.load(models)
        warm_up(self.model)
        self._done: list[Done] = []

    @property
    def busy(self) -> bool:
        return bool(self._done)

    def free(self) -> bool:
        return not self._done

    def submit(self, work: list[Work]) -> None:
        self._done = analyse_objects(self.model, work)

    def collect(self, _timeout: float) -> list[Done]:
        done, self._done = self._done, []
        return done


class ClusterAnalysis:
    """The analysis on a Dask cluster: a few batches per worker out at a time (jobs.cluster)."""

    def __init__(self, client, models: Path | None):
        from xraydesk.jobs.cluster import load_worker_model

        self.client, self.models = client, models.resolve() if models else None
        client.run(load_worker_model, self.models)
        self._futures: dict = {}  # future -> the work it carries
        self.where = f"the Dask cluster at {client.scheduler.address}"

    @property
    def in_hand(self) -> set[int]:
        return {item.object_id for work in self._futures.values() for item in work}

    @property
    def busy(self) -> bool:
        return bool(self._futures)

    def free(self) -> bool:
        from xraydesk.jobs.cluster import chunks_in_flight

        return len(self._futures) < chunks_in_flight(self.client)

    def submit(self, work: list[Work]) -> None:
        self._futures[self.client.submit(analyse_on_worker, work, self.models, pure=False)] = work

    def collect(self, timeout: float) -> list[Done]:
        from dask.distributed import wait

        if not self._futures:
            return []
        try:
            finished = wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            return []
        done = []
        for future in finished:
            work = self._futures.pop(future)
            try:
                done += future.result()
            except Exception as error:  # noqa: BLE001 - a worker lost (killed, out of memory): its objects fail
                done += [Done(item, FAILED, reason=f"the analysis worker failed ({type(error).__name__}: "
                                                             f"{error})") for item in work]
        return done


class Sender:
    """Sends the results waiting for one destination, many objects per association, until stopped."""

    def __init__(self, destination: Node, local: LocalSide, queue: NodeQueue, store: NodeStore):
        self.destination, self.local, self.queue, self.store = destination, local, queue, store
        self.key = destination.address
        self.wake = threading.Event()
        self._failures = 0  # tries in a row that found the destination down
        self._last_error = ""

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.wake.clear()
            try:
                due = self.queue.due(self.key, SEND_BATCH)
                if due:
                    self._send(due)
                    continue
                next_due = self.queue.next_due(self.key)
            except Exception as error:  # noqa: BLE001 - the store or queue failing (disk full): said, tried again
                LOGGER.warning("sending to %s: %s: %s; tried again in %g s", self.destination.label,
                               type(error).__name__, error, RETRY_CAP_S)
                next_due = time.time() + RETRY_CAP_S
            self.wake.wait(IDLE_WAIT_S if next_due is None else min(max(next_due - time.time(), 0), IDLE_WAIT_S))

    def _send(self, due) -> None:
        files = [file for delivery in due for file in delivery.files]
        try:
            outcomes = iter(client_for(self.destination, self.local).send(files))
        except PacsError as error:
            self._failures += 1
            delay = retry_delay(self._failures)
            self.queue.postpone_all(self.key, time.time() + delay, error.reason)
            if error.reason != self._last_error:  # once, not at every try while it stays down
                LOGGER.warning("%s: %s; its results wait, tried again after 1, 2, 4 ... %g s", self.destination.label,
                               error.reason, RETRY_CAP_S)
            self._last_error = error.reason
            return
        if self._failures:
            LOGGER.warning("%s answers again after %d failed tries", self.destination.label, self._failures)
        self._failures, self._last_error = 0, ""
        sent, retries = [], {}
        for delivery in due:
            answers = [next(outcomes) for _ in delivery.files]
            refused = [answer for answer in answers if not answer.ok]
            if refused:
                retries[delivery.object_id] = (time.time() + retry_delay(delivery.attempts + 1),
                                               f"{refused[0].path.name}: {refused[0].message}")
            else:
                sent.append(delivery.object_id)
        if retries:
            self.queue.postpone(self.key, retries)
            LOGGER.warning("%s: %d object(s) not taken (%s); tried again later", self.destination.label, len(retries),
                           next(iter(retries.values()))[1])
        if sent:
            finished = self.queue.delivered(sent, self.key)
            self.queue.discard(finished, SENT, self.store.discard)
            LOGGER.info("sent the results of %d object(s) to %s", len(sent), self.destination.label)


class AiNode:
    def __init__(self, store: NodeStore, local: LocalSide, destinations: Sequence[Node]):
        self.store, self.local = store, local
        self.queue = NodeQueue(store.queue_path)
        self.senders = [Sender(destination, local, self.queue, store) for destination in destinations]
        self.arrived = threading.Event()

    def run(self, stop: threading.Event, analysis: Callable[[], ContextManager[LocalAnalysis | ClusterAnalysis]]
            ) -> None:
        """Receives, analyses and sends until `stop` is set; then ends the batch in hand and the sends in
        progress. The listener and the senders start first, then `analysis()` (the model loading, the cluster
        starting): what arrives meanwhile is acknowledged and waits in the queue."""
        from xraydesk.pacs.dimse import Listener

        self.store.remove_empty_folders()
        self.queue.try_all_now()
        received = LocalStore(self.store.received, durable=True, on_kept=self._kept)
        threads = [threading.Thread(target=sender.run, args=(stop,), name=f"send to {sender.key}", daemon=True)
                   for sender in self.senders]
        try:
            with Listener(self.local, received):
                for thread in threads:
                    thread.start()
                LOGGER.info("results go to %s; store %s; SIGTERM or Ctrl+C stops",
                            ", ".join(sender.destination.label for sender in self.senders), self.store.root)
                with analysis() as started:
                    LOGGER.info("analysing in %s", started.where)
                    self._analyse_until(stop, started)
        finally:
            stop.set()
            for sender in self.senders:
                sender.wake.set()
            for thread in threads:
                thread.join()
            self.queue.close()

    def _kept(self, stored: StoredFile) -> None:
        """On the listener's thread, before the sender hears success (LocalStore's on_kept)."""
        self.queue.receive(stored.path, stored.sop_uid)
        self.arrived.set()
        LOGGER.info("received %s (%s)", stored.sop_uid, stored.outcome)

    def _analyse_until(self, stop: threading.Event, analysis: LocalAnalysis | ClusterAnalysis) -> None:
        while not stop.is_set() or analysis.busy:
            self.arrived.clear()
            submitted = False
            while not stop.is_set() and analysis.free():
                waiting = self.queue.waiting(BATCH_SIZE, analysis.in_hand)
                if not waiting:
                    break
                analysis.submit([Work(item.object_id, item.path, self.store.results_folder(item.object_id))
                                 for item in waiting])
                submitted = True
            done = analysis.collect(0.1)
            for answer in done:
                self._record(answer)
            if not submitted and not done and not analysis.busy:
                self.arrived.wait(IDLE_WAIT_S)

    def _record(self, done: Done) -> None:
        object_id, name = done.work.object_id, done.work.path.name
        if done.state != ANALYSED:
            self.queue.set_aside(object_id, done.state, done.reason)
            if done.state == SKIPPED:
                self.queue.discard([object_id], SKIPPED, self.store.discard)
            LOGGER.warning("%s %s: %s", done.state, name, done.reason)
            return
        self.queue.analysed(object_id, done.files, done.model, done.reason, [sender.key for sender in self.senders])
        for sender in self.senders:
            sender.wake.set()
        LOGGER.info("analysed %s: %s", name, f"refused ({done.reason}): the SR says so" if done.reason else
                    "SR" + " and secondary capture" * (len(done.files) > 1))
