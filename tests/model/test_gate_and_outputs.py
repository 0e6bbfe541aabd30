import numpy as np
import pytest

from xraydesk.ai import gate
from xraydesk.ai.lung_check import PLAUSIBLE, LungMaskCheck
from xraydesk.ai.model import calibrated_probabilities, outcome_flags, predictions
from xraydesk.ai.preprocess import to_model_input

METADATA = {
    "temperatures": {"abnormal": 1.2, "pneumonia": 1.5, "cause": 2.0, "zones": 1.0},
    "operating_points": {"normal_ruleout": {"threshold": 0.05},
                         "abnormal": {"threshold": 0.6, "band": [0.55, 0.65]},
                         "pneumonia": {"threshold": 0.3, "band": [0.25, 0.36]},
                         "covid": {"threshold": 0.4, "band": [0.35, 0.45]},
                         "zone": {"threshold": 0.5}},
}
LIMITS = {"reconstruction_error_max": 0.2, "reconstruction_error_unfamiliar": 0.1,
          "embedding_distance_max": 30.0, "embedding_distance_unfamiliar": 15.0}


def _raw(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return {"abnormal": rng.normal(0, 3, (n, 1)), "pneumonia": rng.normal(0, 3, (n, 1)),
            "cause": rng.normal(0, 3, (n, 3)),
            "zones": rng.normal(0, 3, (n, 6)), "lung_extent": rng.normal(0, 3, (n, 2)),
            "lung_opacity": rng.normal(0, 3, (n, 2))}


def test_three_answers_are_coherent_and_respect_operating_points():
    for prediction in predictions(_raw(50), METADATA):
        causes = prediction.p_bacterial + prediction.p_viral + prediction.p_covid
        assert causes == pytest.approx(prediction.p_pneumonia)
        assert prediction.p_abnormal >= prediction.p_pneumonia  # a pneumonia is an abnormality
        assert prediction.p_normal == pytest.approx(1 - prediction.p_abnormal)
        assert prediction.abnormal_positive == (prediction.p_abnormal >= 0.6)
        assert prediction.normal_ruleout == (prediction.p_abnormal < 0.05 and prediction.p_pneumonia < 0.25)
        assert prediction.pneumonia_positive == (prediction.p_pneumonia >= 0.3)
        assert prediction.covid_positive == (prediction.p_covid >= 0.4)
        assert prediction.pneumonia_borderline == (0.25 <= prediction.p_pneumonia < 0.36)
        assert prediction.six_zone_score == sum(p >= 0.5 for p in prediction.zone_probabilities)
        assert all(0 <= value <= 4 for value in (*prediction.lung_extent, *prediction.lung_opacity))
        assert prediction.geographic_extent == pytest.approx(sum(prediction.lung_extent))


def test_a_chest_film_unlike_the_training_data_is_analysed_with_a_flag():
    unfamiliar = gate.check_learned(0.05, 20.0, LIMITS)
    assert unfamiliar.accepted and unfamiliar.unfamiliar.startswith("unfamiliar image: what the network sees")
    assert "(score 20.0, limit 15.0)" in unfamiliar.unfamiliar
    assert gate.check_learned(0.05, 10.0, LIMITS) == gate.ACCEPTED
    # carried through the other checks, and raised as a flag beside the prediction
    combined = gate.first_refusal(gate.ACCEPTED, unfamiliar, gate.ACCEPTED)
    assert combined.accepted and combined.unfamiliar == unfamiliar.unfamiliar
    prediction = predictions(_raw(1), METADATA)[0]
    assert "unfamiliar" in outcome_flags(combined, prediction, PLAUSIBLE)


@pytest.mark.parametrize("error, distance, fragment", [(0.3, 10.0, "reconstruction"), (0.05, 40.0, "feature distance")])
def test_only_scores_beyond_every_chest_film_refuse(error, distance, fragment):
    check = gate.check_learned(error, distance, LIMITS)
    assert not check.accepted and fragment in check.reason
    assert gate.first_refusal(gate.check_learned(0.05, 20.0, LIMITS), check) == check


def test_flags_name_what_a_reader_must_know():
    raw = {name: np.zeros_like(value[:1]) for name, value in _raw().items()}
    raw["pneumonia"][:] = 4.0  # clearly positive
    raw["zones"][:] = -4.0  # and no zone above its operating point
    raw["lung_extent"][:] = -4.0  # nor any extent to disagree with the zones
    prediction = predictions(raw, METADATA)[0]
    assert outcome_flags(gate.ACCEPTED, prediction, PLAUSIBLE) == ("positive_no_zones",)
    failed = LungMaskCheck(False, "lung mask implausible")
    assert outcome_flags(gate.ACCEPTED, prediction, failed) == ("lung_mask_failed",)
    raw["pneumonia"][:] = np.log(0.3 / 0.7) * 1.5  # p = 0.30 after temperature 1.5: inside the band
    assert "borderline_pneumonia" in outcome_flags(gate.ACCEPTED, predictions(raw, METADATA)[0], PLAUSIBLE)
    assert outcome_flags(gate.InputCheck(False, "refused"), None, PLAUSIBLE) == ()


def test_temperature_changes_confidence_not_ranking():
    raw = _raw(50)
    cooler = calibrated_probabilities(raw, METADATA)["pneumonia"]
    plain = calibrated_probabilities(raw, {"temperatures": {"abnormal": 1, "pneumonia": 1, "cause": 1,
                                                            "zones": 1}})["pneumonia"]
    assert np.array_equal(np.argsort(cooler), np.argsort(plain))
    assert np.abs(cooler - 0.5).max() < np.abs(plain - 0.5).max()


@pytest.mark.parametrize("modality, body_part, view, fragment", [
    ("CT", "CHEST", "", "modality CT"),
    ("MR", "", "", "modality MR"),
    ("CR", "HIP", "AP", "body part examined is HIP"),
    ("DX", "CHEST", "LL", "lateral"),
])
def test_header_check_refuses_non_chest_studies(modality, body_part, view, fragment):
    check = gate.check_header(modality, body_part, view)
    assert not check.accepted and fragment in check.reason


@pytest.mark.parametrize("modality, body_part, view", [("CR", "CHEST", "PA"), ("DX", "", "AP"), ("", "", "")])
def test_header_check_accepts_frontal_chest_and_plain_images(modality, body_part, view):
    assert gate.check_header(modality, body_part, view).accepted


def test_pixel_check_refuses_blank_and_noise_but_not_smooth_images():
    rng = np.random.default_rng(0)
    blank = to_model_input(np.full((300, 300), 90, np.uint8))
    noise = to_model_input(rng.integers(0, 256, (224, 224), dtype=np.uint8))
    yy, xx = np.mgrid[0:300, 0:300]
    smooth = to_model_input((127 + 100 * np.sin(xx / 30.0) * np.cos(yy / 40.0)).astype(np.uint8))
    assert "blank" in gate.check_pixels(blank).reason
    assert "noise" in gate.check_pixels(noise).reason
    assert gate.check_pixels(smooth).accepted


def test_colour_and_tiny_images_are_refused():
    assert "colour" in gate.check_color(True).reason
    assert gate.check_color(False).accepted
    assert "too small" in gate.check_size(64, 64).reason
    assert gate.check_size(1024, 800).accepted
