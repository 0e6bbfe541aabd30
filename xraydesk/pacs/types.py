"""What every PACS protocol shares (no Qt): the study query, the result rows and the outcomes as
plain data, and the files-to-send helpers. A leaf below the protocol modules (dimse, dicomweb) and the
factory (client) that picks between them."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from xraydesk.imaging.image import ImageLoadError
from xraydesk.pacs.local_store import StoredFile

LOGGER = logging.getLogger(__name__)

if TYPE_CHECKING:  # pydicom loads on first use, not with the app
    from pydicom.dataset import Dataset

DEFAULT_MODALITIES = ("CR", "DX")
# A DICOM date range: one date, FROM-TO, FROM- (on or after) or -TO (on or before); dates YYYYMMDD.
_DATE_RANGE = re.compile(r"^(\d{8})?(-)?(\d{8})?$")

ProgressCallback = Callable[[int, int], None]  # (done, total); total 0 while unknown
StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class StudyQuery:
    """Empty fields match anything; the patient name may hold the wildcards * and ?."""

    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""  # a DICOM date range, see parse_date_range
    modalities: tuple[str, ...] = DEFAULT_MODALITIES
    accession: str = ""


def parse_date_range(text: str) -> str:
    """Checks a study date range (YYYYMMDD, FROM-TO, FROM-, -TO); raises ValueError saying what
    is accepted."""
    text = text.strip()
    match = _DATE_RANGE.match(text)
    if not text or not match or not (match[1] or match[3]) or (match[1] and match[3] and not match[2]):
        raise ValueError(f"'{text}' is not a date range: use YYYYMMDD, YYYYMMDD-YYYYMMDD, YYYYMMDD- or -YYYYMMDD")
    if match[1] and match[3] and match[1] > match[3]:
        raise ValueError(f"'{text}': the first date comes after the second")
    return text


def parse_modalities(text: str) -> tuple[str, ...]:
    return tuple(part.strip().upper() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class StudyRow:
    patient_name: str
    patient_id: str
    study_date: str
    description: str
    modalities: tuple[str, ...]
    images: int | None
    study_uid: str
    accession: str


def study_row(answer: Dataset) -> StudyRow:
    """A C-FIND answer or a QIDO-RS result (as a Dataset) as one row of the study table."""
    from xraydesk.imaging.study_keys import optional_int

    modalities = answer.get("ModalitiesInStudy") or ()
    return StudyRow(
        patient_name=str(answer.get("PatientName") or ""),
        patient_id=str(answer.get("PatientID") or ""),
        study_date=str(answer.get("StudyDate") or ""),
        description=str(answer.get("StudyDescription") or ""),
        modalities=(modalities,) if isinstance(modalities, str) else tuple(str(item) for item in modalities),
        images=optional_int(answer.get("NumberOfStudyRelatedInstances")),
        study_uid=str(answer.get("StudyInstanceUID") or ""),
        accession=str(answer.get("AccessionNumber") or ""),
    )


class StudyRows(list):
    """The rows of a find; `truncated` when more studies matched than the find keeps."""

    truncated: bool = False

    def cut_off(self, where: str) -> None:
        self.truncated = True
        LOGGER.warning("%s: more than %d studies match; the first %d are listed (narrow the search)", where,
                       len(self), len(self))


@dataclass
class RetrieveOutcome:
    study_uid: str
    files: list[StoredFile] = field(default_factory=list)
    failed: int = 0  # objects announced but not kept: the node did not send them, we refused them, the transfer broke off
    cancelled: bool = False
    announced: int | None = None  # objects the node said it would send (find, sub-operation counts); None: never said
    reason: str = ""  # why some are missing, in words

    def settle(self, reason: str = "") -> None:
        """At the end of a retrieve: whatever was announced and is not kept counts as failed."""
        if self.announced is not None and not self.cancelled:
            self.failed = max(self.failed, self.announced - len(self.files))
        if self.failed and not self.reason:
            self.reason = reason or "the node sent fewer objects than it announced"

    @property
    def total(self) -> int:
        """The objects there were to retrieve, as far as known."""
        return max(self.announced or 0, len(self.files) + self.failed)


@dataclass(frozen=True)
class SendOutcome:
    path: Path
    ok: bool
    message: str  # what the node answered, or why the file was not sent


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given, and every file inside the folders given (sorted, hidden files skipped)."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(item for item in path.rglob("*")
                                if item.is_file() and not any(part.startswith(".") for part in item.relative_to(path).parts)))
        else:
            files.append(path)
    return files


def read_for_sending(path: Path, headers_only: bool = False) -> Dataset:
    """A file to send, or ValueError saying in words why it cannot be sent."""
    try:
        from xraydesk.imaging.loading import read_dicom

        dataset, _ = read_dicom(path, stop_before_pixels=headers_only)
    except ImageLoadError as error:
        raise ValueError(error.reason) from error
    except OSError as exc:
        raise ValueError(exc.strerror or str(exc)) from exc
    if not dataset.get("SOPClassUID") or not dataset.get("SOPInstanceUID"):
        raise ValueError("no SOP Class UID or SOP Instance UID: not a storable DICOM object")
    return dataset
