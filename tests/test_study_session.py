"""The Qt-free study model: a patient's studies and priors (and the hanging protocol's choice), the shared
decoded-image cache, read marks, key-image marks, the pixel-less objects of a study."""

from dataclasses import replace
from pathlib import Path

import numpy as np

from xraydesk.events import NewestWins
from xraydesk.imaging import IMAGE, NON_IMAGE, ImageDisplay, ScanEntry, XRayImage
from xraydesk.imaging.session import StudySession
from xraydesk.imaging.study_keys import StudyKeys


def image_entry(name: str, patient_id: str, study_uid: str, study_date: str, view_position: str = "",
                **times: str) -> ScanEntry:
    keys = StudyKeys(patient_id=patient_id, study_uid=study_uid, study_date=study_date, series_uid=f"{study_uid}.1",
                     view_position=view_position, study=study_uid, **times)
    return ScanEntry(Path(f"/studies/{name}.dcm"), IMAGE, source_format="DICOM", keys=keys)


def display_of(path: Path) -> ImageDisplay:
    return ImageDisplay(XRayImage(path, np.zeros((4, 4), np.uint16), "DICOM", 12))


def session_with(*entries: ScanEntry) -> StudySession:
    session = StudySession()
    for entry in entries:
        session.add(entry)
    return session


def test_priors_are_the_same_patients_earlier_studies_newest_first():
    session = session_with(image_entry("a1", "P1", "1.1", "20200401"), image_entry("a2", "P1", "1.2", "20200407"),
                           image_entry("a3", "P1", "1.3", "20200410"), image_entry("b1", "P2", "2.1", "20200402"))
    current = Path("/studies/a3.dcm")
    assert [study.study_date for study in session.studies_of_patient(current)] == ["20200401", "20200407", "20200410"]
    assert [study.study_uid for study in session.prior_studies(current)] == ["1.2", "1.1"]
    assert session.prior_studies(Path("/studies/a1.dcm")) == []
    assert session.prior_studies(Path("/studies/b1.dcm")) == []


def test_a_study_of_the_same_day_is_the_prior_when_the_headers_say_it_came_first():
    session = session_with(image_entry("before", "P1", "1.5", "20200403"),
                           image_entry("morning", "P1", "1.9", "20200408", study_time="111200"),
                           image_entry("afternoon", "P1", "1.1", "20200408", acquisition_time="130800"),
                           image_entry("untimed", "P1", "1.2", "20200408"))
    assert [study.study_uid for study in session.prior_studies(Path("/studies/afternoon.dcm"))] == ["1.9", "1.5"]
    assert [study.study_uid for study in session.prior_studies(Path("/studies/morning.dcm"))] == ["1.5"]
    # no time: not known to come after either study of its day, nor before
    assert [study.study_uid for study in session.prior_studies(Path("/studies/untimed.dcm"))] == ["1.5"]
    assert session.study_of(Path("/studies/afternoon.dcm")).moment.time.isoformat() == "13:08:00"


def test_an_image_without_patient_id_or_date_has_no_prior():
    session = session_with(image_entry("x1", "", "9.1", "20200401"), image_entry("x2", "", "9.2", "20200405"),
                           image_entry("u1", "P3", "3.1", ""))
    assert session.prior_studies(Path("/studies/x2.dcm")) == []
    assert session.prior_studies(Path("/studies/u1.dcm")) == []


def test_the_hanging_protocol_hangs_the_same_view_position_first_then_the_most_recent():
    session = session_with(*(image_entry(name, "P1", study, date, view) for name, study, date, view in (
        ("pa1", "1.1", "20200401", "PA"), ("ap2", "1.2", "20200405", "AP"), ("ap3", "1.3", "20200407", "AP"),
        ("pa3", "1.3", "20200407", "PA"), ("pa4", "1.4", "20200410", "PA"), ("ap4", "1.4", "20200410", "AP"),
        ("x5", "1.5", "20200412", ""))))
    studies = session.prior_studies(Path("/studies/pa4.dcm"))
    index, path = session.hanging_prior(Path("/studies/pa4.dcm"))
    assert (studies[index].study_uid, path.name) == ("1.3", "pa3.dcm")  # the latest PA, not the first film of 1.3
    index, path = session.hanging_prior(Path("/studies/ap4.dcm"))
    assert (studies[index].study_uid, path.name) == ("1.3", "ap3.dcm")
    index, path = session.hanging_prior(Path("/studies/ap2.dcm"))  # no earlier AP: the most recent prior
    assert (session.prior_studies(Path("/studies/ap2.dcm"))[index].study_uid, path) == ("1.1", None)
    assert session.hanging_prior(Path("/studies/x5.dcm")) == (0, None)  # no view position: the most recent
    assert session.hanging_prior(Path("/studies/pa1.dcm")) is None


