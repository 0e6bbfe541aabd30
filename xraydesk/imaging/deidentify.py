"""De-identification of a DICOM data set: the DICOM PS3.15 Basic Application Level Confidentiality Profile
(Annex E, Table E.1-1) with its Retain Longitudinal Temporal Information with Modified Dates option.

The table is dicom-anonymizer's (KitwareMedical), scraped from the standard release named below; its own
engine is not used (it fills removed dates with 00010101, draws random UIDs into a module-wide dictionary and
leaves attributes nested in sequences alone). Here the table applies at every level of the data set:

- UIDs (U) become `2.25.` UIDs from a keyed hash of the original; the Patient ID becomes a pseudonym from
  the same hash, and the Patient's Name that pseudonym too. The key is drawn anew for each export
  (Pseudonyms), so within one export series, studies, patients and references between images still group,
  while two exports of the same images cannot be linked and the originals cannot be recovered.
- Dates (DA, DT) move back by a whole number of days, one to ten years, the same for every study of a patient
  (option 113107): intervals between a patient's studies, which the severity trend needs, are kept; times
  of day stay as they are. The birth date and time go as the basic profile says (emptied, removed).
- Z empties; X removes; D gives a dummy of the attribute's type. Of the compound actions, X/Z and X/Z/D
  empty (some image IODs require such an attribute, present if empty: DX's Acquisition Context Sequence)
  and X/D removes (the image IODs read here do not require those); a sequence marked X/Z/U* is kept with
  the UIDs inside it replaced, so references to other images still resolve.
- Private attributes and overlay planes are removed (the table removes an overlay's data; a plane
  without data would be invalid).

Pixel data are copied unchanged, so an image whose Burned In Annotation is YES is refused: its pixels show
identifying text. A data set the profile needs a dummy for that cannot be made safely (a report's
content sequence, an encapsulated document) is refused too: DeidentificationError says why."""

import datetime
import hashlib
import hmac
import secrets
import uuid
from functools import cache

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from xraydesk import __version__

PROFILE_RELEASE = "2026c"  # the standard release dicom-anonymizer scraped the table from
# dicom-anonymizer's list -> the standard's action code
ACTIONS = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D", "X_Z_TAGS": "X/Z",
           "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*"}
BASIC_PROFILE = ("113100", "Basic Application Confidentiality Profile")
MODIFIED_DATES = ("113107", "Retain Longitudinal Temporal Information Modified Dates Option")
METHOD = (f"DICOM PS3.15 E.1-1 ({PROFILE_RELEASE}), modified dates",
          f"XRayDesk {__version__}; research use only")  # LO values: 64 characters at most
DAY_SHIFT_RANGE = (365, 3652)  # days back, per patient
PSEUDONYMISED = {Tag("PatientID"), Tag("PatientName")}
TEMPORAL_VRS = {"DA", "DT", "TM"}
UID_ACTIONS = {"U", "D", "X/Z/U*"}  # a UID's dummy is a replacement UID
EMPTIED = {"Z", "Z/D", "X/Z", "X/Z/D", "X/Z/U*"}
NOT_SHIFTED = {Tag("PatientBirthDate"), Tag("PatientBirthTime")}  # the basic profile's action applies
DUMMY_TEXT = "ANONYMIZED"
TEXT_VRS = {"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"}
NUMBER_VRS = {"FD", "FL", "SL", "SS", "SV", "UL", "US", "UV"}
OVERLAY_GROUPS = range(0x6000, 0x6020, 2)
REQUIRED_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


class DeidentificationError(Exception):
    """This data set cannot be de-identified here; str() is the reason."""


@cache
def _table() -> tuple[dict[int, str], tuple[tuple[int, int, int, int, str], ...]]:
    """(tag -> action, (group, element, group mask, element mask, action) for the repeating groups)."""
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector

    lists = dicom_anonymization_database_selector(f"dicomfields_{PROFILE_RELEASE}")
    exact, masked = {}, []
    for name, action in ACTIONS.items():
        for entry in lists[name]:
            if len(entry) == 2:
                exact[Tag(*entry)] = action
            else:
                masked.append((*entry, action))
    return exact, tuple(masked)


def profile_action(tag: int) -> str | None:
    """The basic profile's action for `tag` (D, Z, X, U or a compound such as X/Z/D); None when the table
    does not list it (the attribute is kept)."""
    exact, masked = _table()
    if tag in exact:
        return exact[tag]
    group, element = tag >> 16, tag & 0xFFFF
    for table_group, table_element, group_mask, element_mask, action in masked:
        if group & group_mask == table_group & group_mask and element & element_mask == table_element & element_mask:
            return action
    return None


