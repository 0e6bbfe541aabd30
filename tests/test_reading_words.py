"""The words every surface shares (Qt-free, xraydesk.ai.words): the three answers and the two honest
in-betweens, the rule-out, the borderline band, cause words only where validated, the RSNA COVID-19
categories from the opacity call first, the flags in words, the Toussie note only where its population fits."""

from pathlib import Path

import numpy as np
import pytest
from fakes import OPERATING_POINTS, lungs_224, prediction, synthetic_analysis

from xraydesk.ai import gate
from xraydesk.ai.analysis import Analyser, StudyIdentity
from xraydesk.ai.gate import InputCheck
from xraydesk.ai.lung_check import LungMaskCheck
from xraydesk.ai.model import FLAGS, Outcome
from xraydesk.ai.words import (
    ATYPICAL,
    CAUSE_TOO_CLOSE,
    FLAG_WORDS,
    INDETERMINATE,
    INDETERMINATE_APPEARANCE,
    NEGATIVE_FOR_PNEUMONIA,
    NO_ABNORMALITY,
    NO_CATEGORY_COVID_BORDERLINE,
    NO_CATEGORY_OPACITY_BORDERLINE,
    NO_CAUSE_IN_ADULTS,
    NOT_CLEARED,
    OTHER_ABNORMAL,
    PNEUMONIA_LIKELY,
    POSITIVE_NO_ZONES,
    SIX_ZONE_EVIDENCE,
    TYPICAL,
    ZONES_WITHOUT_CALL,
    answer,
    call,
    cause_column,
    covid_category,
    evidence_note,
    flag_statements,
    is_flagged,
    probability,
    reading,
    severity_lines,
    six_zone_words,
    worklist_priority,
    worklist_status,
)
from xraydesk.imaging import XRayImage

IMPLAUSIBLE = LungMaskCheck(False, "two components covering 5.6% of the image")
UNFAMILIAR = InputCheck(True, unfamiliar="unfamiliar image: lower confidence — features unlike the training films "
                                         "(distance 41.2 > 35.0)")


def analysis_of(p_pneumonia=0.9, causes=(0.2, 0.7, 0.1), zones=(0.9, 0.8, 0.2, 0.1, 0.3, 0.6), p_abnormal=None,
                age=None, **options):
    identity = StudyIdentity(Path("a.dcm"), patient_age=age)
    return synthetic_analysis(Path("a.dcm"), answer=prediction(p_pneumonia, causes, zones, p_abnormal),
                              identity=identity, **options)


def zones_with(positive: int) -> tuple[float, ...]:
    return tuple(0.9 if index < positive else 0.1 for index in range(6))


NO_ZONES = zones_with(0)


@pytest.mark.parametrize("p_pneumonia", [0.46, 0.49, 0.5, 0.54])  # the fakes' band is [0.45, 0.55) around 0.5
def test_inside_the_borderline_band_the_call_is_indeterminate_with_its_numbers(p_pneumonia):
    analysis = analysis_of(p_pneumonia)
    assert reading(analysis) == (f"Indeterminate for pneumonia-like opacity — p(pneumonia-like opacity) = "
                                f"{p_pneumonia:.2f}, inside the borderline band 0.45-0.55.")
    assert "likely" not in reading(analysis) and "No abnormality" not in reading(analysis)
    assert worklist_status(analysis) == "Indeterminate for pneumonia-like opacity; in the borderline band"
    assert flag_statements(analysis) == [f"p(pneumonia-like opacity) {p_pneumonia:.2f} lies in the borderline band "
                                         "0.45-0.55 around the operating point 0.50: no call is made on it."]


@pytest.mark.parametrize("p_pneumonia, p_abnormal, said", [
    (0.9, None, PNEUMONIA_LIKELY),
    (0.5, None, INDETERMINATE),
    (0.2, 0.9, OTHER_ABNORMAL),  # abnormal above its band, no opacity
    (0.2, 0.6, NOT_CLEARED),  # abnormal inside its band: neither called nor cleared
    (0.2, 0.3, NOT_CLEARED),  # below the abnormal point, above the rule-out point
    (0.05, 0.08, NO_ABNORMALITY),  # below the rule-out point 0.1
    (0.3, 0.3, NOT_CLEARED),  # p(abnormal) is never below p(pneumonia)
])
def test_three_answers_and_two_honest_in_betweens(p_pneumonia, p_abnormal, said):
    analysis = analysis_of(p_pneumonia, p_abnormal=p_abnormal, zones=NO_ZONES)
    assert answer(analysis.prediction) == said
    assert reading(analysis).startswith(said + " — ")
    assert call(analysis) == said


