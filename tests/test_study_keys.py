"""One study-keys record, read once from the header: the scan, the loaded image and the analysis agree
on who and what an image is, empty values included, and "the study" of a PNG is its folder for the
study browser, compare and the trend alike."""

import numpy as np
from fakes import synthetic_analysis
from PIL import Image

from xraydesk.ai.analysis import StudyIdentity
from xraydesk.ai.trend import patient_trends
from xraydesk.imaging import load_image, scan_paths
from xraydesk.imaging.session import StudySession
from xraydesk.imaging.study_keys import StudyKeys


def test_the_scan_and_the_loader_read_the_same_keys_and_an_empty_name_stays_empty(make_dicom):
    path = make_dicom("empty-name.dcm", PatientName=None, StudyDate="20200402", StudyTime="131500",
                      StudyDescription="  CHEST PA ", SeriesNumber="2", InstanceNumber="7", SOPInstanceUID="1.2.3.4.5.7",
                      AcquisitionDateTime="20200402131702.5+0100", ContentTime="131800", ViewPosition="PA")
    [entry] = scan_paths([path])
    image = load_image(path)
    assert entry.keys == image.keys == StudyIdentity.of(image).keys
    assert image.keys == StudyKeys(patient_name="", patient_id="P1", study_uid="1.2.3.4", study_date="20200402",
                                   study_time="131500", study_description="CHEST PA", series_uid="1.2.3.4.5",
                                   series_number=2, modality="DX", instance_number=7,
                                   acquisition_time="131702.5", sop_instance_uid="1.2.3.4.5.7", view_position="PA",
                                   study="1.2.3.4")


def test_without_a_study_time_the_images_own_time_places_its_study():
    keys = StudyKeys(study_time="", acquisition_time="0930")
    assert keys.time_of_study == "0930" and StudyKeys(study_time="1100", acquisition_time="0930").time_of_study == "1100"


def test_a_png_study_is_its_folder_everywhere(tmp_path):
    folder = tmp_path / "serial-films"
    folder.mkdir()
    paths = [folder / name for name in ("a.png", "b.png")]
    for path in paths:
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(path)
    entries = scan_paths([folder])
    images = [load_image(path) for path in paths]
    assert {entry.keys.study for entry in entries} == {image.keys.study for image in images} == {str(folder)}
    assert images[0].keys.study_uid == "" and StudyIdentity.of(images[0]).modality == "PNG"
    session = StudySession()
    for entry in entries:
        session.add(entry)
    [study] = session.studies_of_patient(paths[0])
    assert study.study_uid == str(folder) and study.paths == tuple(paths)
    analyses = [synthetic_analysis(image.path, identity=StudyIdentity.of(image)) for image in images]
    assert patient_trends(analyses) == {}  # no Patient ID: one folder, no course over time
