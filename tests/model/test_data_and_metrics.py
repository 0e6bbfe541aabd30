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
    six_zones = (targets["zones"] >= 0).all(axis=1) & (labels != "normal")
    sources = np.array([e.source for e in examples])
    assert (six_zones & (sources != "ralo")).sum() == 159
    # A RALO lung both readers scored 0 for extent has three zone-free zones; the other lung's stay unknown.
    ralo = sources == "ralo"
    right_clear = targets["lung_extent"][:, 0] == 0
    assert np.all(targets["zones"][ralo & right_clear, :3] == 0)
    assert np.all(targets["zones"][ralo & ~right_clear, :3] == data.MISSING)
    # pre-2019 pneumonias of unknown cause are known not to be COVID-19 (a partial cause label)
    assert np.array_equal(targets["not_covid"], (labels == "pneumonia_unspecified") & np.isin(sources, ["nih", "rsna"]))


def test_v3_other_abnormal_is_abnormal_but_not_pneumonia(data_root):
    examples = data.load_examples(data_root)
    other = [e for e in examples if e.label == "other_abnormal"]
    assert len(other) == 450 and {e.split for e in other} == {"train", "val", "test"}
    assert all(e.is_abnormal and not e.is_pneumonia for e in other)
    targets = data.targets(other)
    assert np.all(targets["abnormal"] == 1) and np.all(targets["pneumonia"] == 0)
    assert np.all(targets["cause"] == data.MISSING)  # no cause to learn from a film without pneumonia
    assert np.all(targets["opacity_map"] == 0)  # the RSNA readers boxed no opacity on these films
    assert np.all(targets["zones"] == data.MISSING) and np.all(targets["extent"] == data.MISSING)
    normal = data.targets([e for e in examples if e.label == "normal"][:50])
    assert np.all(normal["abnormal"] == 0) and np.all(normal["pneumonia"] == 0)


def test_view_groups_read_every_spelling_of_ap_and_pa():
    def view(text):
        return data.Example("x", "normal", "train", "p", "adult", "s", "", None, None, view=text).view_group

    assert [view(v) for v in ("AP", "AP Supine", "AP portable", "AP erect", "PA", "PA/AP", "")] == \
        ["AP", "AP", "AP", "AP", "PA", "", ""]


def test_within_rsna_the_view_says_nothing_about_the_label(data_root):
    """View-balanced sampling: in every RSNA class, AP and PA films of known view weigh the same
    (the capped PA opacities within a few per cent)."""
    train = [e for e in data.load_examples(data_root) if e.split == "train"]
    weights = data.sampling_weights(train, power=0.5)
    for label in ("normal", "other_abnormal", "pneumonia_unspecified"):
        by_view = {view: sum(w for e, w in zip(train, weights)
                             if e.source == "rsna" and e.label == label and e.view_group == view)
                   for view in ("AP", "PA")}
        assert by_view["AP"] == pytest.approx(by_view["PA"], rel=0.2)


def test_sampling_weights_keep_a_large_collection_from_teaching_a_class_alone(data_root):
    train = [e for e in data.load_examples(data_root) if e.split == "train"]
    weights = data.sampling_weights(train, power=0.5)
    # capped, then rescaled to mean 1 (which lifts the cap by the few per cent the capped films lost)
    assert weights.mean() == pytest.approx(1.0) and weights.max() <= 1.1 * data.MAX_SAMPLING_WEIGHT
    cell_weight = {}
    for example, weight in zip(train, weights):
        cell = (example.source, example.label)
        cell_weight[cell] = cell_weight.get(cell, 0.0) + weight
    # RALO's 1,254 COVID-19 films weigh less than their share of the images ...
    ralo_share = sum(e.source == "ralo" for e in train) / len(train)
    assert cell_weight[("ralo", "covid")] / len(train) < ralo_share
    # ... and within RSNA the opacities weigh more than their share.
    rsna = [cell_weight[("rsna", "pneumonia_unspecified")], cell_weight[("rsna", "normal")]]
    assert rsna[0] / sum(rsna) > 200 / (200 + 1759)


def test_opacity_map_marks_the_boxed_cells(data_root):
    example = next(e for e in data.load_examples(data_root) if e.boxes)
    cells = data.opacity_map(example).reshape(data.OPACITY_GRID, data.OPACITY_GRID)
    x, y, w, h = example.boxes[0]
    width, height = example.image_size
    row = int((y + h / 2) / height * data.OPACITY_GRID)
    column = int((x + w / 2) / width * data.OPACITY_GRID)
    assert cells[row, column] > 0.5 and cells[0, 0] == 0


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


def test_spearman_gives_ties_their_average_rank():
    assert metrics.average_ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]
    a, b = np.array([1.0, 2.0, 2.0, 5.0]), np.array([10.0, 30.0, 20.0, 40.0])
    assert metrics.spearman_r(a, b) == pytest.approx(np.corrcoef([1, 2.5, 2.5, 4], [1, 3, 2, 4])[0, 1])
    assert metrics.spearman_r(a, -b ** 3) == pytest.approx(-metrics.spearman_r(a, b))


def test_correlation_is_undefined_without_spread():
    assert np.isnan(metrics.pearson_r(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0])))
    assert np.isnan(metrics.pearson_r(np.array([1.0, 2.0]), np.array([1.0, 2.0])))


def test_an_estimate_says_how_many_it_measured():
    patients = np.array(["a", "a", "b", "c"])
    estimate = metrics.estimate_with_ci(metrics.mean_absolute_error, patients, np.zeros(4), np.array([1.0, 1, 2, 4]))
    assert estimate["value"] == 2.0 and estimate["n"] == 4 and estimate["ci95"][0] <= 2.0 <= estimate["ci95"][1]
    empty = metrics.estimate_with_ci(metrics.mean_absolute_error, patients[:0], np.zeros(0), np.zeros(0))
    assert empty["n"] == 0 and np.isnan(empty["value"])
