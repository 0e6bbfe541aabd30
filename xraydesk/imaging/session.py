"""The studies open in the app (no Qt): patients → studies → series → images from any source
(files, folders, DICOMDIRs, a PACS retrieve, the DICOM listener), the decoded-image cache (one
ImageDisplay per cached image, shared by the canvas, the thumbnails and the report), and what the
reader did to each image (read marks, measurements). Qt views observe its events; workers run its
tasks."""

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from xraydesk import imaging  # load_image and scan_paths through it: pydicom loads on first use, in a worker
from xraydesk.events import Event
from xraydesk.imaging.display import ImageDisplay
from xraydesk.imaging.entries import IMAGE, ScanEntry
from xraydesk.imaging.image import Preview, XRayImage, failure_reason
from xraydesk.imaging.measurements import MeasurementStore

IMAGE_CACHE_SIZE = 4
THUMBNAIL_SIZE = 64


@dataclass(frozen=True)
class Study:
    patient_id: str
    study_uid: str  # StudyKeys.study: the Study Instance UID, or the folder of files without one
    study_date: str  # YYYYMMDD as in the header ("" when unknown)
    description: str
    paths: tuple[Path, ...]


class StudySession:
    def __init__(self, cache_size: int = IMAGE_CACHE_SIZE):
        self.cache_size = cache_size
        self.entry_added = Event()  # ScanEntry
        self.cleared = Event()
        self.read_changed = Event()  # Path, bool
        self._entries: list[ScanEntry] = []
        self._images: dict[Path, ScanEntry] = {}
        self._cache: OrderedDict[Path, ImageDisplay] = OrderedDict()
        self._read: set[Path] = set()
        self.measurements = MeasurementStore()

    # ------------------------------------------------------------ contents

    def clear(self) -> None:
        """A new set of studies replaces the old (the cache goes with them)."""
        self._entries, self._images = [], {}
        self._cache.clear()
        self._read.clear()
        self.measurements.clear()
        self.cleared.emit()

    def add(self, entry: ScanEntry) -> None:
        """A scanned file; images already known (the same file found twice) are added once."""
        if entry.kind == IMAGE and entry.path in self._images:
            return
        self._entries.append(entry)
        if entry.kind == IMAGE:
            self._images[entry.path] = entry
        self.entry_added.emit(entry)

    def is_open(self, path: Path) -> bool:
        return path in self._images

    def image_count(self) -> int:
        return len(self._images)

    def image_paths(self) -> list[Path]:
        """Every image in browser order (patient, study, series, instance)."""
        return [entry.path for entry in sorted(self._images.values(), key=lambda entry: entry.sort_key)]

    def skipped(self) -> list[ScanEntry]:
        return [entry for entry in self._entries if entry.kind != IMAGE]

    def summary(self) -> str:
        images, skipped = len(self._images), len(self._entries) - len(self._images)
        text = f"{images} image{'' if images == 1 else 's'}"
        return text + (f", {skipped} skipped" if skipped else "")

    # ------------------------------------------------------------ a patient's studies

    def studies_of_patient(self, path: Path) -> list[Study]:
        """The studies of this image's patient (same Patient ID), oldest first; just its own study
        when the image has no Patient ID (PNG/JPEG, anonymised files)."""
        entry = self._images.get(path)
        if entry is None:
            return []
        patient_id = entry.keys.patient_id
        same_patient = [other for other in self._images.values() if other.study_key == entry.study_key
                        or (patient_id and other.keys.patient_id == patient_id)]
        by_study: dict[str, list[ScanEntry]] = {}
        for other in sorted(same_patient, key=lambda other: other.sort_key):
            by_study.setdefault(other.keys.study, []).append(other)
        studies = [Study(group[0].keys.patient_id, study, group[0].keys.study_date, group[0].keys.study_description,
                         tuple(member.path for member in group)) for study, group in by_study.items()]
        return sorted(studies, key=lambda study: (study.study_date, study.study_uid))

    def prior_studies(self, path: Path) -> list[Study]:
        """Earlier studies of the image's patient, the most recent first (dated studies only: an
        undated study cannot be called earlier)."""
        entry = self._images.get(path)
        if entry is None or not entry.keys.study_date:
            return []
        return [study for study in reversed(self.studies_of_patient(path))
                if study.study_date and study.study_date < entry.keys.study_date]

    # ------------------------------------------------------------ the decoded-image cache

    def keep(self, display: ImageDisplay) -> ImageDisplay:
        """Caches a decoded image (the newest is kept longest); returns the cached mapping, so that
        every consumer shares one."""
        path = display.image.path
        cached = self._cache.get(path)
        if cached is None or cached.image is not display.image:
            self._cache[path] = display
        self._cache.move_to_end(path)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return self._cache[path]

    def cached(self, path: Path) -> ImageDisplay | None:
        display = self._cache.get(path)
        if display is not None:
            self._cache.move_to_end(path)
        return display

    def image_source(self) -> Callable[[Path], XRayImage]:
        """For work in another thread (the PDF): the images cached now, else decoded from their files."""
        images = {path: display.image for path, display in self._cache.items()}
        return lambda path: images.get(path) or imaging.load_image(path)

    # ------------------------------------------------------------ read marks

    def is_read(self, path: Path) -> bool:
        return path in self._read

    def set_read(self, path: Path, read: bool = True) -> None:
        if read == (path in self._read):
            return
        (self._read.add if read else self._read.discard)(path)
        self.read_changed.emit(path, read)


# ------------------------------------------------------------ tasks the app runs on workers
# A task takes report(item) and should_stop() (xraydesk.ui.workers.Task) and runs off the UI thread.

def scan_task(paths: list[Path]):
    """Reports each ScanEntry as it is found; returns them all, sorted."""
    return lambda report, should_stop: imaging.scan_paths(paths, report, should_stop)


def decode(path: Path, on_preview: Callable[[Preview, ImageDisplay], None] | None = None) -> ImageDisplay:
    """The image and its display mapping, both built off the UI thread; `on_preview` first gets a
    reduced-resolution decode and its mapping where that is much faster (large JPEG 2000 / JPEG)."""
    report_preview = None if on_preview is None else lambda preview: on_preview(preview, ImageDisplay(preview.image))
    return ImageDisplay(imaging.load_image(path, report_preview))


def make_thumbnail(display: ImageDisplay) -> np.ndarray:
    picture = Image.fromarray(display.render(display.default_window()))
    picture.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    return np.asarray(picture)


def thumbnail_task(paths: list[Path]):
    """Decodes each image for its thumbnail; reports (path, thumbnail, display) or (path, reason,
    None). Any failure is one image's: the next ones still get theirs."""

    def run(report, should_stop):
        for path in paths:
            if should_stop():
                return
            try:
                display = decode(path)
                report((path, make_thumbnail(display), display))
            except Exception as error:  # noqa: BLE001 - one image's failure, shown beside it in the browser
                report((path, failure_reason(error), None))

    return run
