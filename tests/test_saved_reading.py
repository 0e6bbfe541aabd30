"""The reader's work as DICOM (xraydesk.dicom_results.reading_record, xraydesk.jobs.saved_reading), without
Qt: measurements and arrows written as a TID 1500 Comprehensive SR and a key-image mark as a Key Object
Selection document in the image's study, read back to the same measurements; versions that supersede
each other in the local store; checked with highdicom's reader, dciodvfy and dsrdump."""

import copy
import re
import shutil
import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest
from PIL import Image
from required_tools import require_tool

from xraydesk.dicom_results import ResultsError
from xraydesk.dicom_results.reading_record import (
    KEY_SERIES_NUMBER,
    RECORD_SERIES_NUMBER,
    key_image_document,
    key_series_uid,
    measurement_record,
    read_key_reason,
    read_measurements,
    record_series_uid,
)
from xraydesk.imaging import load_image
from xraydesk.imaging.measurements import Angle, Arrow, CardiothoracicRatio, Ruler
from xraydesk.jobs.saved_reading import ReadingArchive
from xraydesk.pacs.local_store import LocalStore

FILM = "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm"  # 1024 x 1024, Pixel Spacing 0.143 mm
READING = (
    Ruler(((100.5, 200.5), (400.25, 260.75))),
    Angle(((300.0, 100.0), (500.0, 500.0), (700.0, 120.0))),
    Arrow(((620.0, 410.0), (700.0, 330.0)), "nodule? — ünïcode ⟶ 結節"),
    CardiothoracicRatio(((380.0, 600.0), (640.0, 600.0), (150.0, 620.0), (880.0, 620.0)), estimated=True),
)
# dciodvfy's warnings that are not ours to fix (as for the AI result: tests/pacs/test_results.py)
ACCEPTED_WARNINGS = (
    re.compile(r"Unrecognized defined term <99XRAYDESK> for value 1 of attribute <Coding Scheme Designator>"),
    re.compile(r"Missing attribute or value that would be needed to build DICOMDIR - Study ID"),
    re.compile(r"Value dubious for this VR - \(0x0010,0x0010\) PN Patient's Name .* Retired Person Name form"),
)


@pytest.fixture(scope="module")
def film(dicom_dir):
    return load_image(dicom_dir / "rsna" / FILM)


def saved(dataset, tmp_path, name: str):
    """The dataset written and read back, as a receiving archive would have it."""
    path = tmp_path / name
    dataset.save_as(path, enforce_file_format=True)
    return pydicom.dcmread(path)


def test_measurements_and_arrows_read_back_as_they_were_made(film, tmp_path):
    source = copy.deepcopy(film.dataset)
    record = saved(measurement_record(film, READING), tmp_path, "record.dcm")
    assert read_measurements(record) == list(READING)  # points on the float32 grid of SCOORD come back exact
    assert film.dataset == source  # the image is never changed
    assert (record.StudyInstanceUID, record.PatientID) == (source.StudyInstanceUID, source.PatientID)
    assert record.SeriesInstanceUID == record_series_uid(source.SOPInstanceUID) != source.SeriesInstanceUID
    assert (record.SeriesNumber, record.InstanceNumber, record.Modality) == (RECORD_SERIES_NUMBER, 1, "SR")
    evidence = record.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID


def test_the_values_are_written_with_their_units_for_other_readers(film, tmp_path):
    record = saved(measurement_record(film, READING), tmp_path, "record.dcm")
    content = hd.sr.ComprehensiveSR.from_dataset(record).content
    assert record.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    ruler, angle, arrow = content.get_planar_roi_measurement_groups()
    [ctr] = content.get_image_measurement_groups()
    spacing = film.pixel_spacing[0]  # mm, the same between rows and between columns
    assert [(m.name.meaning, m.value, m.unit.value) for m in ruler.get_measurements()] == [
        ("Length", pytest.approx(READING[0].length(None) * spacing, abs=0.01), "mm")]
    assert ruler.roi.graphic_type == hd.sr.GraphicTypeValues.POLYLINE
    assert [(m.name.meaning, m.unit.value) for m in angle.get_measurements()] == [("Angle", "deg")]
    assert arrow.finding_type.meaning == "Arrow annotation"
    values = {(m.name.meaning, m.finding_sites[0].value.meaning if m.finding_sites else ""): (m.value, m.unit.value)
              for m in ctr.get_measurements()}
    heart, thorax = READING[3].widths(None)
    assert values == {("Cardiothoracic ratio", ""): (pytest.approx(heart / thorax, abs=1e-4), "{ratio}"),
                      ("Width", "Heart"): (pytest.approx(heart * spacing, abs=0.01), "mm"),
                      ("Width", "Thorax"): (pytest.approx(thorax * spacing, abs=0.01), "mm")}


