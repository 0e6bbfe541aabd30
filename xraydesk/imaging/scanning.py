"""Finding images in files and folders (no Qt, no pixel decoding): headers only, grouped and
sorted patient → study → series → instance for the study browser and batch commands."""

import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import pydicom
from pydicom.fileset import FileSet
from pydicom.uid import MediaStorageDirectoryStorage

from xraydesk.imaging.entries import ERROR, IMAGE, NON_IMAGE, OTHER_FILE, ScanEntry
from xraydesk.imaging.image import ImageLoadError
from xraydesk.imaging.loading import (
    DICOM_EXTENSIONS,
    IMAGE_EXTENSIONS,
    JPEG_SIGNATURE,
    PNG_SIGNATURE,
    check_regular_file,
    describe_non_image,
    read_dicom,
)
from xraydesk.imaging.study_keys import KEY_TAGS, header_keys, plain_image_keys

HEADER_TAGS = ["SOPClassUID", "Rows", *KEY_TAGS]


class _Scan:
    def __init__(self, on_entry: Callable[[ScanEntry], None] | None, should_stop: Callable[[], bool] | None):
        self.on_entry = on_entry
        self.should_stop = should_stop or (lambda: False)
        self.entries: list[ScanEntry] = []
        self.seen: set[str] = set()  # real paths of the files and folders visited

    def add(self, entry: ScanEntry) -> None:
        self.entries.append(entry)
        if self.on_entry is not None:
            self.on_entry(entry)

    def visit(self, path: Path) -> None:
        if self.should_stop():
            return
        if path.is_dir():
            self.walk(path)
        elif not path.exists() and not path.is_symlink():
            self.add(ScanEntry(path, ERROR, "file or folder not found"))
        else:
            self.visit_file(path)

    def walk(self, folder: Path) -> None:
        """Linked folders are followed; a folder reached twice (a link loop, two links to one
        folder) is walked once."""

        def report_unreadable(error: OSError) -> None:
            self.add(ScanEntry(Path(error.filename or folder), ERROR, f"cannot read folder ({error.strerror})"))

        for root, folders, files in os.walk(folder, onerror=report_unreadable, followlinks=True):
            if not self.first_visit(root):
                folders[:] = []
                continue
            folders[:] = sorted(name for name in folders if not name.startswith("."))
            for name in sorted(files):
                if self.should_stop():
                    return
                if not name.startswith("."):
                    self.visit_file(Path(root) / name)

    def first_visit(self, path: str | Path) -> bool:
        # realpath, unlike Path.resolve, does not raise on a link loop: the loop is reported when read.
        real = os.path.realpath(path)
        if real in self.seen:
            return False
        self.seen.add(real)
        return True

    def visit_file(self, path: Path) -> None:
        if not self.first_visit(path):
            return
        entry, referenced = _scan_file(path)
        self.add(entry)
        for referenced_path in referenced:
            self.visit(referenced_path)


def scan_paths(
    paths: Iterable[str | Path],
    on_entry: Callable[[ScanEntry], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[ScanEntry]:
    """Scan files and folders (recursively; files a DICOMDIR lists are followed). `on_entry` sees
    each entry as it is found; `should_stop` is polled between files. Returns all entries, sorted."""
    scan = _Scan(on_entry, should_stop)
    for path in paths:
        scan.visit(Path(path))
    return sorted(scan.entries, key=lambda entry: entry.sort_key)


def _scan_file(path: Path) -> tuple[ScanEntry, list[Path]]:
    """The entry for one file, and the files it references (a DICOMDIR's)."""
    try:
        check_regular_file(path)
        with path.open("rb") as stream:
            signature = stream.read(8)
    except ImageLoadError as error:
        return ScanEntry(path, ERROR, error.reason), []
    except OSError as exc:
        return ScanEntry(path, ERROR, f"cannot read file ({exc.strerror})"), []
    if not signature:
        return ScanEntry(path, ERROR, "file is empty (0 bytes)"), []
    if signature.startswith(PNG_SIGNATURE):
        return _plain_image_entry(path, "PNG"), []
    if signature.startswith(JPEG_SIGNATURE):
        return _plain_image_entry(path, "JPEG"), []
    return _scan_dicom(path)


def _plain_image_entry(path: Path, source_format: str) -> ScanEntry:
    return ScanEntry(path, IMAGE, source_format=source_format, keys=plain_image_keys(path))


def _scan_dicom(path: Path) -> tuple[ScanEntry, list[Path]]:
    try:
        dataset, _ = read_dicom(path, stop_before_pixels=True, specific_tags=HEADER_TAGS)
    except ImageLoadError as error:
        # Unknown files beside the images (notes, spreadsheets) are skipped quietly; a file
        # named like an image that is none is an error worth reporting.
        kind = ERROR if path.suffix.lower() in DICOM_EXTENSIONS | IMAGE_EXTENSIONS else OTHER_FILE
        return ScanEntry(path, kind, error.reason), []
    except Exception as exc:
        return ScanEntry(path, ERROR, f"unreadable DICOM header ({exc})"), []
    if dataset.file_meta.get("MediaStorageSOPClassUID") == MediaStorageDirectoryStorage:
        return _scan_dicomdir(path)
    if "Rows" not in dataset:
        return ScanEntry(path, NON_IMAGE, f"no pixel data ({describe_non_image(dataset)})",
                         keys=header_keys(dataset, path)), []
    return ScanEntry(path, IMAGE, source_format="DICOM", keys=header_keys(dataset, path)), []


def _scan_dicomdir(path: Path) -> tuple[ScanEntry, list[Path]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about non-standard but readable encodings
            file_set = FileSet(pydicom.dcmread(path))
    except Exception as exc:
        return ScanEntry(path, ERROR, f"DICOMDIR could not be read ({exc})"), []
    referenced = [Path(instance.path) for instance in file_set]
    return ScanEntry(path, NON_IMAGE, f"DICOMDIR (index of {len(referenced)} files)"), referenced