class Pseudonyms:
    """One export's replacements: the same original gives the same replacement throughout the export, from
    an HMAC whose key is new for every export (none is kept)."""

    def __init__(self, key: bytes | None = None):
        self._key = key or secrets.token_bytes(32)

    def _digest(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}\0{value}".encode(), hashlib.sha256).digest()

    def uid(self, uid: str) -> str:
        """A UUID-derived UID (ISO/IEC 9834-8, root 2.25): at most 44 characters."""
        return f"2.25.{uuid.UUID(bytes=self._digest('uid', uid)[:16], version=4).int}"

    def patient(self, patient: str) -> str:
        return f"ANON-{self._digest('patient', patient)[:6].hex().upper()}"

    def day_shift(self, patient: str) -> datetime.timedelta:
        low, high = DAY_SHIFT_RANGE
        return datetime.timedelta(days=-(low + int.from_bytes(self._digest("days", patient)[:4]) % (high - low + 1)))


def is_burned_in(dataset: Dataset) -> bool:
    return str(dataset.get("BurnedInAnnotation", "")).strip().upper() == "YES"


def deidentify(dataset: Dataset, pseudonyms: Pseudonyms) -> None:
    """Applies the profile to `dataset` in place, with new file meta information for a file of its own.
    Raises DeidentificationError (and leaves `dataset` partly changed) when it cannot be de-identified."""
    if is_burned_in(dataset):
        raise DeidentificationError("Burned In Annotation is YES: its pixels, copied unchanged, show identifying "
                                    "text")
    if missing := [keyword for keyword in REQUIRED_UIDS if not dataset.get(keyword)]:
        raise DeidentificationError(f"no {', '.join(missing)}: not a DICOM object of its own")
    patient = str(dataset.get("PatientID") or dataset.get("PatientName") or "")
    transfer_syntax = getattr(dataset, "file_meta", Dataset()).get("TransferSyntaxUID")
    dataset.remove_private_tags()
    for tag in [tag for tag in dataset.keys() if tag.group in OVERLAY_GROUPS]:
        del dataset[tag]
    _Replacer(pseudonyms, pseudonyms.patient(patient), pseudonyms.day_shift(patient)).clean(dataset)
    _mark_deidentified(dataset)
    dataset.file_meta = FileMetaDataset()
    if transfer_syntax:
        dataset.file_meta.TransferSyntaxUID = transfer_syntax
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID


class _Replacer:
    def __init__(self, pseudonyms: Pseudonyms, patient: str, day_shift: datetime.timedelta):
        self.pseudonyms, self.patient, self.day_shift = pseudonyms, patient, day_shift

    def clean(self, dataset: Dataset) -> None:
        for element in list(dataset):
            action = profile_action(element.tag)
            if action is None or (action == "X/Z/U*" and element.VR == "SQ"):
                self.clean_items(element)
            else:
                self.apply(dataset, element, action)

    def clean_items(self, element) -> None:
        if element.VR == "SQ":
            for item in element.value:
                self.clean(item)

    def apply(self, dataset: Dataset, element, action: str) -> None:
        if element.tag in PSEUDONYMISED:
            element.value = self.patient
        elif element.VR in TEMPORAL_VRS and element.tag not in NOT_SHIFTED and not element.is_empty:
            if element.VR != "TM":  # a whole-day shift leaves times of day as they are
                _map_values(element, self.shifted)
        elif element.VR == "UI" and action in UID_ACTIONS:
            _map_values(element, self.pseudonyms.uid)
        elif action == "D":
            element.value = _dummy(element)
        elif action in EMPTIED:
            element.value = Sequence() if element.VR == "SQ" else None
        else:  # X, X/D
            del dataset[element.tag]

    def shifted(self, value: str) -> str:
        """A DA or DT value moved by the patient's shift (a DT keeps its time and offset); one that is not a
        whole date (malformed, or a DT of a year or month only) is emptied."""
        try:
            day = datetime.datetime.strptime(value[:8], "%Y%m%d").date() + self.day_shift
        except (ValueError, OverflowError):
            return ""
        return f"{day.year:04d}{day.month:02d}{day.day:02d}{value[8:]}"


def _map_values(element, replace) -> None:
    """Each of the element's values replaced (an empty element stays empty)."""
    if element.VM > 1:
        element.value = [replace(str(value)) for value in element.value]
    elif element.VM == 1:
        element.value = replace(str(element.value))


def _dummy(element):
    if element.VR in TEXT_VRS:
        return DUMMY_TEXT
    if element.VR in ("DS", "IS"):
        return "0"
    if element.VR in NUMBER_VRS:
        return 0
    if element.VR == "SQ" and not element.value:
        return element.value
    raise DeidentificationError(f"{element.name} {element.tag} needs a dummy value of VR {element.VR}, which "
                                "cannot be made safely here")


def _mark_deidentified(dataset: Dataset) -> None:
    dataset.PatientIdentityRemoved = "YES"
    dataset.LongitudinalTemporalInformationModified = "MODIFIED"
    dataset.DeidentificationMethod = list(METHOD)
    dataset.DeidentificationMethodCodeSequence = [_code(value, meaning) for value, meaning in
                                                  (BASIC_PROFILE, MODIFIED_DATES)]


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item
