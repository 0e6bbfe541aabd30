"""The reader's work kept without a Save step: each change of an image's measurements, arrows or
key-image mark is written, a moment after the reader pauses, as a new version in the local store
(xraydesk.jobs.saved_reading, on a worker), and what was saved is put back when a scan finds the image
again, from a folder, the store or a PACS retrieve. Closing the window writes what is still waiting.
pydicom and highdicom load on first use, on a worker, not with the window."""

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt5.QtCore import QObject, QTimer, pyqtSignal
from PyQt5.QtWidgets import QInputDialog, QWidget

from xraydesk.imaging import IMAGE, ScanEntry, XRayImage, failure_reason
from xraydesk.imaging.session import StudySession
from xraydesk.pacs.local_store import LocalStore
from xraydesk.ui.measurements import MeasurementLayer
from xraydesk.ui.workers import Worker, WorkerPool

if TYPE_CHECKING:
    from xraydesk.jobs.saved_reading import ReadingArchive, SavedReading

SAVE_DELAY_MS = 1500  # a drag is written once, when the reader lets go and pauses
NOT_A_KEY_IMAGE = "Not a key image"
UNCHANGED = object()


def key_image_reasons() -> list[str]:
    from xraydesk.dicom_results.codes import KEY_IMAGE_REASONS  # highdicom loads on first use, not at start-up

    return list(KEY_IMAGE_REASONS)


@dataclass
class Change:
    """What is waiting to be written for one image: its measurements, its key-image reason (None: none),
    each as it was when it changed (a new Open clears the session, not what waits); `number` orders the
    changes of all images."""

    measurements: tuple | object = UNCHANGED
    key_reason: str | None | object = UNCHANGED
    number: int = 0

    def then(self, newer: "Change") -> "Change":
        """This change followed by `newer`: what `newer` changed, and what it left, as this one had it."""
        return Change(*(new if new is not UNCHANGED else old for new, old in (
            (newer.measurements, self.measurements), (newer.key_reason, self.key_reason))), newer.number)


class ChangeWriter:
    """Writes changes from any thread, never one older than a change already written for the same image:
    a flush as the window closes may overtake a worker still writing, which must not write over it."""

    def __init__(self, archive: Callable[[], "ReadingArchive"]):
        self.archive = archive
        self._lock = threading.Lock()
        self._written: dict[Path, int] = {}

    def write(self, changes: dict[Path, Change], image_for: Callable[[Path], XRayImage]) -> dict[Path, str | None]:
        """Returns {path: "" (written), why it was not written, or None (overtaken by a newer change)}."""
        outcomes = {}
        for path, change in changes.items():
            with self._lock:
                if change.number > self._written.get(path, 0):
                    outcomes[path] = self._write(path, change, image_for)
                    self._written[path] = change.number
                else:
                    outcomes[path] = None
        return outcomes

    def _write(self, path: Path, change: Change, image_for: Callable[[Path], XRayImage]) -> str:
        try:
            image = image_for(path)
            if change.measurements is not UNCHANGED:
                self.archive().save_measurements(image, change.measurements)
            if change.key_reason is not UNCHANGED:
                self.archive().save_key_image(image, change.key_reason)
        except Exception as error:  # noqa: BLE001 - one image's failure, told in the status bar
            return failure_reason(error) if isinstance(error, OSError) else str(error)
        return ""


def find_task(archive: Callable[[], "ReadingArchive"], wanted: list[tuple[Path, str, str, list[Path]]]):
    """Reports (path, SavedReading) for each image with something saved."""

    def run(report, should_stop) -> None:
        for path, study_uid, image_uid, nearby in wanted:
            if should_stop():
                return
            found = archive().find(study_uid, image_uid, nearby)
            if found.measurements or found.key_reason or found.problems:
                report((path, found))

    return run


