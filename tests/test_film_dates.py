"""Dates for PNG/JPEG serial films (xraydesk.imaging.session.date_films, Reading.date_films), without Qt: films
without dates cannot be ordered; dated by the reader (one day apart by default, in file-name order) they
become one patient's studies, which compare and the trend order, and the files are never written."""

import datetime

import numpy as np
import pytest
from fakes import FakeAnalyser, synthetic_analysis
from PIL import Image

from xraydesk.ai.analysis import StudyIdentity
from xraydesk.ai.trend import patient_trends
from xraydesk.imaging import IMAGE, scan_paths
from xraydesk.imaging.session import decode, default_film_dates
from xraydesk.reading import Reading


@pytest.fixture
def films(tmp_path):
    folder = tmp_path / "patient-7"
    folder.mkdir()
    for name in ("film-c.png", "film-a.png", "film-b.png"):
        Image.fromarray(np.full((32, 32), 100, np.uint8)).save(folder / name)
    return folder


def opened(films) -> Reading:
    reading = Reading(FakeAnalyser())
    for entry in scan_paths([films]):
        reading.session.add(entry)
    return reading


def test_default_dates_are_a_day_apart_in_file_name_order(films):
    reading = opened(films)
    plain = reading.session.plain_films()
    assert [path.name for path in plain] == ["film-a.png", "film-b.png", "film-c.png"]
    assert list(default_film_dates(plain, datetime.date(2024, 3, 2)).values()) == ["20240229", "20240301", "20240302"]


def test_dated_films_are_one_patients_studies_for_compare_and_the_trend_and_files_stay_untouched(films):
    reading = opened(films)
    session = reading.session
    a, b, c = session.plain_films()
    before = {path: path.read_bytes() for path in (a, b, c)}
    for path in (a, b, c):  # analysed before the dates were set: no patient, no trend
        reading.keep(synthetic_analysis(path, 0.9, identity=StudyIdentity.of(decode(path).image)))
    assert not patient_trends(list(reading.analyses.values())) and not session.prior_studies(c)
    session.keep(decode(c))  # on screen, cached

    reading.date_films({c: "20240110", a: "20240101", b: "20240105"})
    assert [study.study_date for study in session.prior_studies(c)] == ["20240105", "20240101"]
    [trend] = patient_trends(list(reading.analyses.values())).values()
    assert [point.paths for point in trend.studies] == [(a,), (b,), (c,)]
    assert session.cached(c).image.keys.study_date == "20240110"
    assert session.entry(a).keys.patient_name == "patient-7"
    later = decode(b)  # decoded again after dating (the cache had lost it): it keeps its date
    assert session.keep(later).image.keys.study_date == "20240105"
    assert before == {path: path.read_bytes() for path in (a, b, c)}
    assert [entry.path for entry in scan_paths([films]) if entry.kind == IMAGE and entry.keys.study_date] == []
