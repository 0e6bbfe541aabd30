"""What a scan finds (no pydicom, so that the app starts without it): one entry per file, images
sorted patient → study → series → instance, skipped files with the reason."""

import re
from dataclasses import dataclass
from pathlib import Path

from xraydesk.imaging.study_keys import StudyKeys

IMAGE = "image"
NON_IMAGE = "non_image"  # a DICOM object without pixels: a DICOMDIR, a report, a presentation state
OTHER_FILE = "other_file"  # neither DICOM, PNG nor JPEG, and not named like one (notes, spreadsheets)
ERROR = "error"
# A file named by its SOP Instance UID (a PACS retrieve, the listener, many archives; "~1" for a second
# copy in the local store): every name of a study starts with the same digits, so it says nothing in a list.
UID_NAME = re.compile(r"\d+(\.\d+){3,}(~\d+)?")


@dataclass(frozen=True)
class ScanEntry:
    path: Path
    kind: str  # IMAGE, NON_IMAGE, OTHER_FILE or ERROR
    reason: str = ""  # why a NON_IMAGE, OTHER_FILE or ERROR entry was skipped
    source_format: str = ""  # "DICOM", "PNG" or "JPEG" for images
    keys: StudyKeys = StudyKeys()

    @property
    def named_by_uid(self) -> bool:
        stem = self.path.name[:-4] if self.path.name.lower().endswith(".dcm") else self.path.name
        return UID_NAME.fullmatch(stem) is not None

    @property
    def image_name(self) -> str:
        """The image in a list: its file name, or for a file named by a UID its series and instance
        numbers where the header has them ("series 2, image 1")."""
        numbers = [f"{word} {number}" for word, number in (("series", self.keys.series_number),
                                                             ("image", self.keys.instance_number)) if number is not None]
        return ", ".join(numbers) if self.named_by_uid and numbers else self.path.name

    @property
    def patient_key(self) -> tuple:
        keys = self.keys
        return (keys.patient_id or keys.patient_name, keys.patient_name)

    @property
    def study_key(self) -> tuple:
        return (*self.patient_key, self.keys.study_date, self.keys.study)

    @property
    def study_order(self) -> tuple:
        """Where the image's study stands among the patient's: by date, then time (xraydesk.imaging.study_order;
        without a Study Time, this image's time stands for the study's)."""
        return (*self.patient_key, self.keys.study_date, self.keys.time_of_study, self.keys.study)

    @property
    def series_key(self) -> tuple:
        return (*self.study_key, _none_last(self.keys.series_number), self.keys.series_uid)

    @property
    def sort_key(self) -> tuple:
        """Images first (patient, study, series, then Instance Number, acquisition time and file name);
        skipped entries after them by path."""
        if self.kind != IMAGE:
            return (1, (), str(self.path))
        keys = self.keys
        return (0, self.series_key, (_none_last(keys.instance_number), keys.acquisition_time, self.path.name))


def _none_last(number: int | None) -> tuple:
    return (number is None, number or 0)
