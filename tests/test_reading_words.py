"""The words the dock, the worklist and the PDF share (Qt-free): the pneumonia call and its borderline
band, the RSNA COVID-19 categories, the flags in words, the Toussie note only where it applies, and
severity withheld when the lung mask is implausible."""

from pathlib import Path

import numpy as np
import pytest
from fakes import OPERATING_POINTS, lungs_224, prediction, synthetic_analysis

from xraydesk.ai.analysis import Analyser
from xraydesk.ai.words import (
    ATYPICAL,
    FLAG_WORDS,
    INDETERMINATE_APPEARANCE,
    NEGATIVE_FOR_PNEUMONIA,
    POSITIVE_NO_ZONES,
    SIX_ZONE_EVIDENCE,
    TYPICAL,
    covid_category,
    evidence_note,
    flag_statements,
    severity_lines,
    six_zone_words,
    worklist_status,
)
from xraydesk.ai.gate import InputCheck
from xraydesk.ai.lung_check import LungMaskCheck
from xraydesk.ai.model import FLAGS, Outcome
from xraydesk.imaging import XRayImage

IMPLAUSIBLE = LungMaskCheck(False, "two components covering 5.6% of the image")
UNFAMILIAR = InputCheck(True, unfamiliar="unfamiliar image: lower confidence — features unlike the training films "
                                         "(distance 41.2 > 35.0)")


def analysis_of(p_pneumonia=0.9, causes=(0.2, 0.7, 0.1), zones=(0.9, 0.8, 0.2, 0.1, 0.3, 0.6), **options):
    return synthetic_analysis(Path("a.dcm"), answer=prediction(p_pneumonia, causes, zones), **options)


def zones_with(positive: int) -> tuple[float, ...]:
    return tuple(0.9 if index < positive else 0.1 for index in range(6))


@pytest.mark.parametrize("p_pneumonia", [0.46, 0.49, 0.5, 0.54])  # the fakes' band is [0.45, 0.55) around 0.5
def test_inside_the_borderline_band_the_call_is_indeterminate_with_its_numbers(p_pneumonia):
    analysis = analysis_of(p_pneumonia)
    assert analysis.reading == f"Indeterminate for pneumonia — p = {p_pneumonia:.2f}, threshold 0.50."
    assert "likely" not in analysis.reading and "No pneumonia" not in analysis.reading
    assert worklist_status(analysis) == "Indeterminate for pneumonia; in the borderline band"
    assert flag_statements(analysis) == [f"p(pneumonia) {p_pneumonia:.2f} lies in the borderline band 0.45-0.55 "
                                         "around the operating point 0.50: no call is made on it."]


@pytest.mark.parametrize("p_pneumonia, call", [(0.44, "Pneumonia unlikely"), (0.56, "Pneumonia likely")])
def test_outside_the_band_the_call_is_made(p_pneumonia, call):
    analysis = analysis_of(p_pneumonia)
    assert analysis.reading.startswith(f"{call} — p = {p_pneumonia:.2f}, threshold 0.50")
    assert worklist_status(analysis) == call and analysis.flags == ()


@pytest.mark.parametrize("p_pneumonia, causes, category", [
    (0.2, (0.2, 0.7, 0.1), NEGATIVE_FOR_PNEUMONIA),  # pneumonia unlikely
    (0.5, (0.0, 0.0, 1.0), INDETERMINATE_APPEARANCE),  # pneumonia borderline, whatever the COVID-19 output
    (0.9, (0.1, 0.1, 0.8), TYPICAL),  # p(COVID-19) 0.72: above its band
    (0.9, (0.15, 0.15, 0.7), INDETERMINATE_APPEARANCE),  # 0.63: above the operating point, inside its band
    (0.9, (0.2, 0.4, 0.4), INDETERMINATE_APPEARANCE),  # 0.36: below the band, above the atypical point 0.3
    (0.9, (0.6, 0.3, 0.1), ATYPICAL),  # 0.09
])
def test_covid_19_is_reported_in_the_rsna_consensus_categories(p_pneumonia, causes, category):
    assert covid_category(prediction(p_pneumonia, causes), OPERATING_POINTS) == category


def test_the_four_categories_are_worded_as_published():
    assert {TYPICAL, INDETERMINATE_APPEARANCE, ATYPICAL, NEGATIVE_FOR_PNEUMONIA} == {
        "Typical appearance for COVID-19 pneumonia", "Indeterminate appearance for COVID-19 pneumonia",
        "Atypical appearance for COVID-19 pneumonia", "Negative for pneumonia"}


