"""scan_paths: grouping, sort order, DICOMDIR, skipped files."""

import os
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.uid import BasicTextSRStorage, GrayscaleSoftcopyPresentationStateStorage

from xraydesk.imaging import ERROR, IMAGE, NON_IMAGE, OTHER_FILE, scan_paths


def test_scan_of_shared_data_finds_every_image_and_explains_skips(dicom_dir):
    entries = scan_paths([dicom_dir])
    kinds = Counter(entry.kind for entry in entries)
    assert kinds[IMAGE] == 69  # 29 RSNA + 31 DICOMDIR tree + 9 others
    assert all(entry.reason for entry in entries if entry.kind != IMAGE)
    by_name = {entry.path.relative_to(dicom_dir).as_posix(): entry for entry in entries}
    assert by_name["barre/CR-MONO1-10-chest"].kind == IMAGE
    assert by_name["dicomdir/DICOMDIR"].reason == "DICOMDIR (index of 31 files)"
    assert by_name["dicomdir/DICOMDIR-nopatient"].kind == ERROR
    assert by_name["rsna/boxes.csv"].kind == OTHER_FILE


def test_images_come_grouped_by_patient_study_series_in_instance_order(dicom_dir):
    images = [entry for entry in scan_paths([dicom_dir / "dicomdir"]) if entry.kind == IMAGE]
    series_order = [entry.series_key for entry in images]
    # each series forms one contiguous run
    runs = [key for index, key in enumerate(series_order) if index == 0 or key != series_order[index - 1]]
    assert len(runs) == len(set(runs)) == 13
    for series in set(runs):
        numbers = [entry.keys.instance_number for entry in images if entry.series_key == series]
        assert numbers == sorted(numbers)
    assert {entry.keys.patient_id for entry in images} == {"77654033", "98890234"}


def test_sort_order_is_instance_number_then_acquisition_time_then_file_name(make_dicom, tmp_path):
    make_dicom("a.dcm", InstanceNumber=3)
    make_dicom("b.dcm", InstanceNumber=1, AcquisitionTime="120000")
    make_dicom("c.dcm", InstanceNumber=1, AcquisitionTime="110000")
    make_dicom("d.dcm", InstanceNumber=2)
    make_dicom("e.dcm")  # no instance number: last
    make_dicom("f.dcm", InstanceNumber=2)
    names = [entry.path.name for entry in scan_paths([tmp_path])]
    assert names == ["c.dcm", "b.dcm", "d.dcm", "f.dcm", "a.dcm", "e.dcm"]


def test_studies_and_series_are_separate_groups(make_dicom, tmp_path):
    make_dicom("s1.dcm", StudyInstanceUID="1.1", SeriesInstanceUID="1.1.1", StudyDate="20200101")
    make_dicom("s2.dcm", StudyInstanceUID="1.2", SeriesInstanceUID="1.2.1", StudyDate="20190101")
    make_dicom("s2b.dcm", StudyInstanceUID="1.2", SeriesInstanceUID="1.2.2", StudyDate="20190101", SeriesNumber=2)
    entries = scan_paths([tmp_path])
    # older study first; within it, numbered series before unnumbered
    assert [entry.path.name for entry in entries] == ["s2b.dcm", "s2.dcm", "s1.dcm"]
    assert len({entry.study_key for entry in entries}) == 2
    assert len({entry.series_key for entry in entries}) == 3


def test_dicomdir_given_alone_is_followed_to_its_files(dicom_dir):
    entries = scan_paths([dicom_dir / "dicomdir" / "DICOMDIR"])
    assert Counter(entry.kind for entry in entries) == {IMAGE: 31, NON_IMAGE: 1}


def test_non_image_objects_are_skipped_not_errors(make_pixelless_dicom, tmp_path):
    make_pixelless_dicom("report.dcm", BasicTextSRStorage)
    make_pixelless_dicom("state.dcm", GrayscaleSoftcopyPresentationStateStorage)
    reasons = {entry.path.name: (entry.kind, entry.reason) for entry in scan_paths([tmp_path])}
    assert reasons == {
        "report.dcm": (NON_IMAGE, "no pixel data (Basic Text SR Storage)"),
        "state.dcm": (NON_IMAGE, "no pixel data (Grayscale Softcopy Presentation State Storage)"),
    }


def test_bad_files_are_reported_with_reasons_and_do_not_stop_the_scan(make_dicom, tmp_path):
    make_dicom("good.dcm")
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "fake.dcm").write_text("not dicom at all\n" * 10)
    (tmp_path / "notes.txt").write_text("a note")
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "plain.png")
    entries = {entry.path.name: entry for entry in scan_paths([tmp_path, tmp_path / "missing"])}
    assert entries["good.dcm"].kind == IMAGE
    assert entries["plain.png"].kind == IMAGE and entries["plain.png"].source_format == "PNG"
    assert (entries["empty.dcm"].kind, entries["empty.dcm"].reason) == (ERROR, "file is empty (0 bytes)")
    assert (entries["fake.dcm"].kind, entries["fake.dcm"].reason) == (ERROR, "not a DICOM, PNG or JPEG file")
    assert entries["notes.txt"].kind == OTHER_FILE
    assert (entries["missing"].kind, entries["missing"].reason) == (ERROR, "file or folder not found")


def test_unreadable_folder_is_reported(make_dicom, tmp_path, monkeypatch):
    make_dicom("good.dcm")
    locked = tmp_path / "locked"
    locked.mkdir()
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == locked:  # chmod 000 does not stop root, so refuse like the kernel would
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    entries = {entry.path.name: entry for entry in scan_paths([tmp_path])}
    assert entries["good.dcm"].kind == IMAGE
    assert (entries["locked"].kind, entries["locked"].reason) == (ERROR, "cannot read folder (Permission denied)")


def test_on_entry_reports_each_entry_and_should_stop_ends_early(make_dicom, tmp_path):
    for index in range(5):
        make_dicom(f"{index}.dcm", InstanceNumber=index)
    seen = []
    entries = scan_paths([tmp_path], on_entry=seen.append, should_stop=lambda: len(seen) >= 2)
    assert len(seen) == len(entries) == 2
