"""The AI node's result read back (xraydesk.dicom_results.node_result): the SR the node writes for a real
analysis of a shared RSNA film gives back the same answer, probabilities (to the SR's four decimals),
rule-out, zones, extent and lung-mask refusal, with the SR's date and time; only for XRayDesk's SR of that
image by the same model version."""

from dataclasses import replace
from datetime import datetime

import pydicom
import pytest

from xraydesk.ai.analysis import Analyser
from xraydesk.ai.words import answer
from xraydesk.dicom_results.node_result import read_node_result
from xraydesk.dicom_results.structured_report import structured_report
from xraydesk.imaging import load_image

FILMS = ("0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm",  # analysed, zones and severity shown
         "01b9e362-4950-40f5-88fa-7557ac2a45bb.dcm")  # its lung mask fails the check: severity withheld


@pytest.fixture(scope="module")
def analysed(dicom_dir):
    analyser = Analyser()
    images = [load_image(dicom_dir / "rsna" / name) for name in FILMS]
    return [(image, analyser.analyse(image)) for image in images]


def read_back(image, analysis, version=None):
    report = structured_report(analysis, image.dataset)
    return report, read_node_result(report, analysis.identity, image.dataset.SOPInstanceUID,
                                    version or analysis.model_version, analysis.operating_points)


@pytest.mark.parametrize("film", range(len(FILMS)))
def test_the_nodes_sr_reads_back_as_the_analysis_it_was_made_from(analysed, film):
    image, original = analysed[film]
    report, back = read_back(image, original)
    made, got = original.prediction, back.prediction
    assert answer(got) == answer(made) and back.check == original.check and back.flags == original.flags
    for name in ("p_abnormal", "p_pneumonia", "p_bacterial", "p_viral", "p_covid"):
        assert getattr(got, name) == round(getattr(made, name), 4)
    for name in ("pneumonia_positive", "pneumonia_borderline", "abnormal_positive", "abnormal_borderline",
                 "covid_positive", "covid_borderline", "normal_ruleout"):
        assert getattr(got, name) == getattr(made, name), name
    assert back.lung_check == original.lung_check and back.severity_withheld == original.severity_withheld
    if not original.severity_withheld:
        assert got.zone_probabilities == tuple(round(p, 4) for p in made.zone_probabilities)
        assert got.zone_positive == made.zone_positive and got.six_zone_score == made.six_zone_score
        assert got.lung_extent == tuple(round(v, 2) for v in made.lung_extent)
        assert got.lung_opacity == tuple(round(v, 2) for v in made.lung_opacity)
    assert back.from_node_at == datetime.strptime(f"{report.ContentDate}{report.ContentTime}", "%Y%m%d%H%M%S.%f")
    assert back.lacks_maps and not back.heatmaps  # the maps are computed when shown


def test_a_result_of_another_model_version_or_image_or_maker_is_not_read(analysed, tmp_path):
    image, original = analysed[0]
    _, other_version = read_back(image, original, version="XRayDesk CXR 0.0.1")
    assert other_version is None
    report = structured_report(original, image.dataset)
    assert read_node_result(report, original.identity, "1.2.3.4", original.model_version,
                            original.operating_points) is None
    report.Manufacturer = "Another AI"
    report.save_as(tmp_path / "other.dcm")
    assert read_node_result(pydicom.dcmread(tmp_path / "other.dcm"), original.identity,
                            image.dataset.SOPInstanceUID, original.model_version, original.operating_points) is None


def test_a_refusal_reads_back_as_a_refusal(analysed):
    image, original = analysed[0]
    refused = replace(original, check=replace(original.check, accepted=False, reason="view position LL is lateral"),
                      prediction=None, heatmaps={}, lung_probability=None)
    _, back = read_back(image, refused)
    assert back.prediction is None and back.check.reason == "view position LL is lateral"
    assert not back.lacks_maps
