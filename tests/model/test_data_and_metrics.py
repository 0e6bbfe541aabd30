import numpy as np
import pytest

from xraydesk.training import data, metrics


def test_no_patient_is_in_two_splits(data_root):
    splits_of = {}
    for example in data.load_examples(data_root):
        splits_of.setdefault(example.patient_id, set()).add(example.split)
    shared = {patient: splits for patient, splits in splits_of.items() if len(splits) > 1}
    assert not shared


def test_targets_mask_what_a_head_must_not_learn(data_root):
    examples = data.load_examples(data_root)
    targets = data.targets(examples)
    labels = np.array([e.label for e in examples])
    assert np.all(targets["cause"][labels == "pneumonia_unspecified"] == data.MISSING)
    assert np.all(targets["cause"][labels == "normal"] == data.MISSING)
    assert np.all(targets["zones"][labels == "normal"] == 0)
    assert set(np.unique(targets["pneumonia"][labels == "pneumonia_unspecified"])) == {1.0}
    # Brixia senior scores >= 1 count as opacity: these 159 images carry six real zone labels.
    zoned_pneumonia = (targets["zones"][:, 0] >= 0) & (labels != "normal")
    assert zoned_pneumonia.sum() == 159


def test_auc_matches_hand_count():
    labels = np.array([0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.9])
    # 6 positive/negative pairs: 5 ordered correctly
    assert metrics.roc_auc(labels, scores) == pytest.approx(5 / 6)
    assert metrics.roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5


def test_operating_point_thresholds_keep_their_promise():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 500).astype(bool)
    scores = rng.normal(labels * 1.5, 1.0)
    sensitivity_threshold = metrics.threshold_for_sensitivity(labels, scores, 0.95)
    specificity_threshold = metrics.threshold_for_specificity(labels, scores, 0.95)
    assert (scores[labels] >= sensitivity_threshold).mean() >= 0.95
    assert (scores[~labels] < specificity_threshold).mean() >= 0.95


def test_temperature_scaling_softens_overconfident_logits():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 2000)
    true_logits = rng.normal(0, 1.5, 2000) + (labels * 2 - 1) * 0.5
    labels = (rng.random(2000) < 1 / (1 + np.exp(-true_logits))).astype(float)
    assert metrics.fit_temperature(true_logits * 3, labels, binary=True) == pytest.approx(3, rel=0.2)


def test_bootstrap_interval_contains_the_estimate():
    rng = np.random.default_rng(3)
    patients = np.repeat(np.arange(100), 2)
    values = rng.normal(1.0, 1.0, 200)
    low, high = metrics.bootstrap_ci(lambda v: float(v.mean()), patients, values, rounds=200)
    assert low < values.mean() < high
    assert high - low < 0.8
