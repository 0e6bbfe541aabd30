"""The source image's header as a DICOM result needs it, and what the SR and the secondary capture share:
who made them, their character set, and ResultsError."""

import copy
import uuid
import warnings
from contextlib import contextmanager
from pathlib import Path

from pydicom import config
from pydicom.dataset import Dataset
from pydicom.valuerep import validate_value

from xraydesk import __version__
from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.imaging import XRayImage
from xraydesk.imaging.header import MANUFACTURER

CHARACTER_SET = "ISO_IR 192"  # UTF-8: the words use dashes and accents that Latin-1 lacks
# Type 2 attributes highdicom reads from the source: present, empty where the source lacks them.
PATIENT_AND_STUDY_TYPE_2 = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "AccessionNumber",
                            "StudyID", "StudyDate", "StudyTime", "ReferringPhysicianName")
SEXES = ("M", "F", "O")  # Patient's Sex: the enumerated values (empty when unknown)
IDENTITY = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_OID, MANUFACTURER)


class ResultsError(Exception):
    """No DICOM result can be made for this image; str() names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{Path(path).name}: {reason}")
        self.reason = reason


def source_header(image: XRayImage) -> Dataset:
    """The source's attributes without its pixels (the source itself is never changed), checked
    for what a result needs: a DICOM image with its study, series and instance UIDs."""
    if image.source_format != "DICOM" or image.dataset is None:
        raise ResultsError(image.path, f"a {image.source_format} image has no DICOM study to attach the result to")
    return header_of(image.dataset, image.path)


def header_of(source: Dataset, path: Path | str = "source") -> Dataset:
    missing = [keyword for keyword in IDENTITY if not source.get(keyword)]
    if missing:
        raise ResultsError(path, f"the DICOM header lacks {', '.join(missing)}: the result would have no study "
                                 "or image to refer to")
    header = Dataset()
    for element in source:
        if element.keyword != "PixelData" and _valid(element):
            header.add(copy.deepcopy(element))  # a Dataset shares its elements: setting one would change the source
    for keyword in PATIENT_AND_STUDY_TYPE_2:
        if keyword not in header:
            setattr(header, keyword, None)
    if header.PatientSex not in SEXES:  # e.g. "U", common in archives, outside the enumerated values
        header.PatientSex = None
    return header


def result_uids(header: Dataset, analysis: ImageAnalysis, kind: str) -> tuple[str, str]:
    """(Series, SOP Instance UID) of the `kind` result ("SR", "SC") of the source whose header is
    `header`: derived from the source's UIDs and the model version, so that the same image analysed by
    the same model gives the very same object (a resend, a restart or a second push makes no duplicate
    in the archive) and a new model version a new one. One result series per source series and kind."""
    return (derived_uid(header.SeriesInstanceUID, analysis.model_version, f"{kind} series"),
            result_uid(header.SOPInstanceUID, analysis.model_version, kind))


def result_uid(image_uid: str, model_version: str, kind: str) -> str:
    """The SOP Instance UID of the `kind` result of the image `image_uid` by `model_version` (result_uids):
    where a study holds the result, it is found by this UID without reading any file."""
    return derived_uid(image_uid, model_version, kind)


def derived_uid(*parts: str) -> str:
    """The same UID every time for the same parts: 2.25 and a name-based UUID of them as an integer
    (PS3.5 B.2), which no other source of UIDs can give."""
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, '/'.join(parts)).int}"


def _valid(element) -> bool:
    """Whether each value is valid for the element's VR (pydicom's own checks; numbers as written)."""
    if element.VR == "SQ" or element.value is None:
        return True
    values = element.value if element.VM > 1 else [element.value]
    try:
        for value in values:
            validate_value(element.VR, str(value) if element.VR in ("DS", "IS") else value, config.RAISE)
    except ValueError:
        return False
    return True


@contextmanager
def building(what: str, path: Path | str):
    """highdicom at work on the source's header: what it refuses (an image SOP class it does not know, a
    missing Rows) becomes a ResultsError; its warning of single-component person names is silenced, the
    name being the source's, copied as it is."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name")
        try:
            yield
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise ResultsError(path, f"highdicom cannot make the {what} from this image's header "
                                     f"({type(error).__name__}: {error})") from error


def model_name_and_version(analysis: ImageAnalysis) -> tuple[str, str]:
    name, _, version = analysis.model_version.rpartition(" ")  # ChestXRayModel.version: "<name> <version>"
    return name or analysis.model_version, version or "unknown"


def software_versions(analysis: ImageAnalysis) -> list[str]:
    return [f"XRayDesk {__version__}", analysis.model_version]