def test_normal_means_no_abnormality_never_only_no_pneumonia():
    analysis = analysis_of(0.05, p_abnormal=0.95, zones=NO_ZONES)
    assert analysis.prediction.p_normal == pytest.approx(0.05)
    assert answer(analysis.prediction) == OTHER_ABNORMAL
    assert "cannot say what the abnormality is" in reading(analysis)
    assert "No abnormality" not in reading(analysis)


def test_a_film_is_cleared_only_below_the_rule_out_point_and_says_so():
    cleared = analysis_of(0.02, p_abnormal=0.05, zones=NO_ZONES)
    assert cleared.prediction.normal_ruleout
    assert reading(cleared) == ("No abnormality found — p(abnormal) = 0.05, below the rule-out point 0.10 "
                               "(set on validation films to keep >= 98% sensitivity to any abnormality with 95% "
                               "confidence; a research figure, not triage).")
    assert not analysis_of(0.02, p_abnormal=0.11, zones=NO_ZONES).prediction.normal_ruleout


def test_cleared_films_sort_after_every_other_analysed_film_but_before_refused_ones():
    cleared = analysis_of(0.02, p_abnormal=0.05, zones=NO_ZONES)
    not_cleared = analysis_of(0.02, p_abnormal=0.2, zones=NO_ZONES)
    refused = analysis_of(check=InputCheck(False, "not a chest X-ray"))
    assert worklist_priority(not_cleared) > worklist_priority(cleared) > worklist_priority(refused)
    assert worklist_status(cleared).startswith(NO_ABNORMALITY)
    assert not is_flagged(cleared) and is_flagged(analysis_of(0.2, p_abnormal=0.9, zones=NO_ZONES))


@pytest.mark.parametrize("age, words", [
    (None, NO_CAUSE_IN_ADULTS), (40, NO_CAUSE_IN_ADULTS), (3, "Pattern more like viral than bacterial pneumonia")])
def test_bacterial_or_viral_is_named_only_in_children(age, words):
    analysis = analysis_of(causes=(0.2, 0.7, 0.1), age=age)
    assert words in reading(analysis)


def test_no_cause_words_inside_the_margin():
    close = analysis_of(causes=(0.25, 0.26, 0.49), age=3)
    assert CAUSE_TOO_CLOSE in reading(close) and "more like" not in reading(close)
    assert cause_column(close) == "cannot be told"
    assert cause_column(analysis_of(causes=(0.7, 0.2, 0.1), age=3)) == "Bacterial"


@pytest.mark.parametrize("value, shown", [(0.998, "> 0.99"), (1.0, "> 0.99"), (0.004, "< 0.01"), (0.5, "0.50")])
def test_probabilities_never_claim_certainty(value, shown):
    assert probability(value) == shown


@pytest.mark.parametrize("p_pneumonia, causes, p_abnormal, category", [
    (0.2, (0.2, 0.7, 0.1), None, NEGATIVE_FOR_PNEUMONIA),  # no opacity called
    (0.01, (0.0, 0.0, 1.0), 0.02, NEGATIVE_FOR_PNEUMONIA),  # no opacity, whatever p(COVID-19) says
    (0.2, (0.0, 0.0, 1.0), 0.9, NEGATIVE_FOR_PNEUMONIA),  # abnormal without opacity
    (0.5, (0.0, 0.0, 1.0), None, NO_CATEGORY_OPACITY_BORDERLINE),  # the opacity call itself is borderline
    (0.9, (0.1, 0.1, 0.8), None, TYPICAL),  # p(COVID-19) 0.72: above its band
    (0.9, (0.15, 0.15, 0.7), None, NO_CATEGORY_COVID_BORDERLINE),  # 0.63: inside its band
    (0.9, (0.2, 0.4, 0.4), None, INDETERMINATE_APPEARANCE),  # 0.36: below the band, above the atypical point 0.3
    (0.9, (0.6, 0.3, 0.1), None, ATYPICAL),  # 0.09
])
def test_covid_19_categories_follow_the_opacity_call_first(p_pneumonia, causes, p_abnormal, category):
    assert covid_category(prediction(p_pneumonia, causes, p_abnormal=p_abnormal), OPERATING_POINTS) == category


def test_the_four_categories_are_worded_as_published():
    assert {TYPICAL, INDETERMINATE_APPEARANCE, ATYPICAL, NEGATIVE_FOR_PNEUMONIA} == {
        "Typical appearance for COVID-19 pneumonia", "Indeterminate appearance for COVID-19 pneumonia",
        "Atypical appearance for COVID-19 pneumonia", "Negative for pneumonia"}