def test_lengths_of_a_film_without_pixel_spacing_are_in_pixels(make_dicom, tmp_path):
    image = load_image(make_dicom("plain.dcm", np.zeros((200, 300), np.uint16)))
    record = saved(measurement_record(image, [Ruler(((0.0, 0.0), (30.0, 40.0)))]), tmp_path, "record.dcm")
    [ruler] = hd.sr.ComprehensiveSR.from_dataset(record).content.get_planar_roi_measurement_groups()
    [length] = ruler.get_measurements()
    assert (length.value, length.unit.value) == (50.0, "{pixels}")
    assert read_measurements(record) == [Ruler(((0.0, 0.0), (30.0, 40.0)))]


def test_a_key_image_document_names_its_reason_and_references_the_image(film, tmp_path):
    document = saved(key_image_document(film, "For Teaching"), tmp_path, "key.dcm")
    assert read_key_reason(document) == "For Teaching"
    assert document.ConceptNameCodeSequence[0].CodeValue == "113004"
    assert (document.SeriesNumber, document.Modality) == (KEY_SERIES_NUMBER, "KO")
    assert document.SeriesInstanceUID == key_series_uid(film.dataset.SOPInstanceUID)
    evidence = document.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == film.dataset.SOPInstanceUID
    with pytest.raises(ResultsError, match=f"{FILM}: 'Rejected for Quality Reasons' is not a key-image reason"):
        key_image_document(film, "Rejected for Quality Reasons")  # IOCM: an archive would hide the image


def test_a_png_has_no_study_to_keep_a_reading_in(tmp_path):
    path = tmp_path / "chest.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(path)
    archive = ReadingArchive(LocalStore(tmp_path / "store"))
    with pytest.raises(ResultsError, match=r"chest\.png: a PNG image has no DICOM study"):
        archive.save_measurements(load_image(path), READING[:1])


@pytest.fixture
def written(film, tmp_path):
    """The SR of READING, the empty SR that supersedes it and a key-image document, as files."""
    first = measurement_record(film, READING)
    files = {"record": first, "empty": measurement_record(film, [], previous=first),
             "key": key_image_document(film, "Of Interest")}
    for name, dataset in files.items():
        dataset.save_as(tmp_path / f"{name}.dcm", enforce_file_format=True)
    return {name: tmp_path / f"{name}.dcm" for name in files}


def test_dciodvfy_finds_no_error(written):
    require_tool("dciodvfy", "Debian dicom3tools")
    for path in written.values():
        output = subprocess.run(["dciodvfy", str(path)], check=False, capture_output=True, text=True, timeout=60)
        lines = (output.stdout + output.stderr).splitlines()
        assert not [line for line in lines if line.startswith("Error")], "\n".join(lines)
        warnings = [line for line in lines if line.startswith("Warning")]
        assert all(any(pattern.search(line) for pattern in ACCEPTED_WARNINGS) for line in warnings), warnings


