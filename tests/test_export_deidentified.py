"""`xraydesk export --deidentify` against real shared DICOM files: every attribute of the PS3.15 basic profile's
table (Table E.1-1, as dicom-anonymizer lists it) that a source holds, at any depth, is removed, emptied or
replaced as the table says (with the modified-dates option for dates); UIDs stay consistent within an export
and differ between two; pixel data and the sources are untouched; an output folder among the inputs is refused."""

import datetime
import hashlib
import shutil
from collections import Counter
from pathlib import Path

import pydicom
import pytest
from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
from pydicom.tag import Tag

from xraydesk.cli import main as cli_main
from xraydesk.commands.common import EXIT_OK, EXIT_OUTPUT_FAILED, EXIT_SOME_FAILED
from xraydesk.commands.export import export_deidentified
from xraydesk.imaging.deidentify import PROFILE_RELEASE, Pseudonyms

ONE_STUDY = ["dicomdir/77654033/CR1/6154", "dicomdir/77654033/CR2/6247", "dicomdir/77654033/CR3/6278"]
# with sequences (X/Z/U* references, nested items), private attributes, compressed pixels, another patient
OTHERS = ["dicomdir/77654033/CT2/17106", "wg04/RG1_J2KR.dcm", "canon/canon_dx_chest_mono1_j2k.dcm",
          "nonchest/RG2_J2KI__hip.dcm", "dicomdir/98892001/CT2N/6293"]
CATEGORIES = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D", "X_Z_TAGS": "X/Z",
              "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*"}
ADDED = {Tag("PatientIdentityRemoved"), Tag("DeidentificationMethod"), Tag("DeidentificationMethodCodeSequence"),
         Tag("LongitudinalTemporalInformationModified")}
BIRTH = {Tag("PatientBirthDate"), Tag("PatientBirthTime")}
KEY = b"a fixed key, so the test knows where each copy goes"


def table() -> tuple[dict, list]:
    lists = dicom_anonymization_database_selector(f"dicomfields_{PROFILE_RELEASE}")
    exact = {Tag(*entry): action for name, action in CATEGORIES.items() for entry in lists[name] if len(entry) == 2}
    masked = [(*entry, action) for name, action in CATEGORIES.items() for entry in lists[name] if len(entry) == 4]
    return exact, masked


EXACT, MASKED = table()


def table_action(tag: Tag) -> str | None:
    for group, element, group_mask, element_mask, action in MASKED:
        if tag.group & group_mask == group & group_mask and tag.element & element_mask == element & element_mask:
            return action
    return EXACT.get(tag)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def day(value: str) -> datetime.date:
    return datetime.datetime.strptime(value[:8], "%Y%m%d").date()


@pytest.fixture
def sources(dicom_dir) -> list[Path]:
    paths = [dicom_dir / name for name in ONE_STUDY + OTHERS]
    missing = [path for path in paths if not path.exists()]
    if missing:
        pytest.skip(f"shared DICOM files not found: {missing}")
    return paths


