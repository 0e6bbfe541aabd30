"""PACS work off the UI thread: Test connection (C-ECHO or a QIDO-RS ping), Search (C-FIND or
QIDO-RS), Retrieve (C-GET, C-MOVE to our listener, or WADO-RS) into the local store, Send results
(the SR and secondary capture written by xraydesk.dicom_results, stored by C-STORE or STOW-RS) and
the listener (C-STORE SCP). The protocols live in xraydesk.pacs; this runs them on workers and
reports progress, Cancel and one outcome per image as signals; the retrieve loop and Send results are
the jobs the command line runs too (xraydesk.jobs). For Test connection and Search the newest request
wins; one retrieve and one send run at a time."""

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from PyQt5.QtCore import QObject, QTimer, pyqtSignal

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.events import NewestWins
from xraydesk.imaging import XRayImage
from xraydesk.jobs.retrieve import retrieve_studies, retrieve_summary, retrieved_folders
from xraydesk.jobs.send_results import ImageOutcome, ReadingFiles, WithMaps, failure_words, send_results
from xraydesk.pacs.client import client_for
from xraydesk.pacs.local_store import LocalStore, StoredFile
from xraydesk.pacs.nodes import (
    DIMSE,
    LocalSide,
    Node,
    PacsError,
    PacsSettings,
    load_settings,
    save_settings,
    settings_path,
)
from xraydesk.pacs.types import StudyQuery, StudyRow
from xraydesk.ui.workers import Worker, WorkerPool

RECEIVED_QUIET_MS = 1000  # received studies are shown once the sender pauses for a second...
RECEIVED_MAX_WAIT_S = 5.0  # ...and every few seconds during a long push


# ------------------------------------------------------------ tasks (run on workers, no Qt)


def echo_task(node: Node, local: LocalSide):
    def run(report, should_stop) -> float:
        node.check()
        return client_for(node, local).echo()

    return run


def find_task(node: Node, local: LocalSide, query: StudyQuery):
    def run(report, should_stop) -> list[StudyRow]:
        node.check()
        return client_for(node, local).find(query)

    return run


def start_listener_task(local: LocalSide, store: LocalStore, allowed: list[str], on_stored, started: list):
    def run(report, should_stop):
        from xraydesk.pacs.dimse import Listener

        listener = Listener(local, store, on_stored=on_stored, extra_calling_aets=allowed)
        listener.start()
        started.append(listener)  # known at once, so that a window closing now still stops it
        return listener

    return run


# ------------------------------------------------------------ the controller


class _WarningsToSignal(logging.Handler):
    """PACS warnings (a refused object, a file stored beside another) reach the status bar; they
    come from the listener's and the workers' threads."""

    def __init__(self, signal):
        super().__init__(logging.WARNING)
        self.signal = signal

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.signal.emit(record.getMessage())
        except RuntimeError:  # the window is gone
            pass