@pytest.mark.parametrize("positive, shown", [(0, False), (1, False), (2, True), (3, True), (6, True)])
def test_the_toussie_note_only_at_a_six_zone_score_of_two_or_more(positive, shown):
    analysis = analysis_of(zones=zones_with(positive))
    assert analysis.prediction.six_zone_score == positive
    assert evidence_note(analysis) == (SIX_ZONE_EVIDENCE if shown else None)


def test_the_toussie_note_is_published_evidence_not_a_prediction():
    assert SIX_ZONE_EVIDENCE.startswith("Published evidence, not a prediction for this patient (Toussie et al.")


def test_a_positive_call_without_a_positive_zone_is_explained():
    analysis = analysis_of(0.9, zones=zones_with(0))
    assert analysis.flags == ("positive_no_zones",)
    assert flag_statements(analysis) == [POSITIVE_NO_ZONES]
    assert worklist_status(analysis) == "Pneumonia likely; no zone positive"
    assert "positive_no_zones" not in analysis_of(0.9, zones=zones_with(1)).flags
    assert "positive_no_zones" not in analysis_of(0.5, zones=zones_with(0)).flags  # borderline: no call to explain


def test_an_implausible_lung_mask_withholds_zones_score_extent_and_opacity_and_says_why():
    analysis = analysis_of(zones=zones_with(6), lung_check=IMPLAUSIBLE)
    assert analysis.severity_withheld and analysis.flags == ("lung_mask_failed",)
    assert severity_lines(analysis) == [] and evidence_note(analysis) is None
    assert six_zone_words(analysis) == "Six-zone score: withheld (lung mask implausible)"
    assert flag_statements(analysis) == ["Lung mask implausible (two components covering 5.6% of the image): zones, "
                                         "six-zone score, extent and opacity are withheld."]
    assert "positive_no_zones" not in analysis_of(zones=zones_with(0), lung_check=IMPLAUSIBLE).flags


def test_severity_shows_extent_and_opacity_per_lung_and_summed():
    analysis = analysis_of()  # the fakes: extent right 1.8, left 1.4; opacity right 1.2, left 0.9
    assert six_zone_words(analysis) == "Six-zone score: 3 / 6"
    assert severity_lines(analysis) == ["Geographic extent: 3.2 / 8   (right 1.8, left 1.4; 0-4 each)",
                                        "Degree of opacity: 2.1 / 8   (right 1.2, left 0.9; 0-4 each)"]


def test_an_unfamiliar_image_says_why_its_confidence_is_lower():
    analysis = analysis_of(check=UNFAMILIAR)
    assert flag_statements(analysis) == ["Unfamiliar image: lower confidence — features unlike the training films "
                                         "(distance 41.2 > 35.0)."]
    assert worklist_status(analysis) == "Pneumonia likely; unfamiliar image"


def test_flags_come_in_the_contracts_order_each_with_words():
    analysis = analysis_of(0.5, causes=(0.0, 0.0, 1.0), check=UNFAMILIAR, lung_check=IMPLAUSIBLE)
    assert analysis.flags == ("unfamiliar", "lung_mask_failed", "borderline_pneumonia")
    assert [statement.split()[0] for statement in flag_statements(analysis)] == ["Unfamiliar", "Lung", "p(pneumonia)"]
    assert set(FLAG_WORDS) == set(FLAGS)


def test_the_analyser_carries_the_lung_check_of_the_outcome():
    class StubModel:
        version = "Stub CXR 0.3.0"
        metadata = {"operating_points": OPERATING_POINTS}

        def analyse_inputs(self, inputs, checks):
            return [Outcome(checks[0], prediction(), lungs_224() / 255.0, IMPLAUSIBLE)]

    class StubGradCam:
        def heatmaps(self, inputs, target):
            return np.zeros((len(inputs), 7, 7), np.float32)

    analyser = Analyser()
    analyser._model, analyser._gradcam = StubModel(), StubGradCam()  # loaded: no model files needed
    image = XRayImage(path=Path("a.png"), pixels=np.tile(np.arange(256, dtype=np.float32), (256, 1)),
                      source_format="PNG", bits_stored=8)
    analysis = analyser.analyse(image)
    assert analysis.lung_check == IMPLAUSIBLE and analysis.flags == ("lung_mask_failed",)