def copy_of(source: Path, target: Path, **attributes) -> Path:
    """A copy of a shared file (the original is only read) with attributes set (keyword=value)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    dataset = pydicom.dcmread(target)
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    dataset.save_as(target)
    return target


class Checker:
    """Compares a source data set with its copy, attribute by attribute and level by level."""

    def __init__(self, pseudonyms: Pseudonyms):
        self.pseudonyms = pseudonyms
        self.checked = Counter()  # action -> attributes checked
        self.uids: dict[str, str] = {}  # source UID -> copy's, across all files
        self.shifts: dict[str, set[int]] = {}  # patient -> days its dates moved back

    def compare(self, source: pydicom.Dataset, copy: pydicom.Dataset, patient: str) -> None:
        for element in source:
            tag, copied = element.tag, copy.get(element.tag)
            action = table_action(tag)
            if tag.is_private or 0x6000 <= tag.group <= 0x601E:
                assert copied is None, f"{tag} kept"
                self.checked["private or overlay"] += 1
            elif action is None:
                self.compare_kept(element, copied, patient)
            else:
                self.checked[action] += 1
                self.compare_listed(element, copied, action, patient)

    def compare_kept(self, element, copied, patient: str) -> None:
        assert copied is not None, f"{element.tag} {element.name} is not in the table, yet removed"
        if element.VR == "SQ":
            for source_item, copy_item in zip(element.value, copied.value, strict=True):
                self.compare(source_item, copy_item, patient)
        elif element.tag not in ADDED:
            assert copied.value == element.value, f"{element.name} changed"

    def compare_listed(self, element, copied, action: str, patient: str) -> None:
        name = f"{element.tag} {element.name} ({action})"
        if element.tag in (Tag("PatientID"), Tag("PatientName")):
            assert copied.value == self.pseudonyms.patient(patient) != element.value, name
        elif element.VR in ("DA", "DT") and element.tag not in BIRTH and element.value:
            self.shifts.setdefault(patient, set()).add((day(element.value) - day(copied.value)).days)
            assert copied.value[8:] == element.value[8:], f"{name}: a DT keeps its time"
        elif element.VR == "TM" and element.tag not in BIRTH and element.value:
            assert copied.value == element.value, f"{name}: a whole-day shift keeps the time"
        elif element.VR == "UI" and action in ("U", "D", "X/Z/U*"):
            for original, replaced in zip(element.value if element.VM > 1 else [element.value],
                                          copied.value if copied.VM > 1 else [copied.value], strict=True):
                assert replaced.startswith("2.25.") and len(replaced) <= 64, name
                assert self.uids.setdefault(original, replaced) == replaced, f"{name}: inconsistent"
        elif action == "X/Z/U*":  # a sequence of references: kept, its UIDs replaced
            for source_item, copy_item in zip(element.value, copied.value, strict=True):
                self.compare(source_item, copy_item, patient)
        elif action == "D":
            assert copied.value and copied.value != element.value, name
        elif action in ("Z", "Z/D", "X/Z", "X/Z/D"):
            assert copied is not None and copied.is_empty, f"{name} not emptied"
        else:
            assert copied is None, f"{name} not removed"


def test_every_profile_attribute_of_real_files_is_handled_as_the_table_says(sources, tmp_path):
    pseudonyms = Pseudonyms(KEY)
    hashes = {path: digest(path) for path in sources}
    summary = export_deidentified(sources, tmp_path / "out", pseudonyms=pseudonyms)
    assert len(summary.written) == len(sources) and not summary.refused
    checker = Checker(pseudonyms)
    for path in sources:
        source = pydicom.dcmread(path)
        copy = pydicom.dcmread(tmp_path / "out" / pseudonyms.uid(source.StudyInstanceUID)
                               / f"{pseudonyms.uid(source.SOPInstanceUID)}.dcm")
        checker.compare(source, copy, str(source.PatientID))
        assert copy.PixelData == source.PixelData and copy.file_meta.TransferSyntaxUID == \
            source.file_meta.TransferSyntaxUID
        assert copy.file_meta.MediaStorageSOPInstanceUID == copy.SOPInstanceUID
        assert "SourceApplicationEntityTitle" not in copy.file_meta
        assert not any(element.tag.is_private for element in copy.iterall())
        assert copy.PatientIdentityRemoved == "YES" and copy.LongitudinalTemporalInformationModified == "MODIFIED"
        assert [(code.CodingSchemeDesignator, code.CodeValue) for code in copy.DeidentificationMethodCodeSequence] \
            == [("DCM", "113100"), ("DCM", "113107")]
        assert any("research use only" in value for value in copy.DeidentificationMethod)
    assert {path: digest(path) for path in sources} == hashes  # the sources are only read
    for patient, shifts in checker.shifts.items():  # one shift per patient, so intervals are kept
        [days] = shifts
        assert 365 <= days <= 3652, patient
    assert set(checker.checked) >= {"U", "Z", "X", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*", "private or overlay"}
    assert sum(checker.checked.values()) > 150


def image_order(dataset: pydicom.Dataset) -> tuple:
    """What a copy keeps of its source, to pair them."""
    return dataset.PixelData, str(dataset.Modality), str(dataset.SeriesNumber), str(dataset.InstanceNumber)


def grouping(datasets: list[pydicom.Dataset], keyword: str) -> list[list[int]]:
    """For each data set, the indices of those with the same value of `keyword`."""
    values = [str(dataset.get(keyword, "")) for dataset in datasets]
    return [[index for index, other in enumerate(values) if other == value] for value in values]


def test_uids_group_as_before_within_an_export_and_two_exports_cannot_be_linked(sources, tmp_path):
    def export(folder: Path) -> list[pydicom.Dataset]:
        assert cli_main(["export", *map(str, sources), "--to", str(folder), "--deidentify"]) == EXIT_OK
        return sorted((pydicom.dcmread(path) for path in folder.rglob("*.dcm")), key=image_order)

    originals = sorted((pydicom.dcmread(path) for path in sources), key=image_order)
    first, second = export(tmp_path / "first"), export(tmp_path / "second")
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "PatientID"):
        assert grouping(first, keyword) == grouping(originals, keyword) == grouping(second, keyword), keyword
    study = {copy.StudyInstanceUID for copy, source in zip(first, originals) if source.PatientID == "77654033"
             and source.Modality == "CR"}
    assert len(study) == 1 and len({copy.SeriesInstanceUID for copy in first if copy.StudyInstanceUID in study}) == 3
    for copy, other in zip(first, second):  # the same image, exported twice
        assert copy.SOPInstanceUID != other.SOPInstanceUID and copy.PatientID != other.PatientID


def test_a_dicomdir_tree_is_followed_and_the_dicomdir_itself_is_not_copied(dicom_dir, tmp_path):
    from xraydesk.imaging import IMAGE, scan_paths

    dicomdir = dicom_dir / "dicomdir" / "DICOMDIR"
    images = [entry for entry in scan_paths([dicomdir]) if entry.kind == IMAGE]
    summary = export_deidentified([dicomdir], tmp_path / "out")
    assert len(summary.written) == len(images) > 20 and summary.skipped == 1 and not summary.refused


def test_burned_in_text_is_refused_and_named(dicom_dir, tmp_path, capsys):
    rsna = next((dicom_dir / "rsna").glob("*.dcm"))
    burned = copy_of(rsna, tmp_path / "in" / "burned.dcm", BurnedInAnnotation="YES", SOPInstanceUID="1.2.3.1")
    clean = copy_of(rsna, tmp_path / "in" / "clean.dcm", BurnedInAnnotation="NO", SOPInstanceUID="1.2.3.2")
    unstated = copy_of(rsna, tmp_path / "in" / "unstated.dcm", SOPInstanceUID="1.2.3.3")
    out = tmp_path / "out"
    assert cli_main(["export", str(burned), str(clean), str(unstated), "--to", str(out),
                     "--deidentify"]) == EXIT_SOME_FAILED
    errors = capsys.readouterr().err
    assert f"not exported {burned}: Burned In Annotation is YES" in errors
    assert "wrote 2 de-identified DICOM files (1 study)" in errors
    assert "1 exported images do not state whether text is burned into their pixels" in errors
    assert {pydicom.dcmread(path).get("BurnedInAnnotation") for path in out.rglob("*.dcm")} == {"NO", None}


def test_a_dummy_replaces_d_attributes_and_a_sequence_needing_one_is_refused(dicom_dir, tmp_path):
    rsna = next((dicom_dir / "rsna").glob("*.dcm"))
    named = copy_of(rsna, tmp_path / "in" / "named.dcm", PersonName="Doe^John", SOPInstanceUID="1.2.3.4")
    reported = copy_of(rsna, tmp_path / "in" / "report.dcm", SOPInstanceUID="1.2.3.5",
                       ContentSequence=[pydicom.Dataset()])
    reported_dataset = pydicom.dcmread(reported)
    reported_dataset.ContentSequence[0].TextValue = "Doe, John, seen on 2020-03-28"
    reported_dataset.save_as(reported)
    summary = export_deidentified([named, reported], tmp_path / "out")
    [written] = summary.written
    assert pydicom.dcmread(written).PersonName == "ANONYMIZED"
    assert summary.refused == [(reported, "Content Sequence (0040,A730) needs a dummy value of VR SQ, which cannot "
                                          "be made safely here")]


def test_an_output_folder_among_the_inputs_is_refused_with_exit_3(dicom_dir, tmp_path, capsys):
    source = copy_of(dicom_dir / ONE_STUDY[0], tmp_path / "in" / "image.dcm")
    before = digest(source)
    refusals = {  # --to -> what is said
        tmp_path / "in" / "copies": "lies inside the scanned folder",
        tmp_path: "the input",  # holding an input
        source: "is a file",
    }
    for target, said in refusals.items():
        assert cli_main(["export", str(tmp_path / "in"), "--to", str(target), "--deidentify"]) == EXIT_OUTPUT_FAILED
        assert said in capsys.readouterr().err
    assert not (tmp_path / "in" / "copies").exists() and digest(source) == before
    assert sorted(path.name for path in tmp_path.rglob("*") if path.is_file()) == ["image.dcm"]
