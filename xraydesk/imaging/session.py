"""The studies open in the app (no Qt): patients → studies → series → images from any source
(files, folders, DICOMDIRs, a PACS retrieve, the DICOM listener), the decoded-image cache (one
ImageDisplay per cached image, shared by the canvas, the thumbnails and the report), and what the
reader did to each image (read marks, measurements). Qt views observe its events; workers run its
tasks.

What the reader did is kept here while the app runs; xraydesk.jobs.saved_reading keeps it beyond (the
app writes it there as it changes, and puts back what it finds when a study opens)."""

import datetime
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from xraydesk import imaging  # load_image and scan_paths through it: pydicom loads on first use, in a worker
from xraydesk.events import Event
from xraydesk.imaging.display import ImageDisplay
from xraydesk.imaging.entries import IMAGE, NON_IMAGE, ScanEntry
from xraydesk.imaging.image import Preview, XRayImage, failure_reason
from xraydesk.imaging.measurements import MeasurementStore
from xraydesk.imaging.study_keys import dated_film_keys
from xraydesk.imaging.study_order import StudyMoment, earlier_indices

IMAGE_CACHE_SIZE = 4
THUMBNAIL_SIZE = 64


@dataclass(frozen=True)
class Study:
    patient_id: str
    study_uid: str  # StudyKeys.study: the Study Instance UID, or the folder of files without one
    study_date: str  # YYYYMMDD as in the header ("" when unknown)
    description: str
    paths: tuple[Path, ...]
    moment: StudyMoment | None = None  # None without a valid date (xraydesk.imaging.study_order)