@pytest.mark.parametrize("positive, shown", [(0, False), (1, False), (2, True), (3, True), (6, True)])
def test_the_toussie_note_only_at_a_six_zone_score_of_two_or_more(positive, shown):
    analysis = analysis_of(zones=zones_with(positive), age=35)
    assert analysis.prediction.six_zone_score == positive
    assert evidence_note(analysis) == (SIX_ZONE_EVIDENCE if shown else None)


@pytest.mark.parametrize("age", [None, 58, 12])
def test_the_toussie_note_only_where_its_population_fits(age):
    assert evidence_note(analysis_of(zones=zones_with(4), age=age)) is None


def test_the_toussie_note_is_published_evidence_and_names_its_population():
    assert SIX_ZONE_EVIDENCE.startswith("Published evidence, not a prediction for this patient: in adults aged 21-50 "
                                        "with COVID-19 (Toussie et al.")


def test_a_positive_call_without_a_positive_zone_is_explained():
    analysis = analysis_of(0.9, zones=zones_with(0))
    assert analysis.flags == ("positive_no_zones",)
    assert flag_statements(analysis) == [POSITIVE_NO_ZONES]
    assert worklist_status(analysis) == "Pneumonia-like opacity likely; no zone positive"
    assert "positive_no_zones" not in analysis_of(0.9, zones=zones_with(1)).flags
    assert "positive_no_zones" not in analysis_of(0.5, zones=zones_with(0)).flags  # borderline: no call to explain


def test_a_zone_without_a_call_and_an_extent_without_zones_are_explained():
    zone_only = analysis_of(0.2, zones=zones_with(1))
    assert "zones_without_call" in zone_only.flags and ZONES_WITHOUT_CALL in flag_statements(zone_only)
    extent_only = analysis_of(0.9, zones=zones_with(1))  # the fakes' extent 3.2 / 8 vs 1 / 6 zones: 0.40 apart
    assert "extent_disagrees_with_zones" not in extent_only.flags
    assert "extent_disagrees_with_zones" in analysis_of(0.2, zones=zones_with(6)).flags  # 3.2 / 8 vs 6 / 6


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
    assert six_zone_words(analysis) == "Six-zone score: 3 / 6 (a zone counts at p >= 0.50)"
    assert severity_lines(analysis) == ["Geographic extent: 3.2 / 8   (right 1.8, left 1.4; 0-4 each)",
                                        "Degree of opacity: 2.1 / 8   (right 1.2, left 0.9; 0-4 each)"]


def test_an_unfamiliar_image_says_in_words_what_is_unlike_and_how_much_to_trust():
    check = gate.check_learned(0.01, 13.0, {"reconstruction_error_max": 0.08, "reconstruction_error_unfamiliar": 0.06,
                                            "embedding_distance_max": 15.0, "embedding_distance_unfamiliar": 12.7})
    analysis = analysis_of(check=check)
    [statement] = flag_statements(analysis)
    assert statement.startswith("Unfamiliar image: what the network sees in it is unlike 99 in 100 of the "
                                "validation chest films")
    assert "weaker hint than usual" in statement and "distance" not in statement
    assert worklist_status(analysis) == "Pneumonia-like opacity likely; unfamiliar image"


def test_flags_come_in_the_contracts_order_each_with_words():
    analysis = analysis_of(0.5, causes=(0.0, 0.0, 1.0), check=UNFAMILIAR, lung_check=IMPLAUSIBLE)
    assert analysis.flags == ("unfamiliar", "lung_mask_failed", "borderline_pneumonia")
    assert [statement.split()[0] for statement in flag_statements(analysis)] == [
        "Unfamiliar", "Lung", "p(pneumonia-like"]
    assert set(FLAG_WORDS) == set(FLAGS)


def test_the_analyser_carries_the_lung_check_of_the_outcome():
    class StubModel:
        version = "Stub CXR 0.3.0"
        metadata = {"operating_points": OPERATING_POINTS}

        def analyse_inputs(self, inputs, checks):
            return [Outcome(checks[0], prediction(), lungs_224() / 255.0, IMPLAUSIBLE, np.zeros((14, 14)))]

    class StubGradCam:
        def heatmaps(self, inputs, target):
            return np.zeros((len(inputs), 7, 7), np.float32)

    analyser = Analyser()
    analyser._model, analyser._gradcam = StubModel(), StubGradCam()  # loaded: no model files needed
    image = XRayImage(path=Path("a.png"), pixels=np.tile(np.arange(256, dtype=np.float32), (256, 1)),
                      source_format="PNG", bits_stored=8)
    analysis = analyser.analyse(image)
    assert analysis.lung_check == IMPLAUSIBLE and analysis.flags == ("lung_mask_failed",)
