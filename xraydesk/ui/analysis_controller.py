"""Analyses off the UI thread. One model (loaded lazily, in a worker, on first use) serves both the
image on screen and the worklist. For the image on screen the newest request wins: at most one
analysis runs and one waits; a newer request replaces the waiting one. Results go to the reading
model (xraydesk.reading), which keeps those of images still open and shows the one on screen."""

from dataclasses import dataclass
from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal

from xraydesk import imaging
from xraydesk.ai.analysis import Analyser, ImageAnalysis
from xraydesk.ai.model import ModelUnavailableError
from xraydesk.imaging import ImageLoadError, XRayImage
from xraydesk.reading import Reading
from xraydesk.ui.workers import Worker, WorkerPool

LOADING_MODEL = "loading model"


@dataclass(frozen=True)
class WorklistEntry:
    path: Path
    analysis: ImageAnalysis | None = None
    error: str = ""


def failure_message(error: Exception) -> str:
    if isinstance(error, ModelUnavailableError):
        return f"AI unavailable — {error}. XRayDesk still works as a viewer."
    return f"Analysis failed: {error}"


class AnalysisController(QObject):
    modelLoading = pyqtSignal()
    modelLoaded = pyqtSignal(str)  # model version, after preload()
    analysisStarted = pyqtSignal(object)  # Path
    analysed = pyqtSignal(object)  # ImageAnalysis of an image still open
    failed = pyqtSignal(object, str)  # Path (None when preloading), message
    worklistEntry = pyqtSignal(object)  # WorklistEntry
    worklistFinished = pyqtSignal(str)  # summary

    def __init__(self, workers: WorkerPool, reading: Reading, parent: QObject | None = None):
        super().__init__(parent)
        self.workers = workers
        self.reading = reading
        self._running: Worker | None = None
        self._waiting: XRayImage | None = None
        self._worklist: Worker | None = None

    @property
    def analyser(self) -> Analyser:
        return self.reading.analyser

    @property
    def results(self):
        """The analyses of the images open (the reading model's), in analysis order."""
        return self.reading.analyses

    # ------------------------------------------------------------ the image on screen

    def request(self, image: XRayImage) -> None:
        if self._running is not None:
            self._waiting = image
            return
        self._start(self._analysis_task(image), image.path, self._store)
        self.analysisStarted.emit(image.path)

    def preload(self) -> None:
        """Loads the model now, in the background, so that the first analysis need not wait for it."""
        if self._running is None and not self.analyser.is_loaded:
            self._start(self._load_task(), None, lambda version: self.modelLoaded.emit(version))

    def _start(self, task, path: Path | None, on_returned) -> None:
        worker = Worker(task)
        worker.yielded.connect(lambda _stage: self.modelLoading.emit())
        worker.returned.connect(on_returned)
        worker.errored.connect(lambda error: self.failed.emit(path, failure_message(error)))
        worker.finished.connect(self._start_waiting)
        self._running = self.workers.start(worker)

    def _load_task(self):
        def run(report, should_stop):
            report(LOADING_MODEL)
            return self.analyser.model().version

        return run

    def _analysis_task(self, image: XRayImage):
        def run(report, should_stop):
            if not self.analyser.is_loaded:
                report(LOADING_MODEL)
            return self.analyser.analyse(image)

        return run

    def _start_waiting(self) -> None:
        self._running = None
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self.request(waiting)

    def _store(self, analysis: ImageAnalysis) -> None:
        if self.reading.keep(analysis):
            self.analysed.emit(analysis)

    # ------------------------------------------------------------ the worklist

    def analyse_paths(self, paths: list[Path]) -> None:
        """Analyses every image in the background, reusing results already made."""
        self.cancel_worklist()
        known = dict(self.results)
        worker = Worker(self._worklist_task(list(paths), known))
        worker.yielded.connect(lambda entry: self._on_worklist_entry(worker, entry))
        worker.returned.connect(lambda summary: self._end_worklist(worker, summary))
        worker.errored.connect(lambda error: self._end_worklist(worker, failure_message(error)))
        self._worklist = self.workers.start(worker)

    def _worklist_task(self, paths: list[Path], known: dict[Path, ImageAnalysis]):
        def run(report, should_stop):
            for done, path in enumerate(paths):
                if should_stop():
                    return f"Cancelled after {done} of {len(paths)} images."
                report(known.get(path) or self._analyse_file(path))
            return f"Analysed {len(paths)} images."

        return run

    def _analyse_file(self, path: Path) -> WorklistEntry | ImageAnalysis:
        try:
            return self.analyser.analyse(imaging.load_image(path))
        except ImageLoadError as error:
            return WorklistEntry(path, error=error.reason)
        except ModelUnavailableError:
            raise
        except Exception as error:  # one unforeseen failure stays one row; the worklist goes on
            return WorklistEntry(path, error=f"{type(error).__name__}: {error}")

    def _on_worklist_entry(self, worker: Worker, result) -> None:
        if worker is not self._worklist:
            return
        if isinstance(result, ImageAnalysis):
            if not self.reading.keep(result):
                return
            result = WorklistEntry(result.path, result)
        self.worklistEntry.emit(result)

    def _end_worklist(self, worker: Worker, summary: str) -> None:
        if worker is self._worklist:
            self._worklist = None
            self.worklistFinished.emit(summary)

    def cancel_worklist(self) -> None:
        if self._worklist is not None:
            self.workers.stop(self._worklist)

    def forget(self) -> None:
        """Open replaced the studies: the worklist stops and its late rows are dropped, and an image
        waiting for analysis is no longer wanted."""
        self.cancel_worklist()
        self._worklist = None
        self._waiting = None
