"""Runs the StudySession's work off the UI thread: scanning what the reader opens (or what a PACS
retrieve or the listener brings), thumbnails, and decoding the image asked for. The session (Qt-free)
holds the results; this turns them into signals for the views. The newest request wins: a scan,
thumbnail run or decode superseded by a newer one is dropped when it reports."""

from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal

from xraydesk.events import NewestWins
from xraydesk.imaging import IMAGE, ImageDisplay, ScanEntry, failure_reason
from xraydesk.imaging.session import StudySession, decode, scan_task, thumbnail_task
from xraydesk.ui.workers import Worker, WorkerPool


class SessionController(QObject):
    scanStarted = pyqtSignal(str)  # what is scanned, in words
    scanProgress = pyqtSignal(int)  # files found so far
    scanFinished = pyqtSignal(list)  # the scan's entries, sorted
    scanFailed = pyqtSignal(str)
    thumbnailsStarted = pyqtSignal(int)  # how many
    thumbnailReady = pyqtSignal(object, object)  # Path, uint8 pixels
    thumbnailsDone = pyqtSignal()
    imageFailed = pyqtSignal(object, str)  # Path, reason (the browser marks the image)
    imageReady = pyqtSignal(object)  # ImageDisplay of the image asked for last
    wantedImageFailed = pyqtSignal(object, str)  # Path, message naming the file and the reason

    def __init__(self, session: StudySession, workers: WorkerPool, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.workers = workers
        self._scan, self._thumbnails, self._wanted = NewestWins(), NewestWins(), NewestWins()
        self._waiting_for_decode = False  # the wanted image is not on its way to the screen yet

    @property
    def wanted_path(self) -> Path | None:
        return self._wanted.newest

    # ------------------------------------------------------------ scanning

    def open_paths(self, paths: list[Path], replace: bool = True) -> None:
        """Scans files and folders; `replace`: the new studies replace those open (a retrieve or the
        listener adds to them instead)."""
        for running in (self._scan.newest, self._thumbnails.newest):
            if isinstance(running, Worker):
                self.workers.stop(running)
        if replace:
            self.session.clear()
            self._wanted.drop()
        self.scanStarted.emit(", ".join(path.name for path in paths))
        worker = Worker(scan_task(paths))
        self._scan.take(worker)
        worker.yielded.connect(lambda entry: self._on_scanned(worker, entry))
        worker.returned.connect(lambda entries: self._on_scan_done(worker, entries))
        worker.errored.connect(lambda error: self.scanFailed.emit(f"Scan failed: {failure_reason(error)}"))
        self.workers.start(worker)

    def _on_scanned(self, worker: Worker, entry: ScanEntry) -> None:
        if self._scan.is_newest(worker):
            self.session.add(entry)
            self.scanProgress.emit(len(self.session.image_paths()))

    def _on_scan_done(self, worker: Worker, entries: list[ScanEntry]) -> None:
        if not self._scan.is_newest(worker):
            return
        self.scanFinished.emit(entries)
        self._start_thumbnails([entry.path for entry in entries if entry.kind == IMAGE])

    def _start_thumbnails(self, paths: list[Path]) -> None:
        self.thumbnailsStarted.emit(len(paths))
        worker = Worker(thumbnail_task(paths))
        self._thumbnails.take(worker)
        worker.yielded.connect(lambda result: self._on_thumbnail(worker, result))
        worker.errored.connect(lambda error: self.scanFailed.emit(f"Thumbnails stopped: {failure_reason(error)}"))
        worker.finished.connect(lambda: self.thumbnailsDone.emit() if self._thumbnails.is_newest(worker) else None)
        self.workers.start(worker)

    def _on_thumbnail(self, worker: Worker, result) -> None:
        if not self._thumbnails.is_newest(worker):
            return
        path, thumbnail_or_reason, display = result
        if display is None:
            self.imageFailed.emit(path, thumbnail_or_reason)
            return
        self.thumbnailReady.emit(path, thumbnail_or_reason)
        display = self.session.keep(display)
        if self._wanted.is_newest(path) and self._waiting_for_decode:
            self._deliver(display)

    # ------------------------------------------------------------ the image asked for

    def show(self, path: Path) -> None:
        """The image's display at once when cached, else decoded in the background."""
        self._wanted.take(path)
        cached = self.session.cached(path)
        if cached is not None:
            self._deliver(cached)
            return
        self._waiting_for_decode = True
        worker = Worker(lambda report, should_stop: decode(path))
        worker.returned.connect(self._on_decoded)
        worker.errored.connect(lambda error: self._on_decode_failed(path, error))
        self.workers.start(worker)

    def _deliver(self, display: ImageDisplay) -> None:
        self._waiting_for_decode = False
        self.imageReady.emit(display)

    def _on_decoded(self, display: ImageDisplay) -> None:
        display = self.session.keep(display)
        if self._wanted.is_newest(display.image.path) and self._waiting_for_decode:
            self._deliver(display)

    def _on_decode_failed(self, path: Path, error: Exception) -> None:
        reason = failure_reason(error)
        self.imageFailed.emit(path, reason)
        if self._wanted.is_newest(path):
            self._waiting_for_decode = False
            self.wantedImageFailed.emit(path, f"Cannot open {path.name}: {reason}")
