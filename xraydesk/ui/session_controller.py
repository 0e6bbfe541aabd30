"""Runs the StudySession's work off the UI thread: scanning what the reader opens (or what a PACS
retrieve or the listener brings), thumbnails, and decoding the image asked for. The session (Qt-free)
holds the results; this turns them into signals for the views. The newest request wins: a scan,
thumbnail run or decode superseded by a newer one is dropped when it reports."""

from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal

from xraydesk.events import NewestWins
from xraydesk.imaging import ImageDisplay, Preview, ScanEntry, failure_reason
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
    previewReady = pyqtSignal(object, object)  # Preview, its ImageDisplay: shown until imageReady
    imageReady = pyqtSignal(object)  # ImageDisplay of the image asked for last
    wantedImageFailed = pyqtSignal(object, str)  # Path, message naming the file and the reason

    def __init__(self, session: StudySession, workers: WorkerPool, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.workers = workers
        # The newest set of studies opened: an Open replaces it, a retrieve or the listener adds to it.
        self._opened, self._wanted = NewestWins(), NewestWins()
        self._background: list[Worker] = []  # that set's scans and thumbnail runs, stopped by the next Open
        self._waiting_for_decode = False  # the wanted image is not on its way to the screen yet

    @property
    def wanted_path(self) -> Path | None:
        return self._wanted.newest

    # ------------------------------------------------------------ scanning

    def open_paths(self, paths: list[Path], replace: bool = True) -> None:
        """Scans files and folders; `replace`: the new studies replace those open (a retrieve or the
        listener adds to them instead, leaving running scans alone)."""
        if replace or self._opened.newest is None:
            for worker in self._background:
                self.workers.stop(worker)
            self._background = []
            self.session.clear()
            self._wanted.drop()
            self._opened.take()
        opened = self._opened.newest
        self.scanStarted.emit(", ".join(path.name for path in paths))
        worker = Worker(scan_task(paths))
        worker.yielded.connect(lambda entry: self._on_scanned(opened, entry))
        worker.returned.connect(lambda entries: self._on_scan_done(opened, entries))
        worker.errored.connect(lambda error: self.scanFailed.emit(f"Scan failed: {failure_reason(error)}"))
        self._run_in_background(worker)

    def _run_in_background(self, worker: Worker) -> None:
        self._background.append(worker)
        worker.finished.connect(lambda: self._background.remove(worker) if worker in self._background else None)
        self.workers.start(worker)

    def _on_scanned(self, opened: object, entry: ScanEntry) -> None:
        if self._opened.is_newest(opened):
            self.session.add(entry)
            self.scanProgress.emit(self.session.image_count())

    def _on_scan_done(self, opened: object, entries: list[ScanEntry]) -> None:
        if not self._opened.is_newest(opened):
            return
        self.scanFinished.emit(entries)
        self._start_thumbnails(opened, [entry.path for entry in entries if self.session.holds(entry.path)])

    def _start_thumbnails(self, opened: object, paths: list[Path]) -> None:
        self.thumbnailsStarted.emit(len(paths))
        worker = Worker(thumbnail_task(paths))
        worker.yielded.connect(lambda result: self._on_thumbnail(opened, result))
        worker.errored.connect(lambda error: self.scanFailed.emit(f"Thumbnails stopped: {failure_reason(error)}"))
        worker.finished.connect(lambda: self.thumbnailsDone.emit() if self._opened.is_newest(opened) else None)
        self._run_in_background(worker)

    def _on_thumbnail(self, opened: object, result) -> None:
        if not self._opened.is_newest(opened):
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
        worker = Worker(lambda report, should_stop: decode(path, lambda *preview: report(preview)))
        worker.yielded.connect(lambda preview: self._on_preview(path, *preview))
        worker.returned.connect(self._on_decoded)
        worker.errored.connect(lambda error: self._on_decode_failed(path, error))
        self.workers.start(worker)

    def _on_preview(self, path: Path, preview: Preview, display: ImageDisplay) -> None:
        if self._wanted.is_newest(path) and self._waiting_for_decode:
            self.previewReady.emit(preview, display)

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

    # ------------------------------------------------------------ an image for another view

    def decode_for(self, path: Path, on_ready, on_failed) -> None:
        """An image for a second view (the prior beside the current one), outside show()'s newest-wins:
        `on_ready(display)` at once when cached, else after a background decode; `on_failed(message)`
        names the file and the reason. The caller drops answers it no longer wants."""
        cached = self.session.cached(path)
        if cached is not None:
            on_ready(cached)
            return
        worker = Worker(lambda report, should_stop: decode(path))
        worker.returned.connect(lambda display: on_ready(self.session.keep(display)))
        worker.errored.connect(lambda error: on_failed(f"Cannot open {path.name}: {failure_reason(error)}"))
        self.workers.start(worker)
