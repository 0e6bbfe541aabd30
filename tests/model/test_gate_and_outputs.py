import numpy as np
import pytest

from xraydesk.ai import gate
from xraydesk.ai.model import calibrated_probabilities, predictions
from xraydesk.ai.preprocess import to_model_input

METADATA = {
    "temperatures": {"pneumonia": 1.5, "cause": 2.0, "zones": 1.0},
    "operating_points": {"pneumonia": {"threshold": 0.3}, "covid": {"threshold": 0.4},
                         "zone": {"threshold": 0.5}},
}


def _raw(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return {"pneumonia": rng.normal(0, 3, (n, 1)), "cause": rng.normal(0, 3, (n, 3)),
            "zones": rng.normal(0, 3, (n, 6)), "extent": rng.normal(0, 3, (n, 1))}


def test_joint_probabilities_sum_to_one_and_respect_operating_points():
    for prediction in predictions(_raw(), METADATA):
        total = prediction.p_normal + prediction.p_bacterial + prediction.p_viral + prediction.p_covid
        assert total == pytest.approx(1.0)
        assert prediction.pneumonia_positive == (prediction.p_pneumonia >= 0.3)
        assert prediction.covid_positive == (prediction.p_covid >= 0.4)
        assert prediction.six_zone_score == sum(p >= 0.5 for p in prediction.zone_probabilities)
        assert 0 <= prediction.geographic_extent <= 8


def test_temperature_changes_confidence_not_ranking():
    raw = _raw(50)
    cooler = calibrated_probabilities(raw, METADATA)["pneumonia"]
    plain = calibrated_probabilities(raw, {"temperatures": {"pneumonia": 1, "cause": 1, "zones": 1}})["pneumonia"]
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
