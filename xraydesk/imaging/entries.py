"""What a scan finds (no pydicom, so that the app starts without it): one entry per file, images
sorted patient → study → series → instance, skipped files with the reason."""

from dataclasses import dataclass
from pathlib import Path

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
    patient_name: str = ""
    patient_id: str = ""
    study_uid: str = ""
    study_date: str = ""
    study_description: str = ""
    series_uid: str = ""
    series_number: int | None = None
    series_description: str = ""
    modality: str = ""
    instance_number: int | None = None
    acquisition_time: str = ""
    sop_uid: str = ""  # also for NON_IMAGE objects, with their study and series (a saved reading's SR or KO)
    view_position: str = ""  # AP, PA, LL... as the header gives it (the hanging protocol's first choice)

    @property
    def patient_key(self) -> tuple:
        return (self.patient_id or self.patient_name, self.patient_name)

    @property
    def study_key(self) -> tuple:
        return (*self.patient_key, self.study_date, self.study_uid)

    @property
    def series_key(self) -> tuple:
        return (*self.study_key, _none_last(self.series_number), self.series_uid)

    @property
    def sort_key(self) -> tuple:
        """Images first in browser order (Instance Number, then acquisition time, then file
        name); skipped entries after them by path."""
        if self.kind != IMAGE:
            return (1, (), str(self.path))
        return (0, self.series_key, (_none_last(self.instance_number), self.acquisition_time, self.path.name))


def _none_last(number: int | None) -> tuple:
    return (number is None, number or 0)