def test_dsrdump_reads_the_ratio_with_its_unit_and_the_arrow_text(written):
    require_tool("dsrdump", "Debian dcmtk")
    heart, thorax = READING[3].widths(None)
    # +Pl: shortened, a long value is cut at a byte count, inside a UTF-8 character
    output = subprocess.run(["dsrdump", "+Pl", str(written["record"])], check=False, capture_output=True, text=True,
                            timeout=60)
    assert output.returncode == 0, output.stderr
    assert f'"Cardiothoracic ratio")="{heart / thorax:.4f}" ({{ratio}},UCUM,"ratio")' in output.stdout
    assert 'TEXT:(,,"Comment")="nodule? — ünïcode ⟶ 結節"' in output.stdout
    assert "SCOORD:(,,\"Image Region\")=(POLYLINE,100.5/200.5" in output.stdout
    empty = subprocess.run(["dsrdump", str(written["empty"])], check=False, capture_output=True, text=True, timeout=60)
    assert empty.returncode == 0 and "Predecessor Docs    : 1" in empty.stdout
    key = subprocess.run(["dsrdump", str(written["key"])], check=False, capture_output=True, text=True, timeout=60)
    assert key.returncode == 0 and '<CONTAINER:(,,"Of Interest")' in key.stdout


# ------------------------------------------------------------ the archive in the local store


@pytest.fixture
def archive(tmp_path):
    return ReadingArchive(LocalStore(tmp_path / "store"))


def uids(image) -> tuple[str, str]:
    return image.dataset.StudyInstanceUID, image.dataset.SOPInstanceUID


def test_each_save_is_a_new_version_that_supersedes_the_last_and_the_store_keeps_the_newest(film, archive):
    first = archive.save_measurements(film, READING)
    first_uid = pydicom.dcmread(first).SOPInstanceUID
    assert first.parent == archive.series_folder(film.dataset.StudyInstanceUID,
                                                 record_series_uid(film.dataset.SOPInstanceUID))
    assert first.parent.parent == archive.store.study_folder(film.dataset.StudyInstanceUID)  # the study's own
    second = archive.save_measurements(film, READING[:2])
    assert list(second.parent.iterdir()) == [second]
    newer = pydicom.dcmread(second)
    assert newer.InstanceNumber == 2
    predecessor = newer.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert predecessor.ReferencedSOPInstanceUID == first_uid
    assert archive.find(*uids(film)).measurements == READING[:2]
    archive.save_measurements(film, [])
    assert archive.find(*uids(film)).measurements == ()  # a deletion is kept: the empty record is newest


def test_a_key_image_is_marked_changed_and_taken_back(film, archive):
    assert archive.find(*uids(film)).key_reason is None
    archive.save_key_image(film, "Of Interest")
    path = archive.save_key_image(film, "For Teaching")
    assert archive.find(*uids(film)).key_reason == "For Teaching"
    assert pydicom.dcmread(path).InstanceNumber == 2
    assert archive.files_to_send(film) == [("key image", path)]
    record = archive.save_measurements(film, READING)
    assert archive.files_to_send(film) == [("measurements", record), ("key image", path)]
    archive.save_key_image(film, None)
    assert archive.find(*uids(film)).key_reason is None and archive.files_to_send(film) == [("measurements", record)]


def test_a_reading_found_beside_the_image_is_read_and_never_changed(film, archive, tmp_path):
    """A study exported from a PACS with its records, opened with an empty store."""
    elsewhere = ReadingArchive(LocalStore(tmp_path / "other store"))
    record = elsewhere.save_measurements(film, READING)
    key = elsewhere.save_key_image(film, "Quality Issue")
    folder = tmp_path / "exported"
    folder.mkdir()
    nearby = [shutil.copy(record, folder / "sr.dcm"), shutil.copy(key, folder / "ko.dcm")]
    found = archive.find(*uids(film), nearby)
    assert found.measurements == READING and found.key_reason == "Quality Issue"
    saved_there = [path.read_bytes() for path in nearby]
    newer = archive.save_measurements(film, READING[:1])  # the next version goes to the store
    assert newer.is_relative_to(archive.store.root) and pydicom.dcmread(newer).InstanceNumber == 2
    assert [path.read_bytes() for path in nearby] == saved_there
    assert archive.find(*uids(film), nearby).measurements == READING[:1]


def test_an_unreadable_saved_object_is_reported_by_name(film, archive, tmp_path):
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"DICM but not really")
    found = archive.find(*uids(film), [broken])
    assert found.measurements == () and found.problems == ("broken.dcm: not a DICOM, PNG or JPEG file",)
