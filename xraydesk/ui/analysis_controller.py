"""Analyses off the UI thread. One model (loaded lazily, in a worker, on first use) serves both the
image on screen and the worklist. For the image on screen the newest request wins: at most one
analysis runs and one waits; a newer request replaces the waiting one. Results go to the reading
model (xraydesk.reading), which keeps those of images still open and shows the one on screen.

A result waiting in the study (the AI node's SR of the image, by the model the app has:
xraydesk.jobs.node_results) is used instead of analysing: after a scan every image's is looked up, and
an analysis asked for looks first. Its maps are computed when an overlay shows them (request_maps)."""

from dataclasses import dataclass
from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal

from xraydesk import imaging
from xraydesk.ai.analysis import Analyser, ImageAnalysis, StudyIdentity
from xraydesk.ai.model import ModelUnavailableError
from xraydesk.imaging import ImageLoadError, ScanEntry, XRayImage
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
    message = pyqtSignal(str)  # a result waiting in a study that could not be read

    def __init__(self, workers: WorkerPool, reading: Reading, parent: QObject | None = None):
        super().__init__(parent)
        self.workers = workers
        self.reading = reading
        self._running: Worker | None = None
        self._waiting: tuple[XRayImage, bool] | None = None  # the image, and whether only its maps are wanted
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
        """The image's result: the one waiting in its study, else an analysis."""
        self._request(image, maps=False)

    def request_maps(self, image: XRayImage) -> None:
        """The heatmaps and lung mask of an image whose result lacks them, computed by analysing it."""
        self._request(image, maps=True)

    def _request(self, image: XRayImage, maps: bool) -> None:
        if self._running is not None:
            self._waiting = (image, maps)
            return
        if maps:
            self._start(self._analysis_task(image, []), image.path, self._store_maps)
        else:
            self._start(self._analysis_task(image, self.reading.session.study_objects(image.path)), image.path,
                        self._store)
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

    def _analysis_task(self, image: XRayImage, objects: list[ScanEntry]):
        """`objects`: the pixel-less objects of the image's study, where its result may be waiting."""
        def run(report, should_stop):
            waiting = self._waiting_result(image, objects)
            if waiting is not None:
                return waiting
            if not self.analyser.is_loaded:
                report(LOADING_MODEL)
            return self.analyser.analyse(image)

        return run

    def _waiting_result(self, image: XRayImage, objects: list[ScanEntry]) -> ImageAnalysis | None:
        """On a worker. One that cannot be read is analysed afresh (the look-up after the scan said why)."""
        if not objects or not image.keys.sop_instance_uid:
            return None
        from xraydesk.dicom_results import ResultsError
        from xraydesk.jobs.node_results import waiting_result

        try:
            return waiting_result(self.analyser, image.keys.sop_instance_uid, objects, lambda: StudyIdentity.of(image))
        except ResultsError:
            return None

    def _start_waiting(self) -> None:
        self._running = None
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self._request(*waiting)

    def _store(self, analysis: ImageAnalysis) -> None:
        if self.reading.keep(analysis):
            self.analysed.emit(analysis)

    def _store_maps(self, computed: ImageAnalysis) -> None:
        if self.reading.keep_maps(computed):
            self.analysed.emit(self.results[computed.path])

    # ------------------------------------------------------------ results waiting in the studies scanned

    def look_up(self, entries: list[ScanEntry]) -> None:
        """After a scan: the results waiting for its images, kept and listed in the worklist as found."""
        wanted = self.reading.results_to_look_up(entries)
        if not wanted:
            return

        def run(report, should_stop):
            from xraydesk.jobs.node_results import waiting_results

            for found in waiting_results(self.analyser, wanted, should_stop):
                report(found)

        worker = Worker(run)
        worker.yielded.connect(self._store_waiting)
        worker.errored.connect(lambda error: self.message.emit(f"Results waiting in the study not read: {error}"))
        self.workers.start(worker)

    def _store_waiting(self, found: ImageAnalysis | str) -> None:
        if isinstance(found, str):
            self.message.emit(found)
        elif found.path not in self.results and self.reading.keep(found):  # one made here since is newer: it stays
            self.analysed.emit(found)
            self.worklistEntry.emit(WorklistEntry(found.path, found))

    # ------------------------------------------------------------ the worklist

    def analyse_paths(self, paths: list[Path]) -> None:
        """Analyses every image in the background, reusing results already made."""
        self.cancel_worklist()
        known = dict(self.results)
        objects = {path: self.reading.session.study_objects(path) for path in paths}
        worker = Worker(self._worklist_task(list(paths), known, objects))
        worker.yielded.connect(lambda entry: self._on_worklist_entry(worker, entry))
        worker.returned.connect(lambda summary: self._end_worklist(worker, summary))
        worker.errored.connect(lambda error: self._end_worklist(worker, failure_message(error)))
        self._worklist = self.workers.start(worker)

    def _worklist_task(self, paths: list[Path], known: dict[Path, ImageAnalysis], objects: dict[Path, list]):
        def run(report, should_stop):
            for done, path in enumerate(paths):
                if should_stop():
                    return f"Cancelled after {done} of {len(paths)} images."
                report(known.get(path) or self._analyse_file(path, objects[path]))
            return f"Analysed {len(paths)} images."

        return run

    def _analyse_file(self, path: Path, objects: list[ScanEntry]) -> WorklistEntry | ImageAnalysis:
        try:
            image = imaging.load_image(path)
            return self._waiting_result(image, objects) or self.analyser.analyse(image)
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
