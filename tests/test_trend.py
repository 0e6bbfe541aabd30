"""The severity trend without the model: studies grouped by patient and ordered by date, one image per
study, the change in words judged against the stored "no clear change" limits, and the PDF's trend page."""

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from fakes import synthetic_analysis

from xraydesk.ai.analysis import StudyIdentity
from xraydesk.ai.gate import InputCheck
from xraydesk.ai.lung_check import LungMaskCheck
from xraydesk.ai.model import ModelUnavailableError, default_model_dir
from xraydesk.ai.trend import ChangeLimits, change_lines, patient_trends
from xraydesk.imaging.study_keys import StudyKeys
from xraydesk.imaging.study_order import StudyMoment, header_time
from xraydesk.report import TrendPage, trend_pages, write_summary

LIMITS = ChangeLimits(geographic_extent=0.5, six_zone_score=1.0, p_pneumonia=1.0)


def film(name: str, study_date: str, extent: float = 5.2, zones: int = 3, p: float = 0.9, patient: str = "P7",
         study_uid: str | None = None, study_time: str = "", withheld: bool = False, refused: bool = False):
    """An analysed film of `patient` whose geographic extent, six-zone score and p(pneumonia) are given."""
    study_uid = study_uid or f"1.2.{patient}.{study_date}"
    keys = StudyKeys("Doe^Jane", patient, study_uid, study_date, study_time, "CHEST", modality="DX", study=study_uid)
    identity = StudyIdentity(Path(f"/films/{name}.dcm"), keys, "DICOM")
    analysis = synthetic_analysis(identity.path, p, identity=identity,
                                  check=InputCheck(False, "not a chest") if refused else InputCheck(True),
                                  lung_check=LungMaskCheck(not withheld, "joined" if withheld else ""))
    if refused:
        return analysis
    answer = replace(analysis.prediction, lung_extent=(extent / 2, extent / 2),
                     zone_positive=tuple(zone < zones for zone in range(6)))
    return replace(analysis, prediction=answer)


def two_studies(earlier: dict, later: dict) -> list[str]:
    [trend] = patient_trends([film("b", "20200408", **later), film("a", "20200402", **earlier)]).values()
    return change_lines(trend, LIMITS)


def test_the_change_since_the_prior_names_its_date_the_interval_and_the_direction():
    assert two_studies({"extent": 5.2}, {"extent": 3.1}) == [
        "extent 5.2 → 3.1 since 2020-04-02, 6 days earlier: improving",
        "six-zone score 3 → 3: no clear change",
        "p(pneumonia) 0.90 → 0.90: no clear change"]
    worse = two_studies({"extent": 2.0, "zones": 1, "p": 0.5}, {"extent": 4.0, "zones": 3, "p": 0.9})
    assert worse == ["extent 2.0 → 4.0 since 2020-04-02, 6 days earlier: worse", "six-zone score 1 → 3: worse",
                     "p(pneumonia) 0.50 → 0.90: higher"]  # how likely, not how severe


def test_a_change_below_the_limit_is_no_clear_change_and_one_at_the_limit_is_a_change():
    below = two_studies({"extent": 5.0, "zones": 3}, {"extent": 4.75, "zones": 3})
    assert below[0].endswith(": no clear change")
    at_limit = two_studies({"extent": 5.0, "zones": 3}, {"extent": 4.5, "zones": 2})
    assert at_limit[0].endswith(": improving") and at_limit[1] == "six-zone score 3 → 2: improving"
    # p(pneumonia) is judged as a logit: 0.50 -> 0.70 is 0.85 (no clear change), 0.90 -> 0.97 is 1.28 (a change),
    # and not beyond 0.99: 0.985 -> 0.9999 is 0.42 (no clear change, where the raw logits differ by 5)
    assert two_studies({"p": 0.5}, {"p": 0.7})[2] == "p(pneumonia) 0.50 → 0.70: no clear change"
    assert two_studies({"p": 0.9}, {"p": 0.97})[2] == "p(pneumonia) 0.90 → 0.97: higher"
    assert two_studies({"p": 0.985}, {"p": 0.9999})[2] == "p(pneumonia) 0.98 → > 0.99: no clear change"


def test_a_withheld_severity_is_not_judged_and_a_prior_of_the_same_day_is_hours_earlier():
    lines = change_lines(*patient_trends([film("a", "20200402", study_time="0800", study_uid="1.1"),
                                          film("b", "20200402", study_time="1930", study_uid="1.2",
                                               withheld=True)]).values(), LIMITS)
    assert lines[0] == ("extent 5.2 → withheld since 2020-04-02, 11 h 30 min earlier: not judged "
                        "(severity withheld: lung mask implausible)")
    assert lines[2] == "p(pneumonia) 0.90 → 0.90: no clear change"