class PacsController(QObject):
    settingsChanged = pyqtSignal()
    echoFinished = pyqtSignal(object, bool, str)  # Node, ok, words (reply time or reason)
    found = pyqtSignal(list)  # StudyRows of the newest search
    searchFailed = pyqtSignal(str)
    retrieveProgress = pyqtSignal(str, int, int)  # words, done, total (0 while unknown)
    retrieveFinished = pyqtSignal(list, str)  # study folders that received images, summary
    sendProgress = pyqtSignal(str, int, int)
    sendFinished = pyqtSignal(list)  # ImageOutcome per image, in order
    sendFailed = pyqtSignal(str)  # nothing sent: the node failed as a whole
    listenerChanged = pyqtSignal(bool, str)  # running, words
    listenerFailed = pyqtSignal(str)  # why it did not start or stop
    received = pyqtSignal(list, int)  # study folders with newly received objects, how many objects
    warned = pyqtSignal(str)
    _stored = pyqtSignal(object)  # StoredFile, from the listener's threads

    def __init__(self, workers: WorkerPool, parent: QObject | None = None):
        """The settings are the user's (nodes.settings_path), the store the default one."""
        super().__init__(parent)
        self.workers = workers
        self.settings_problem = ""
        try:
            self.settings = load_settings()
        except PacsError as error:  # the dialog shows it; saving writes a fresh file
            self.settings, self.settings_problem = PacsSettings(), str(error)
        self.store = LocalStore()
        self._echo, self._search = NewestWins(), NewestWins()
        self._retrieve: Worker | None = None
        self._send: Worker | None = None
        self._setup_listener()
        self._warnings = _WarningsToSignal(self.warned)
        logging.getLogger("xraydesk.pacs").addHandler(self._warnings)

    def save_settings(self, settings: PacsSettings) -> None:
        """Raises PacsError (the settings folder cannot be written); a running listener restarts with
        the new AE title, port and allowed callers."""
        try:
            save_settings(settings)
        except OSError as exc:
            raise PacsError(str(settings_path()), f"not saved ({exc.strerror or exc})") from exc
        self.settings, self.settings_problem = settings, ""
        self.settingsChanged.emit()
        if self.listener is not None:
            self._listener_restart = True
            self._apply_listener()

    def node_named(self, name: str) -> Node | None:
        return self.settings.node_named(name)

    # ------------------------------------------------------------ Test connection and Search

    def test_connection(self, node: Node, local: LocalSide | None = None) -> None:
        """C-ECHO (or a QIDO-RS ping); echoFinished(node, ok, words) unless a newer test began."""
        worker = Worker(echo_task(node, local or self.settings.local))
        self._echo.take(worker)
        worker.returned.connect(lambda seconds: self._echoed(worker, node, True,
                                                             f"{node.label} answered in {seconds * 1000:.0f} ms"))
        worker.errored.connect(lambda error: self._echoed(worker, node, False, failure_words(error)))
        self.workers.start(worker)

    def _echoed(self, worker: Worker, node: Node, ok: bool, words: str) -> None:
        if self._echo.is_newest(worker):
            self.echoFinished.emit(node, ok, words)

    def search(self, node: Node, query: StudyQuery) -> None:
        worker = Worker(find_task(node, self.settings.local, query))
        self._search.take(worker)
        worker.returned.connect(lambda rows: self.found.emit(rows) if self._search.is_newest(worker) else None)
        worker.errored.connect(lambda error: self.searchFailed.emit(failure_words(error))
                               if self._search.is_newest(worker) else None)
        self.workers.start(worker)

    # ------------------------------------------------------------ Retrieve

    @property
    def retrieving(self) -> bool:
        return self._retrieve is not None

    def retrieve(self, node: Node, rows: list[StudyRow], move: bool = False) -> bool:
        """False when a retrieve runs already. `move`: C-MOVE to our listener instead of C-GET."""
        if self._retrieve is not None or not rows:
            return False
        listener = self.listener if self.listener is not None and self.listener.running else None
        worker = Worker(lambda report, should_stop: retrieve_studies(
            node, self.settings.local, rows, self.store, move, listener, report, should_stop))
        worker.yielded.connect(lambda step: self.retrieveProgress.emit(*step))
        worker.returned.connect(lambda results: self._retrieved(results, len(rows)))
        worker.errored.connect(lambda error: self._retrieve_failed(failure_words(error)))
        self._retrieve = self.workers.start(worker)
        return True

    def _retrieved(self, results, asked: int) -> None:
        self._retrieve = None
        self.retrieveFinished.emit(retrieved_folders(results, self.store), retrieve_summary(results, asked))

    def _retrieve_failed(self, words: str) -> None:
        self._retrieve = None
        self.retrieveFinished.emit([], words)

    def cancel_retrieve(self) -> None:
        if self._retrieve is not None:
            self._retrieve.request_stop()

    # ------------------------------------------------------------ Send results

    def send_results(self, node: Node, paths: list[Path], analyses: Mapping[Path, ImageAnalysis],
                     image_for: Callable[[Path], XRayImage], reading_files: ReadingFiles | None = None,
                     with_maps: WithMaps | None = None) -> bool:
        """False when a send runs already. `analyses` is read on the worker: pass a copy."""
        if self._send is not None or not paths:
            return False
        worker = Worker(lambda report, should_stop: send_results(
            node, self.settings.local, paths, analyses, image_for, self.store, report, should_stop, reading_files,
            with_maps))
        worker.yielded.connect(lambda step: self.sendProgress.emit(*step))
        worker.returned.connect(self._sent)
        worker.errored.connect(self._send_failed)
        self._send = self.workers.start(worker)
        return True

    def _sent(self, outcomes: list[ImageOutcome]) -> None:
        self._send = None
        self.sendFinished.emit(outcomes)

    def _send_failed(self, error: Exception) -> None:
        self._send = None
        self.sendFailed.emit(failure_words(error))

    def cancel_send(self) -> None:
        if self._send is not None:
            self._send.request_stop()

    # ------------------------------------------------------------ the listener

    def _setup_listener(self) -> None:
        self.listener = None  # the running xraydesk.pacs.dimse.Listener
        self._listener_wanted = False
        self._listener_restart = False
        self._listener_job: Worker | None = None
        self._started: list = []  # listeners started on a worker, stopped at shutdown whatever became of them
        self._received: dict[Path, None] = {}  # study folders, in order of arrival
        self._received_since = 0.0
        self._received_count = 0
        self._quiet = QTimer(self, singleShot=True, interval=RECEIVED_QUIET_MS)
        self._quiet.timeout.connect(self._flush_received)
        self._stored.connect(self._on_stored)

    def allowed_calling_aets(self, settings: PacsSettings | None = None) -> list[str]:
        """Who may send to the listener: the AE titles given, and the saved DIMSE nodes (a PACS
        answering our C-MOVE calls us with its own AE title)."""
        settings = settings or self.settings
        nodes = [node.ae_title for node in settings.nodes if node.kind == DIMSE and node.ae_title]
        return list(dict.fromkeys([*settings.local.allowed_calling_aets, *nodes]))

    def set_listening(self, wanted: bool) -> None:
        """Starts or stops the listener on a worker; listenerChanged reports the outcome. Requests
        made while one is starting or stopping are applied after it."""
        self._listener_wanted = wanted
        self._apply_listener()

    def _apply_listener(self) -> None:
        if self._listener_job is not None:
            return
        running = self.listener is not None
        if running and (not self._listener_wanted or self._listener_restart):
            self._listener_restart = False
            self._run_listener_job(self._stop_listener_task(self.listener), self._listener_stopped)
        elif not running and self._listener_wanted:
            settings = self.settings
            task = start_listener_task(settings.local, self.store, self.allowed_calling_aets(settings),
                                       self._stored.emit, self._started)
            self._run_listener_job(task, self._listener_started)

    def _run_listener_job(self, task, on_returned) -> None:
        worker = Worker(task)
        worker.returned.connect(on_returned)
        worker.errored.connect(self._listener_failed)
        worker.finished.connect(self._listener_job_done)
        self._listener_job = self.workers.start(worker)

    @staticmethod
    def _stop_listener_task(listener):
        def run(report, should_stop):
            listener.stop()
            return listener

        return run

    def _listener_started(self, listener) -> None:
        self.listener = listener
        self.listenerChanged.emit(True, f"Listening as {listener.address}")

    def _listener_stopped(self, listener) -> None:
        self._flush_received()
        self._started.remove(listener)
        self.listener = None
        self.listenerChanged.emit(False, "Listener stopped")

    def _listener_failed(self, error: Exception) -> None:
        self._listener_wanted = self.listener is not None
        words = failure_words(error)
        self.listenerChanged.emit(self.listener is not None, f"Listener: {words}")
        self.listenerFailed.emit(words)

    def _listener_job_done(self) -> None:
        self._listener_job = None
        self._apply_listener()

    def _on_stored(self, stored: StoredFile) -> None:
        if not self._received:
            self._received_since = time.monotonic()
        self._received[self.store.study_folder(stored.study_uid)] = None
        self._received_count += 1
        if time.monotonic() - self._received_since >= RECEIVED_MAX_WAIT_S:
            self._flush_received()
        else:
            self._quiet.start()

    def _flush_received(self) -> None:
        self._quiet.stop()
        if self._received:
            folders, count = list(self._received), self._received_count
            self._received, self._received_count = {}, 0
            self.received.emit(folders, count)

    # ------------------------------------------------------------ closing

    def shutdown(self) -> None:
        """After WorkerPool.shutdown(): stops the listener (and one a worker was starting)."""
        self._quiet.stop()
        logging.getLogger("xraydesk.pacs").removeHandler(self._warnings)
        for listener in {id(item): item for item in [*self._started, self.listener] if item is not None}.values():
            listener.stop()
        self._started.clear()
        self.listener = None