class ReadingKeeper(QObject):
    message = pyqtSignal(str)  # what could not be saved or read, in words
    restored = pyqtSignal(object)  # Path whose saved reading was put back

    def __init__(self, session: StudySession, layer: MeasurementLayer, workers: WorkerPool, store: LocalStore,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.session, self.layer, self.workers, self.store = session, layer, workers, store
        self._archive: ReadingArchive | None = None
        self._archive_lock = threading.Lock()
        self._writer = ChangeWriter(self.archive)
        self._numbers = itertools.count(1)
        self.ask_reason = self._ask_reason  # (current reason) -> chosen reason, NOT_A_KEY_IMAGE, or None (cancel)
        self._saved: dict[Path, tuple] = {}  # measurements as last written or found
        self._saved_keys: dict[Path, str | None] = {}
        self._looked_up: set[Path] = set()
        self._waiting: dict[Path, Change] = {}
        self._writing: dict[Path, Change] = {}
        self._told: set[Path] = set()  # images whose reading cannot be saved, said once
        self._timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._timer.timeout.connect(self._write_waiting)
        layer.changed.connect(self._on_measurements_changed)
        session.key_image_changed.connect(self._on_key_image_changed)
        session.cleared.connect(self._looked_up.clear)

    def archive(self) -> "ReadingArchive":
        """Made on first use (from any thread): it brings pydicom and highdicom."""
        with self._archive_lock:
            if self._archive is None:
                from xraydesk.jobs.saved_reading import ReadingArchive

                self._archive = ReadingArchive(self.store)
            return self._archive

    # ------------------------------------------------------------ putting back what was saved

    def look_up(self, entries: list[ScanEntry]) -> None:
        """After a scan: the saved readings of its DICOM images, put back as they are found."""
        wanted = [(entry.path, entry.keys.study_uid, entry.keys.sop_instance_uid, self.session.objects_of_study(entry.path))
                  for entry in entries if entry.kind == IMAGE and entry.keys.sop_instance_uid and entry.path not in self._looked_up]
        if not wanted:
            return
        self._looked_up.update(path for path, *_ in wanted)
        worker = Worker(find_task(self.archive, wanted))
        worker.yielded.connect(lambda found: self._put_back(*found))
        worker.errored.connect(lambda error: self.message.emit(f"Saved readings not read: {failure_reason(error)}"))
        self.workers.start(worker)

    def _put_back(self, path: Path, found: "SavedReading") -> None:
        if self.session.entry(path) is None:  # another Open since
            return
        if found.measurements:
            measurements = self.session.measurements.for_image(path)
            made_meanwhile = len(measurements)
            measurements.put_back(found.measurements)
            self._saved[path] = found.measurements
            if made_meanwhile:
                self._changed(path, measurements=tuple(measurements))
            if self.layer.canvas.image is not None and self.layer.canvas.image.path == path:
                self.layer.refresh()
        if found.key_reason is not None and self.session.key_reason(path) is None:
            self._saved_keys[path] = found.key_reason
            self.session.set_key_image(path, found.key_reason)
        for problem in found.problems:
            self.message.emit(f"Saved reading of {path.name} not read: {problem}")
        self.restored.emit(path)

    # ------------------------------------------------------------ writing each change

    def _on_measurements_changed(self) -> None:
        image = self.layer.canvas.image
        if image is None:
            return
        now = tuple(self.session.measurements.for_image(image.path))
        if now != self._saved.get(image.path, ()) or self._pending(image.path):
            self._changed(image.path, measurements=now)

    def _on_key_image_changed(self, path: Path, reason: str | None) -> None:
        if reason != self._saved_keys.get(path) or self._pending(path):
            self._changed(path, key_reason=reason)

    def _pending(self, path: Path) -> bool:
        """A change of the image waits or is being written: going back to what was saved is a change too."""
        return path in self._waiting or path in self._writing

    def _changed(self, path: Path, **change) -> None:
        waiting = self._waiting.setdefault(path, Change())
        for name, value in change.items():
            setattr(waiting, name, value)
        waiting.number = next(self._numbers)
        self._timer.start()

    def _write_waiting(self) -> None:
        if self._writing:  # one write at a time: the rest follows it
            return
        self._writing, self._waiting = self._waiting, {}
        changes, image_for = dict(self._writing), self.session.image_source()
        worker = Worker(lambda report, should_stop: self._writer.write(changes, image_for))
        worker.returned.connect(self._written)
        worker.errored.connect(lambda error: self._written({path: failure_reason(error) for path in self._writing}))
        self.workers.start(worker)

    def _written(self, outcomes: dict[Path, str | None]) -> None:
        writing, self._writing = self._writing, {}
        self._note(writing, outcomes)
        if self._waiting:
            self._timer.start()

    def _note(self, changes: dict[Path, Change], outcomes: dict[Path, str | None]) -> None:
        for path, failure in outcomes.items():
            change = changes[path]
            if failure is None:  # a newer change was written instead
                continue
            if failure:
                if path not in self._told:
                    self._told.add(path)
                    self.message.emit(f"Reading of {path.name} kept for this session only, not saved: {failure}")
                continue
            if change.measurements is not UNCHANGED:
                self._saved[path] = change.measurements
            if change.key_reason is not UNCHANGED:
                self._saved_keys[path] = change.key_reason

    def flush(self) -> None:
        """Writes at once, on this thread, what waits and what a worker may not have finished (closing the
        window, sending to a PACS); the ChangeWriter writes each change once, in order."""
        changes = dict(self._writing)
        for path, change in self._waiting.items():
            changes[path] = changes.get(path, Change()).then(change)
        self._timer.stop()
        self._waiting = {}
        if changes:
            self._note(changes, self._writer.write(changes, self.session.image_source()))

    # ------------------------------------------------------------ key images

    def mark_key_image(self, path: Path) -> None:
        """K: asks why the image is a key image (or that it no longer is)."""
        current = self.session.key_reason(path)
        chosen = self.ask_reason(current)
        if chosen is not None:
            self.session.set_key_image(path, None if chosen == NOT_A_KEY_IMAGE else chosen)

    def _ask_reason(self, current: str | None) -> str | None:
        reasons = key_image_reasons() + ([NOT_A_KEY_IMAGE] if current else [])
        parent = self.parent() if isinstance(self.parent(), QWidget) else None
        chosen, ok = QInputDialog.getItem(parent, "Key image", "Why is this a key image?", reasons,
                                          reasons.index(current) if current in reasons else 0, False)
        return chosen if ok else None

    def files_to_send(self, image: XRayImage) -> list[tuple[str, Path]]:
        return self.archive().files_to_send(image)
