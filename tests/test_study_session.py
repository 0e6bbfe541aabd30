"""The Qt-free study model: a patient's studies and priors, the shared decoded-image cache, read marks."""

from pathlib import Path

import numpy as np

from xraydesk.events import NewestWins
from xraydesk.imaging import IMAGE, ImageDisplay, ScanEntry, XRayImage
from xraydesk.imaging.session import StudySession
from xraydesk.imaging.study_keys import StudyKeys


def image_entry(name: str, patient_id: str, study_uid: str, study_date: str) -> ScanEntry:
    keys = StudyKeys(patient_id=patient_id, study_uid=study_uid, study_date=study_date, series_uid=f"{study_uid}.1",
                     study=study_uid)
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


def test_an_image_without_patient_id_or_date_has_no_prior():
    session = session_with(image_entry("x1", "", "9.1", "20200401"), image_entry("x2", "", "9.2", "20200405"),
                           image_entry("u1", "P3", "3.1", ""))
    assert session.prior_studies(Path("/studies/x2.dcm")) == []
    assert session.prior_studies(Path("/studies/u1.dcm")) == []


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


def test_newest_wins():
    newest = NewestWins()
    first = newest.take()
    second = newest.take()
    assert newest.is_newest(second) and not newest.is_newest(first)
    newest.drop()
    assert not newest.is_newest(second)
