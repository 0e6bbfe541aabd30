"""The normal rule-out point follows the card's rule: the lower 95% confidence bound of the sensitivity
stays >= 98% for all abnormal val films and for the adult ones, whichever is stricter; no single kind
of abnormal film sets it."""

from dataclasses import replace

import numpy as np
import pytest

from xraydesk.training.data import Example
from xraydesk.training.finalize import ruleout_threshold
from xraydesk.training.metrics import wilson_lower_bound

FILM = Example(image="x.png", label="normal", split="val", patient_id="p", age_group="adult", source="rsna",
               lung_mask="", zones=None, extent=None)


def _films(label: str, age_group: str, scores) -> tuple[list[Example], list[float]]:
    return [replace(FILM, label=label, age_group=age_group, patient_id=f"{label}{i}")
            for i in range(len(scores))], list(scores)


def _threshold(*groups) -> float:
    examples = [e for films, _ in groups for e in films]
    return ruleout_threshold(np.array([s for _, scores in groups for s in scores]), examples)


def test_wilson_lower_bound_matches_the_formula_worked_by_hand():
    assert wilson_lower_bound(95, 100) == pytest.approx(0.9008, abs=5e-4)
    assert wilson_lower_bound(100, 100) < 1.0, "a perfect split is not a perfect population"


def test_the_point_keeps_a_margin_above_98_percent():
    abnormal = _films("pneumonia_unspecified", "adult", np.linspace(0.1, 1.0, 1000))
    threshold = _threshold(abnormal)
    found = int(np.sum(np.array(abnormal[1]) >= threshold))
    assert wilson_lower_bound(found, 1000) >= 0.98 > wilson_lower_bound(found - 1, 1000)
    assert found / 1000 > 0.985, "0.4.1's rule stopped at 98.0% on val itself"


def test_the_adult_abnormal_films_set_the_point_when_children_would_hide_their_misses():
    children = _films("bacterial", "pediatric", np.linspace(0.5, 1.0, 3000))
    adults = _films("covid", "adult", np.linspace(0.1, 1.0, 600))
    threshold = _threshold(children, adults)
    adult_found = int(np.sum(np.array(adults[1]) >= threshold))
    # pooled, 3,600 films would let every adult miss through below 0.5; the adults alone allow a few
    assert threshold < 0.2 and wilson_lower_bound(adult_found, 600) >= 0.98


def test_a_kind_with_few_films_does_not_pin_the_point():
    opacities = _films("pneumonia_unspecified", "adult", np.linspace(0.3, 1.0, 1000))
    other = _films("other_abnormal", "adult", [0.01, 0.02, *np.linspace(0.4, 1.0, 48)])
    normals = _films("normal", "adult", np.linspace(0.0, 0.3, 100))
    # 0.4.0's rule (98% within each kind) would have stopped at the other_abnormal film at 0.02
    threshold = _threshold(opacities, other, normals)
    abnormal = np.array(opacities[1] + other[1])
    assert threshold > 0.3 and wilson_lower_bound(int(np.sum(abnormal >= threshold)), len(abnormal)) >= 0.98