def test_studies_of_one_day_are_ordered_by_time_not_uid_and_untimed_ones_have_no_prior_that_day():
    [trend] = patient_trends([film("late", "20200408", extent=3.4, study_time="130800", study_uid="1.1"),
                              film("early", "20200408", extent=5.2, study_time="111200", study_uid="1.9"),
                              film("before", "20200403", extent=4.0, study_uid="1.5")]).values()
    assert [study.analysis.path.stem for study in trend.studies] == ["before", "early", "late"]
    assert change_lines(trend, LIMITS)[0] == "extent 5.2 → 3.4 since 2020-04-08, 1 h 56 min earlier: improving"
    assert change_lines(trend, LIMITS, current=1)[0].startswith("extent 4.0 → 5.2 since 2020-04-03, 5 days earlier")
    [untimed] = patient_trends([film("a", "20200403", study_uid="1.1"), film("b", "20200403", study_uid="1.2"),
                                film("c", "20200408", study_uid="1.3")]).values()
    assert change_lines(untimed, LIMITS, current=1) == [
        "No prior to compare with: the headers do not say which study of 2020-04-03 came first."]
    assert change_lines(untimed, LIMITS, current=2)[0].startswith("extent 5.2 → 5.2 since 2020-04-03, 5 days")


def test_studies_are_grouped_by_patient_and_uid_and_one_image_stands_for_each():
    analyses = [film("a1", "20200402", p=0.6, study_uid="1.1"), film("a2", "20200402", p=0.8, study_uid="1.1"),
                film("a3", "20200402", p=0.99, study_uid="1.1", withheld=True),  # no plausible mask: not chosen
                film("b", "20200405", study_uid="1.2"), film("refused", "20200406", study_uid="1.3", refused=True),
                film("undated", "", study_uid="1.4"),
                film("other", "20200401", patient="P8"), film("anonymous", "20200401", patient="")]
    trends = patient_trends(analyses)
    assert list(trends) == ["P7"]  # P8 has one study; a film without Patient ID joins no trend
    first, second = trends["P7"].studies
    assert first.analysis.path.name == "a2" + ".dcm" and len(first.paths) == 3
    assert second.date.isoformat() == "2020-04-05"
    assert trends["P7"].study_index(Path("/films/a3.dcm")) == 0
    assert change_lines(trends["P7"], LIMITS, current=0) == ["First study of 2: no prior to compare with."]
    assert change_lines(trends["P7"], LIMITS, deidentify=True)[0].startswith("extent 5.2 → 5.2 since day 0, 3 days")


def test_study_dates_and_times_are_read_as_dicom_writes_them():
    assert StudyMoment.parse("20200402", "153025.123").as_datetime().isoformat() == "2020-04-02T15:30:25"
    assert StudyMoment.parse("20200402", "1530").as_datetime().isoformat() == "2020-04-02T15:30:00"
    assert StudyMoment.parse("20200402", "garbage").time is None
    assert StudyMoment.parse("", "1530") is None and StudyMoment.parse("2020-04-02") is None
    # without a Study Time, the image's own time stands in (a DT's time part, without its UTC offset)
    assert header_time({"StudyTime": "1112", "AcquisitionTime": "0900"}) == "1112"
    assert header_time({"AcquisitionDateTime": "20200408130800.5+0100", "ContentTime": "0900"}) == "130800.5"
    assert header_time({}) == ""


def test_the_limits_are_read_from_the_model_metadata_or_their_absence_is_explained():
    shipped = json.loads((default_model_dir() / "xraydesk-cxr.json").read_text())
    limits = ChangeLimits.from_metadata(shipped)
    assert 0 < limits.geographic_extent < 2 and 0 < limits.six_zone_score < 2 and 0 < limits.p_pneumonia < 3
    assert f"extent {limits.geographic_extent:.2f}" in limits.meaning()
    with pytest.raises(ModelUnavailableError, match="no trend limits.*trend_report --write-metadata"):
        ChangeLimits.from_metadata({"name": "old model"})


def pdf_words(path: Path) -> str:
    """The text as laid out (a table row stays one line), runs of white space as one space."""
    return " ".join(subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())


def test_the_trend_page_has_the_chart_table_words_and_notice_and_de_identifies_dates(tmp_path):
    analyses = [film("a", "20200402", extent=5.2), film("b", "20200408", extent=3.1)]
    [page] = trend_pages(analyses, lambda: LIMITS)
    identified = pdf_words(write_summary(tmp_path / "t.pdf", [page], deidentify=False))
    assert "XRayDesk — severity trend" in identified and "Doe^Jane" in identified
    assert "extent 5.2 → 3.1 since 2020-04-02, 6 days earlier: improving" in identified
    assert "2 2020-04-08 1 0.90" in identified and "3.1 / 8 current" in identified  # the table, latest first
    assert "No clear change" in identified and "Research use only" in identified
    deidentified = pdf_words(write_summary(tmp_path / "d.pdf", [TrendPage(page.trend, LIMITS)]))
    assert "extent 5.2 → 3.1 since day 0, 6 days earlier: improving" in deidentified
    for identifying in ("Doe", "P7", "2020"):
        assert identifying not in deidentified


def test_no_trend_page_without_two_studies_and_no_limits_asked_for():
    def no_limits():
        raise AssertionError("limits read without a trend")

    assert trend_pages([film("a", "20200402"), film("other", "20200403", patient="P8")], no_limits) == []
