"""The normal rule-out point follows the card's rule: 98% of all abnormal val films kept, and 98% of
the adult ones, whichever is stricter; no single kind of abnormal film sets it."""

from dataclasses import replace

import numpy as np

from xraydesk.training.data import Example
from xraydesk.training.finalize import ruleout_threshold

FILM = Example(image="x.png", label="normal", split="val", patient_id="p", age_group="adult", source="rsna",
               lung_mask="", zones=None, extent=None)


def _films(label: str, age_group: str, scores) -> tuple[list[Example], list[float]]:
    return [replace(FILM, label=label, age_group=age_group, patient_id=f"{label}{i}")
            for i in range(len(scores))], list(scores)


def _threshold(*groups) -> float:
    examples = [e for films, _ in groups for e in films]
    return ruleout_threshold(np.array([s for _, scores in groups for s in scores]), examples)


def test_the_adult_abnormal_films_set_the_point_when_children_would_hide_their_misses():
    children = _films("bacterial", "pediatric", np.linspace(0.5, 1.0, 900))
    covid = _films("covid", "adult", np.linspace(0.1, 1.0, 100))
    other = _films("other_abnormal", "adult", np.linspace(0.2, 1.0, 50))
    # pooled, 98% of 1,050 lets 21 films go (all of them adults); the 150 adults together let 3 go
    assert _threshold(children, covid, other) == sorted(covid[1] + other[1])[3]


def test_a_kind_with_few_films_does_not_pin_the_point():
    opacities = _films("pneumonia_unspecified", "adult", np.linspace(0.3, 1.0, 200))
    other = _films("other_abnormal", "adult", [0.01, 0.02, *np.linspace(0.4, 1.0, 48)])
    normals = _films("normal", "adult", np.linspace(0.0, 0.3, 100))
    # 0.4.0's rule (98% within each kind) would have stopped at the other_abnormal film at 0.02
    threshold = _threshold(opacities, other, normals)
    abnormal = np.array(opacities[1] + other[1])
    assert threshold > 0.3 and np.mean(abnormal >= threshold) >= 0.98