class StudySession:
    def __init__(self, cache_size: int = IMAGE_CACHE_SIZE):
        self.cache_size = cache_size
        self.entry_added = Event()  # ScanEntry
        self.cleared = Event()
        self.read_changed = Event()  # Path, bool
        self.key_image_changed = Event()  # Path, reason (None: no longer a key image)
        self.films_dated = Event()  # list[Path]: PNG/JPEG films the reader gave dates (date_films)
        self._entries: list[ScanEntry] = []
        self._images: dict[Path, ScanEntry] = {}
        self._instances: set[str] = set()  # SOP Instance UIDs of the images held
        self._cache: OrderedDict[Path, ImageDisplay] = OrderedDict()
        self._read: set[Path] = set()
        self._key_images: dict[Path, str] = {}
        self.measurements = MeasurementStore()
        self.drafts: dict[Path, str] = {}  # the reader's edits of each image's draft report

    # ------------------------------------------------------------ contents

    def clear(self) -> None:
        """A new set of studies replaces the old (the cache goes with them)."""
        self._entries, self._images = [], {}
        self._instances.clear()
        self._cache.clear()
        self._read.clear()
        self._key_images.clear()
        self.measurements.clear()
        self.drafts.clear()
        self.cleared.emit()

    def add(self, entry: ScanEntry) -> None:
        """A scanned file, unless its image is held already: the same file found twice, or another copy of
        the same SOP Instance (a study retrieved while it is open)."""
        instance = entry.keys.sop_instance_uid
        if entry.kind == IMAGE and (entry.path in self._images or instance in self._instances):
            return
        self._entries.append(entry)
        if entry.kind == IMAGE:
            self._images[entry.path] = entry
            if instance:
                self._instances.add(instance)
        self.entry_added.emit(entry)

    def holds(self, path: Path) -> bool:
        return path in self._images

    def image_name(self, path: Path) -> str:
        """How lists name the image (ScanEntry.image_name)."""
        entry = self._images.get(path)
        return entry.image_name if entry is not None else path.name

    def entry(self, path: Path) -> ScanEntry | None:
        """The scan's entry of an image."""
        return self._images.get(path)

    def objects_of_study(self, path: Path) -> list[Path]:
        """The pixel-less DICOM objects found in the image's study (reports, key-object documents,
        presentation states): where a saved reading may be besides the local store."""
        return [other.path for other in self.study_objects(path)]

    def study_objects(self, path: Path) -> list[ScanEntry]:
        """objects_of_study as scanned (with their SOP Instance UIDs: the AI node's result is found by its own)."""
        entry = self._images.get(path)
        study_uid = entry.keys.study_uid if entry is not None else ""
        if not study_uid:
            return []
        return [other for other in self._entries if other.kind == NON_IMAGE and other.keys.study_uid == study_uid]

    def image_count(self) -> int:
        return len(self._images)

    def image_paths(self) -> list[Path]:
        """Every image by patient, study (date, UID), series and instance."""
        return [entry.path for entry in sorted(self._images.values(), key=lambda entry: entry.sort_key)]

    def skipped(self) -> list[ScanEntry]:
        return [entry for entry in self._entries if entry.kind != IMAGE]

    def summary(self) -> str:
        images, skipped = len(self._images), len(self._entries) - len(self._images)
        text = f"{images} image{'' if images == 1 else 's'}"
        return text + (f", {skipped} skipped" if skipped else "")

    # ------------------------------------------------------------ dates for films without them

    def plain_films(self, paths: Iterable[Path] | None = None) -> list[Path]:
        """The PNG/JPEG images among `paths` (every image held by default), in file-name order: they have no
        dates, so compare and the trend cannot order them until the reader dates them (date_films)."""
        chosen = self._images if paths is None else [path for path in paths if path in self._images]
        return sorted((path for path in chosen if self._images[path].source_format != "DICOM"),
                      key=lambda path: (path.name, str(path)))

    def date_films(self, dates: dict[Path, str]) -> list[Path]:
        """The reader's dates (YYYYMMDD) for a set of PNG/JPEG films, held in the session only (files are never
        written): each date is a study, the set one patient named after its first film's folder. Returns
        the films dated (DICOM images and images not held are left as they are)."""
        films = self.plain_films(dates)
        for path in films:
            entry = self._images[path]
            dated = replace(entry, keys=dated_film_keys(entry.keys, films[0].parent, dates[path]))
            self._images[path] = self._entries[self._entries.index(entry)] = dated
            if path in self._cache:
                self._cache[path].image.keys = dated.keys
        if films:
            self.films_dated.emit(films)
        return films

    # ------------------------------------------------------------ a patient's studies

    def studies_of_patient(self, path: Path) -> list[Study]:
        """The studies of this image's patient (same Patient ID) in study order (undated ones last); just
        its own study when the image has no Patient ID (PNG/JPEG, anonymised files)."""
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
                         tuple(member.path for member in group),
                         StudyMoment.of_study((member.keys.study_date, member.keys.time_of_study) for member in group))
                   for study, group in by_study.items()]
        return sorted(studies, key=lambda study: (study.moment is None, study.moment.sort_key if study.moment else (),
                                                  study.study_uid))

    def study_of(self, path: Path) -> Study | None:
        return next((study for study in self.studies_of_patient(path) if path in study.paths), None)

    def hanging_prior(self, path: Path) -> tuple[int, Path | None] | None:
        """The hanging protocol's prior for the image, as (index in prior_studies, image): the most
        recent earlier image of the same view position (PA beside PA, AP beside AP), else the most recent
        prior study with no image chosen (its first frontal film is the viewer's to find). None: no prior."""
        priors = self.prior_studies(path)
        view = self._images[path].keys.view_position if priors else ""
        for index, study in enumerate(priors if view else ()):
            same_view = [other for other in study.paths if self._images[other].keys.view_position == view]
            if same_view:
                return index, same_view[0]
        return (0, None) if priors else None

    def prior_studies(self, path: Path) -> list[Study]:
        """The studies of the image's patient made before its own, the most recent (the prior) first: the
        rule of xraydesk.imaging.study_order (an undated study, or one of the same day whose time is unknown,
        cannot be called earlier)."""
        studies = [study for study in self.studies_of_patient(path) if study.moment is not None]
        current = next((index for index, study in enumerate(studies) if path in study.paths), None)
        if current is None:
            return []
        return [studies[index] for index in earlier_indices([study.moment for study in studies], current)]

    # ------------------------------------------------------------ the decoded-image cache

    def keep(self, display: ImageDisplay) -> ImageDisplay:
        """Caches a decoded image (the newest is kept longest); returns the cached mapping, so that
        every consumer shares one. A film the reader dated keeps its date (date_films)."""
        path = display.image.path
        if path in self._images and display.image.source_format != "DICOM":
            display.image.keys = self._images[path].keys
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

    # ------------------------------------------------------------ key images

    def key_reason(self, path: Path) -> str | None:
        """Why the image is a key image (a Key Object Selection title: "Of Interest", ...), or None."""
        return self._key_images.get(path)

    def set_key_image(self, path: Path, reason: str | None) -> None:
        if reason == self._key_images.get(path):
            return
        if reason is None:
            del self._key_images[path]
        else:
            self._key_images[path] = reason
        self.key_image_changed.emit(path, reason)

    def key_images(self) -> list[tuple[Path, str]]:
        """(image, reason) of every key image, in browser order."""
        return [(path, self._key_images[path]) for path in self.image_paths() if path in self._key_images]


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


def default_film_dates(films: list[Path], last: datetime.date) -> dict[Path, str]:
    """One day apart in the order given (file names: plain_films), the last on `last`."""
    return {path: (last - datetime.timedelta(days=len(films) - 1 - index)).strftime("%Y%m%d")
            for index, path in enumerate(films)}
