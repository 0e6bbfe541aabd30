"""What a scan finds (no pydicom, so that the app starts without it): one entry per file, images
sorted patient → study → series → instance, skipped files with the reason."""

from dataclasses import dataclass
from pathlib import Path

from xraydesk.imaging.study_keys import StudyKeys

IMAGE = "image"
NON_IMAGE = "non_image"  # a DICOM object without pixels: a DICOMDIR, a report, a presentation state
OTHER_FILE = "other_file"  # neither DICOM, PNG nor JPEG, and not named like one (notes, spreadsheets)
ERROR = "error"


@dataclass(frozen=True)
class ScanEntry:
    path: Path
    kind: str  # IMAGE, NON_IMAGE, OTHER_FILE or ERROR
    reason: str = ""  # why a NON_IMAGE, OTHER_FILE or ERROR entry was skipped
    source_format: str = ""  # "DICOM", "PNG" or "JPEG" for images
    keys: StudyKeys = StudyKeys()

    @property
    def patient_key(self) -> tuple:
        keys = self.keys
        return (keys.patient_id or keys.patient_name, keys.patient_name)

    @property
    def study_key(self) -> tuple:
        return (*self.patient_key, self.keys.study_date, self.keys.study)

    @property
    def series_key(self) -> tuple:
        return (*self.study_key, _none_last(self.keys.series_number), self.keys.series_uid)

    @property
    def sort_key(self) -> tuple:
        """Images first in browser order (Instance Number, then acquisition time, then file
        name); skipped entries after them by path."""
        if self.kind != IMAGE:
            return (1, (), str(self.path))
        keys = self.keys
        return (0, self.series_key, (_none_last(keys.instance_number), keys.acquisition_time, self.path.name))


def _none_last(number: int | None) -> tuple:
    return (number is None, number or 0)