def test_key_images_and_the_objects_found_with_a_study():
    report = ScanEntry(Path("/studies/sr.dcm"), NON_IMAGE, "no pixel data",
                       keys=StudyKeys(study_uid="1.1", series_uid="1.1.9", study="1.1"))
    elsewhere = ScanEntry(Path("/other/sr.dcm"), NON_IMAGE, "no pixel data", keys=StudyKeys(study_uid="7.7", study="7.7"))
    session = session_with(image_entry("a1", "P1", "1.1", "20200401"), image_entry("a2", "P1", "1.2", "20200407"),
                           report, elsewhere)
    changes = []
    session.key_image_changed.connect(lambda path, reason: changes.append((path.name, reason)))
    first, second = Path("/studies/a1.dcm"), Path("/studies/a2.dcm")
    assert session.objects_of_study(first) == [report.path] and session.objects_of_study(second) == []
    session.set_key_image(second, "For Teaching")
    session.set_key_image(first, "Of Interest")
    session.set_key_image(first, "Of Interest")  # no change, no event
    assert session.key_images() == [(first, "Of Interest"), (second, "For Teaching")]
    session.set_key_image(second, None)
    assert session.key_reason(second) is None
    assert changes == [("a2.dcm", "For Teaching"), ("a1.dcm", "Of Interest"), ("a2.dcm", None)]
    session.clear()
    assert session.key_images() == []


def test_the_cache_keeps_one_display_per_image_and_forgets_the_oldest():
    session = StudySession(cache_size=2)
    first = display_of(Path("/a.dcm"))
    assert session.keep(first) is first
    assert session.keep(ImageDisplay(first.image)) is first  # a second mapping of the same image is not kept
    session.keep(display_of(Path("/b.dcm")))
    session.cached(Path("/a.dcm"))  # used: now the newest
    session.keep(display_of(Path("/c.dcm")))
    assert session.cached(Path("/b.dcm")) is None and session.cached(Path("/a.dcm")) is first
    assert session.image_source()(Path("/a.dcm")) is first.image


def test_events_summary_and_read_marks():
    session, added, read = StudySession(), [], []
    session.entry_added.connect(added.append)
    session.read_changed.connect(lambda path, is_read: read.append((path.name, is_read)))
    entry = image_entry("a1", "P1", "1.1", "20200401")
    session.add(entry)
    session.add(entry)  # found twice (a DICOMDIR and the folder): one image
    assert added == [entry] and session.summary() == "1 image"
    session.set_read(entry.path)
    session.set_read(entry.path)
    assert session.is_read(entry.path) and read == [("a1.dcm", True)]
    session.clear()
    assert session.image_paths() == [] and not session.is_read(entry.path)


def test_another_copy_of_an_open_image_is_not_a_second_image():
    session = StudySession()
    first = ScanEntry(Path("/open/a.dcm"), IMAGE, keys=StudyKeys(sop_instance_uid="1.2.3.9", instance_number=1))
    session.add(first)
    session.add(replace(first, path=Path("/retrieved/1.2.3.9.dcm")))  # the same instance, retrieved again
    session.add(ScanEntry(Path("/open/b.dcm"), IMAGE, keys=StudyKeys(instance_number=2)))  # no UID: by path only
    assert session.image_paths() == [first.path, Path("/open/b.dcm")] and session.summary() == "2 images"


def test_files_named_by_their_uid_are_listed_by_series_and_instance_numbers():
    numbered = StudyKeys(series_number=2, instance_number=1)
    named = ScanEntry(Path("/r/1.2.276.0.7230010.3.1.4.8323329.5797.1517875190.762693.dcm"), IMAGE, keys=numbered)
    assert named.named_by_uid and named.image_name == "series 2, image 1"
    assert replace(named, keys=replace(numbered, series_number=None)).image_name == "image 1"
    assert replace(named, keys=StudyKeys()).image_name == named.path.name  # nothing better
    plain = ScanEntry(Path("/r/chest-2020.dcm"), IMAGE, keys=numbered)
    assert not plain.named_by_uid and plain.image_name == "chest-2020.dcm"


def test_newest_wins():
    newest = NewestWins()
    first = newest.take()
    second = newest.take()
    assert newest.is_newest(second) and not newest.is_newest(first)
    newest.drop()
    assert not newest.is_newest(second)
