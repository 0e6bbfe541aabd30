"""The reader's work kept without a Save step (no Qt): each image's measurements, arrows and key-image
mark are written to the app's local store as DICOM objects in the image's own study
(xraydesk.dicom_results.reading_record), where a PACS retrieve puts the study too, and are found there
again when the image is opened from a folder, the store or the PACS.

Where: <store>/<StudyInstanceUID>/<record series>/<SOPInstanceUID>.dcm, the series UIDs being made from
the image's SOP Instance UID, so that the folder of an image's record is known without a search. The
store keeps the newest version only: writing one removes the versions it supersedes from the store (a
PACS that was sent older versions keeps them; the newest wins there too). Objects found beside the
image (a study folder exported from a PACS with its SRs: `nearby`) are read, never changed or removed.

The app runs these on workers; one ReadingArchive serves all of them (a lock keeps a save and a search
of the same series apart)."""

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from xraydesk.dicom_results.files import write_dataset
from xraydesk.dicom_results.reading_record import (
    is_key_document_of,
    is_record_of,
    key_image_document,
    key_series_uid,
    measurement_record,
    read_key_reason,
    read_measurements,
    record_series_uid,
    version_order,
)
from xraydesk.dicom_results.source import ResultsError
from xraydesk.imaging import XRayImage, failure_reason
from xraydesk.imaging.loading import read_dicom
from xraydesk.imaging.measurements import Measurement
from xraydesk.pacs.local_store import LocalStore, safe_name


@dataclass(frozen=True)
class SavedReading:
    """What was found of an image's reading: its measurements (and arrows), its key-image reason (None:
    not a key image), and the saved objects found that could not be read, in words."""

    measurements: tuple[Measurement, ...] = ()
    key_reason: str | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Version:
    path: Path
    dataset: Dataset


@dataclass(frozen=True)
class _Series:
    """The series of one kind of saved object of one image."""

    study_uid: str
    uid: str
    belongs: Callable[[Dataset], bool]


def _series_of(study_uid: str, image_uid: str) -> tuple[_Series, _Series]:
    """(measurement record, key-image document)"""
    return (_Series(study_uid, record_series_uid(image_uid), lambda dataset: is_record_of(dataset, image_uid)),
            _Series(study_uid, key_series_uid(image_uid), lambda dataset: is_key_document_of(dataset, image_uid)))


class ReadingArchive:
    """The reading records of the images, kept in `store` (see the module docstring)."""

    def __init__(self, store: LocalStore):
        self.store = store
        self._lock = threading.Lock()
        self._nearby: dict[str, Path] = {}  # series UID -> its newest version found outside the store

    def series_folder(self, study_uid: str, series_uid: str) -> Path:
        return self.store.study_folder(study_uid) / safe_name(series_uid)

    # ------------------------------------------------------------ finding

    def find(self, study_uid: str, image_uid: str, nearby: Iterable[Path] = ()) -> SavedReading:
        """The newest measurement record and key-image document of the image (SOP Instance UID
        `image_uid`) in the store or among `nearby` files (pixel-less objects found in its study)."""
        nearby, problems = list(nearby), []
        with self._lock:
            record, key = (self._newest(series, nearby, problems) for series in _series_of(study_uid, image_uid))
        measurements: tuple[Measurement, ...] = ()
        if record is not None:
            try:
                measurements = tuple(read_measurements(record.dataset))
            except ResultsError as error:
                problems.append(f"{record.path.name}: {error}")
        return SavedReading(measurements, read_key_reason(key.dataset) if key is not None else None,
                            tuple(dict.fromkeys(problems)))  # a file read for both series is named once

    def files_to_send(self, image: XRayImage) -> list[tuple[str, Path]]:
        """(what, file) of the image's newest measurement record and key-image document, wherever they
        were found; none for a PNG or JPEG."""
        if image.source_format != "DICOM":
            return []
        with self._lock:
            found = [self._newest(series, [], []) for series in _series_of(*_uids(image))]
        return [(what, version.path) for what, version in zip(("measurements", "key image"), found)
                if version is not None]

    def _newest(self, series: _Series, nearby: list[Path], problems: list[str]) -> _Version | None:
        versions = self._versions(series, nearby, problems)
        outside = [version for version in versions if not version.path.is_relative_to(self.store.root)]
        if outside:  # remembered for the next save's predecessor, and for sending
            self._nearby[series.uid] = max(outside, key=lambda version: version_order(version.dataset)).path
        return max(versions, key=lambda version: version_order(version.dataset), default=None)

    def _versions(self, series: _Series, nearby: list[Path], problems: list[str]) -> list[_Version]:
        folder = self.series_folder(series.study_uid, series.uid)
        stored = sorted(folder.glob("*.dcm")) if folder.is_dir() else []
        remembered = [self._nearby[series.uid]] if series.uid in self._nearby else []
        versions = []
        for path in dict.fromkeys([*stored, *remembered, *nearby]):
            try:
                dataset, _ = read_dicom(path)
            except Exception as error:  # noqa: BLE001 - one unreadable file, reported beside the others
                problems.append(f"{path.name}: {failure_reason(error)}")
                continue
            if series.belongs(dataset):
                versions.append(_Version(path, dataset))
        return versions

    # ------------------------------------------------------------ saving

    def save_measurements(self, image: XRayImage, measurements: Iterable[Measurement]) -> Path:
        """A new version of the image's measurement record (one saying "none" when none are left),
        stored in place of the older versions in the store. Raises ResultsError (a PNG or JPEG has no
        study; a header highdicom cannot use) or OSError (the disk)."""
        record, _ = _series_of(*_uids(image))
        with self._lock:
            return self._store(measurement_record(image, measurements, self._previous(record)))

    def save_key_image(self, image: XRayImage, reason: str | None) -> Path | None:
        """A new version of the image's key-image document for `reason`; None takes the mark back by
        removing the store's versions (a KOS cannot say "not a key image")."""
        _, key = _series_of(*_uids(image))
        with self._lock:
            if reason is None:
                self._remove_versions(key.study_uid, key.uid, keep=None)
                self._nearby.pop(key.uid, None)
                return None
            return self._store(key_image_document(image, reason, self._previous(key)))

    def _previous(self, series: _Series) -> Dataset | None:
        version = self._newest(series, [], [])
        return version.dataset if version is not None else None

    def _store(self, dataset: Dataset) -> Path:
        folder = self.series_folder(dataset.StudyInstanceUID, dataset.SeriesInstanceUID)
        folder.mkdir(parents=True, exist_ok=True)
        path = write_dataset(dataset, folder)
        self._remove_versions(dataset.StudyInstanceUID, dataset.SeriesInstanceUID, keep=path)
        return path

    def _remove_versions(self, study_uid: str, series_uid: str, keep: Path | None) -> None:
        folder = self.series_folder(study_uid, series_uid)
        for path in folder.glob("*.dcm") if folder.is_dir() else []:
            if path != keep:
                path.unlink(missing_ok=True)


def _uids(image: XRayImage) -> tuple[str, str]:
    """(study, image) UIDs of a DICOM image; ResultsError for a PNG or JPEG."""
    dataset = image.dataset
    if image.source_format != "DICOM" or dataset is None or not dataset.get("SOPInstanceUID"):
        raise ResultsError(image.path, f"a {image.source_format} image has no DICOM study to keep the reading in")
    return str(dataset.get("StudyInstanceUID", "")), str(dataset.SOPInstanceUID)
