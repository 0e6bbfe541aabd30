"""The app's local store of DICOM objects received from a PACS or a modality (no Qt):
<root>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm, by default under the user's
data folder. Every object is checked before it is kept, written atomically, and never replaces
an existing file with different content."""

from __future__ import annotations

import filecmp
import io
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xraydesk.imaging.image import ImageLoadError
from xraydesk.output_files import flush
from xraydesk.package_data import user_data_home
from xraydesk.pacs.nodes import PacsError

if TYPE_CHECKING:  # pydicom loads on first use, not with the app
    from pydicom.dataset import Dataset

LOGGER = logging.getLogger(__name__)

STORED = "stored"
ALREADY_STORED = "already stored"
STORED_BESIDE = "stored beside a different file of the same UID"

REQUIRED_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
INCOMING_FOLDER = ".incoming"  # temporary files, on the store's own file system so a link is atomic
# Values larger than this are checked where they lie in the file, not read: a received object is
# never held whole in memory.
DEFER_BYTES = 1024 * 1024
PARTIAL_SUFFIX = ".partial"  # PID-RANDOM.partial: the process that writes it, so leftovers of dead ones are known


class RefusedObject(Exception):
    """An object the store will not keep; `reason` says why in words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class UnreadableObject(RefusedObject):
    """Not decodable as DICOM (garbage, truncated)."""


class IncompleteObject(RefusedObject):
    """Decodable, but without the UIDs that place it, or contradicting what was announced."""


@dataclass(frozen=True)
class StoredFile:
    path: Path
    study_uid: str
    series_uid: str
    sop_uid: str
    outcome: str  # STORED, ALREADY_STORED or STORED_BESIDE


def default_store_root() -> Path:
    return user_data_home() / "XRayDesk" / "store"


def safe_name(uid: str) -> str:
    """A UID as a file name: nothing but digits, letters, dots and dashes, never '.' or '..'."""
    return re.sub(r"[^0-9A-Za-z.\-]", "_", uid).lstrip(".")[:64] or "unknown"


class LocalStore:
    """`protected_folders`: folders the user opened as sources; a store inside one is refused, so
    the app never writes into a user's source folder. `durable`: each object kept is on disk (file
    and folders flushed) before the store returns, so that what a sender was told is stored survives
    a crash; `on_kept` is told of it then, and what it raises refuses the object (the AI node's queue)."""

    def __init__(self, root: Path | str | None = None, protected_folders: Iterable[Path | str] = (), *,
                 durable: bool = False, on_kept: Callable[[StoredFile], None] | None = None):
        self.root = Path(root or default_store_root()).expanduser().resolve()
        self.durable, self.on_kept = durable, on_kept
        for folder in protected_folders:
            if self.root.is_relative_to(Path(folder).expanduser().resolve()):
                raise PacsError(str(self.root), f"the local store may not lie inside the source folder {folder}")

    def study_folder(self, study_uid: str) -> Path:
        return self.root / safe_name(study_uid)

    def incoming_path(self) -> Path:
        """A new temporary file name in the incoming folder, to write an object into and then keep()."""
        incoming = self.root / INCOMING_FOLDER
        incoming.mkdir(parents=True, exist_ok=True)
        return incoming / f"{os.getpid()}-{uuid.uuid4().hex}{PARTIAL_SUFFIX}"

    def keep(self, temporary: Path) -> StoredFile:
        """Checks a complete object written to incoming_path() and places it; the temporary file is
        gone afterwards, whatever happens. Raises RefusedObject when the object is unreadable or
        incomplete, OSError when the disk fails."""
        try:
            dataset = _checked_dataset(temporary)
            uids = [str(dataset[keyword].value) for keyword in REQUIRED_UIDS[1:]]
            sop_uid, study_uid, series_uid = uids
            path, outcome = self._place(temporary, self.study_folder(study_uid) / safe_name(series_uid), sop_uid)
        finally:
            temporary.unlink(missing_ok=True)
        stored = StoredFile(path, study_uid, series_uid, sop_uid, outcome)
        if self.durable:
            flush([path], self.root)
        if self.on_kept:
            self.on_kept(stored)
        return stored

    def store_encoded(self, data: bytes) -> StoredFile:
        """Keeps a DICOM file given as bytes (preamble, file meta and data set)."""
        temporary = self.incoming_path()
        try:
            temporary.write_bytes(data)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return self.keep(temporary)

    def store_moved(self, source: Path) -> StoredFile:
        """Keeps a DICOM file written elsewhere (pynetdicom's temporary file of an object received
        in chunks), moved in rather than read into memory."""
        temporary = self.incoming_path()
        try:
            shutil.move(source, temporary)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return self.keep(temporary)

    def clean_incoming(self) -> int:
        """Removes the temporary files that processes no longer running left behind (a Ctrl+C or a
        crash during a transfer); those of running ones are in use. Returns how many went."""
        removed = 0
        for leftover in (self.root / INCOMING_FOLDER).glob(f"*{PARTIAL_SUFFIX}"):
            if not _writer_running(leftover):
                leftover.unlink(missing_ok=True)
                removed += 1
        if removed:
            LOGGER.info("%s: removed %d unfinished object(s) left by an interrupted transfer", self.root, removed)
        return removed

    def store_dataset(self, dataset: Dataset) -> StoredFile:
        buffer = io.BytesIO()
        try:
            dataset.save_as(buffer, enforce_file_format=True)
        except Exception as exc:
            raise UnreadableObject(f"cannot be written as a DICOM file ({exc})") from exc
        return self.store_encoded(buffer.getvalue())

    def _place(self, temporary: Path, folder: Path, sop_uid: str) -> tuple[Path, str]:
        """Links the file in under the first free name; a hard link fails if the name exists, so
        two receptions of one object cannot overwrite each other."""
        folder.mkdir(parents=True, exist_ok=True)
        stem = safe_name(sop_uid)
        attempt = 0
        while True:
            candidate = folder / (f"{stem}.dcm" if attempt == 0 else f"{stem}~{attempt}.dcm")
            try:
                os.link(temporary, candidate)
            except FileExistsError:
                if filecmp.cmp(temporary, candidate, shallow=False):
                    return candidate, ALREADY_STORED
                attempt += 1
                continue
            if attempt == 0:
                return candidate, STORED
            LOGGER.warning("%s already holds a different object with SOP Instance UID %s; kept it and stored "
                           "the new one as %s", folder, sop_uid, candidate.name)
            return candidate, STORED_BESIDE


def _writer_running(partial: Path) -> bool:
    """Whether the process named in PID-RANDOM.partial still runs (a name without one is older
    than the naming, so its writer is gone)."""
    pid = partial.name.split("-", 1)[0]
    if not pid.isdigit() or "-" not in partial.name:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _checked_dataset(path: Path) -> Dataset:
    try:
        from xraydesk.imaging.loading import read_dicom

        dataset, _ = read_dicom(path, defer_size=DEFER_BYTES)
    except ImageLoadError as error:
        raise UnreadableObject(error.reason) from error
    except Exception as exc:
        raise UnreadableObject(f"undecodable data set ({exc})") from exc
    _check_native_pixel_length(dataset, path)
    missing = [keyword for keyword in REQUIRED_UIDS if not str(dataset.get(keyword) or "").strip()]
    if missing:
        raise IncompleteObject(f"no {', '.join(missing)}")
    meta = dataset.file_meta
    for meta_keyword, keyword in (("MediaStorageSOPInstanceUID", "SOPInstanceUID"),
                                  ("MediaStorageSOPClassUID", "SOPClassUID")):
        announced = meta.get(meta_keyword)
        if announced and announced != dataset[keyword].value:
            raise IncompleteObject(f"{keyword} {dataset[keyword].value} differs from the announced {announced}")
    return dataset


def _check_native_pixel_length(dataset: Dataset, path: Path) -> None:
    """pydicom reads native pixel data cut short without a word (encapsulated data cut short is
    caught by read_dicom): a transfer broken off inside the image must not be kept as an image.
    Pixel data left in the file (deferred) is measured there."""
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    if "PixelData" not in dataset or syntax is None or syntax.is_encapsulated:
        return
    try:
        from pydicom.pixels.utils import get_expected_length

        expected = get_expected_length(dataset, unit="bytes")
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise UnreadableObject(f"pixel data without a usable image description ({exc})") from exc
    from pydicom.dataelem import RawDataElement

    element = dataset.get_item("PixelData", keep_deferred=True)
    if isinstance(element, RawDataElement) and element.value is None:  # deferred: its bytes are still in the file
        present = min(element.length, path.stat().st_size - element.value_tell)
    else:
        present = len(dataset.PixelData)
    if present < expected:
        raise UnreadableObject(f"pixel data cut short ({present:,} of {expected:,} bytes)")
