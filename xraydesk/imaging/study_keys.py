"""Who and what an image is, read once from its header: the scan (ScanEntry), the decoded image
(XRayImage) and the analysis (StudyIdentity) carry the same StudyKeys, made by one reader with one rule
for empty values (a missing or empty element is ""; numbers are None), so the browser, the worklist,
compare, the trend, the hanging protocol and the reports never disagree about a study. No pydicom here:
the app starts without it."""

from dataclasses import dataclass, replace
from pathlib import Path

from xraydesk.imaging.study_order import TIME_KEYWORDS, image_time


@dataclass(frozen=True)
class StudyKeys:
    patient_name: str = ""
    patient_id: str = ""
    study_uid: str = ""  # the header's Study Instance UID ("" for PNG/JPEG)
    study_date: str = ""  # DICOM DA, YYYYMMDD
    study_time: str = ""  # DICOM TM, the header's Study Time
    study_description: str = ""
    series_uid: str = ""
    series_number: int | None = None
    series_description: str = ""
    modality: str = ""
    instance_number: int | None = None
    acquisition_time: str = ""  # study_order.image_time: orders images, and studies without a Study Time
    # one image, wherever its file is (a retrieved copy of an open image); also for NON_IMAGE objects, with
    # their study and series (a saved reading's SR or KO)
    sop_instance_uid: str = ""
    view_position: str = ""  # AP, PA, LL... upper case (the hanging protocol's first choice)
    # The study the image belongs to, one definition for the browser, compare, the trend and the
    # reports: its Study Instance UID; for a file without one (PNG/JPEG, a damaged header), its folder.
    study: str = ""

    @property
    def time_of_study(self) -> str:
        """xraydesk.imaging.study_order.header_time: the Study Time, else the image's own time."""
        return self.study_time or self.acquisition_time


def header_keys(dataset, path: Path) -> StudyKeys:
    """The keys of a DICOM header (a pydicom Dataset, complete or read with specific tags)."""
    study_uid = _text(dataset, "StudyInstanceUID")
    return StudyKeys(
        patient_name=_text(dataset, "PatientName"),
        patient_id=_text(dataset, "PatientID"),
        study_uid=study_uid,
        study_date=_text(dataset, "StudyDate"),
        study_time=_text(dataset, "StudyTime"),
        study_description=_text(dataset, "StudyDescription"),
        series_uid=_text(dataset, "SeriesInstanceUID"),
        series_number=optional_int(dataset.get("SeriesNumber")),
        series_description=_text(dataset, "SeriesDescription"),
        modality=_text(dataset, "Modality"),
        instance_number=optional_int(dataset.get("InstanceNumber")),
        acquisition_time=image_time(dataset),
        sop_instance_uid=_text(dataset, "SOPInstanceUID"),
        view_position=_text(dataset, "ViewPosition").upper(),
        study=study_uid or str(path.parent),
    )


def plain_image_keys(path: Path) -> StudyKeys:
    """PNG/JPEG files have no patient data: each folder is one study and series, named after the folder."""
    return StudyKeys(study_description=path.parent.name, study=str(path.parent))


def dated_film_keys(keys: StudyKeys, patient_folder: Path, date: str) -> StudyKeys:
    """A PNG/JPEG film with the date (YYYYMMDD) the reader gave it: a study of that date, of the patient
    named after `patient_folder`, so that compare and the trend can order such films."""
    patient = str(patient_folder)
    return replace(keys, patient_name=patient_folder.name, patient_id=patient, study_date=date,
                   study=f"{patient}@{date}")


# The elements header_keys reads: the scan reads only these (and what tells an image from other objects).
KEY_TAGS = ["PatientName", "PatientID", "StudyInstanceUID", "StudyDate", "StudyDescription",
            "SeriesInstanceUID", "SeriesNumber", "SeriesDescription", "Modality", "InstanceNumber",
            *TIME_KEYWORDS, "SOPInstanceUID", "ViewPosition"]


def _text(dataset, keyword: str) -> str:
    return str(dataset.get(keyword) or "").strip()


def optional_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
