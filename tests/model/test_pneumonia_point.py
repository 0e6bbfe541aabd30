"""The pneumonia point is p = 0.5 ("likely" means more likely than not; model card, 0.4.3), however many
val pneumonias that calls, with a band as wide in logits as a repeat film moves the output."""

from dataclasses import replace

import numpy as np
import pytest

from xraydesk.training.data import Example
from xraydesk.training.finalize import PNEUMONIA_LIKELY_POINT, operating_points

FILM = Example(image="x.png", label="normal", split="val", patient_id="p", age_group="adult", source="rsna",
               lung_mask="", zones=None, extent=None)


def _logit(p):
    return np.log(p / (1 - p))


def test_likely_means_more_likely_than_not_with_the_band_of_a_repeat_film():
    rng = np.random.default_rng(0)
    labels = ["covid"] * 10 + ["pneumonia_unspecified"] * 30 + ["other_abnormal"] * 20 + ["normal"] * 40
    examples = [replace(FILM, label=label, patient_id=f"f{i}", zones=(1, 0, 0, 0, 0, 0) if i < 4 else None)
                for i, label in enumerate(labels)]
    pneumonia = np.array([e.is_pneumonia for e in examples], float)
    abnormal = np.array([e.is_abnormal for e in examples], float)
    # pneumonias spread from p 0.2 up: a sensitivity rule would put the point far below 0.5
    p_pneumonia = np.where(pneumonia == 1, rng.uniform(0.2, 0.99, 100), rng.uniform(0.01, 0.6, 100))
    moved = np.clip(p_pneumonia * rng.uniform(0.8, 1.2, 100), 0.001, 0.999)
    probabilities = {"pneumonia": p_pneumonia, "abnormal": np.maximum(p_pneumonia, abnormal * 0.9),
                     "covid": p_pneumonia * 0.3, "zones": rng.uniform(0, 1, (100, 6))}
    perturbed = {name: np.clip(values * rng.uniform(0.9, 1.1, 100), 0.001, 0.999)
                 for name, values in probabilities.items() if name != "zones"}
    perturbed["pneumonia"] = moved
    targets = {"pneumonia": pneumonia[:, None], "abnormal": abnormal[:, None],
               "zones": np.array([e.zones or (-1,) * 6 for e in examples], float)}
    point = operating_points(probabilities, perturbed, targets, examples)["pneumonia"]
    assert point["threshold"] == PNEUMONIA_LIKELY_POINT == 0.5
    half_width = np.median(np.abs(_logit(moved) - _logit(p_pneumonia)))
    low, high = point["band"]
    assert _logit(high) == pytest.approx(half_width) and _logit(low) == pytest.approx(-half_width)
    assert np.mean(p_pneumonia[pneumonia == 1] >= 0.5) < 0.9, "the point is not chosen for sensitivity"
