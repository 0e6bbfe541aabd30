"""The shipped model: loads safely, is small, meets a quality floor, refuses what is not a chest
X-ray, and feeds DICOM and PNG through the same pipeline."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from xraydesk.ai import gate, outputs
from xraydesk.ai.inputs import prepare_image
from xraydesk.ai.model import (
    ChestXRayModel,
    ModelUnavailableError,
    calibrated_probabilities,
    default_model_dir,
    load_keras_model,
)
from xraydesk.imaging import load_image, render_default
from xraydesk.training import data, metrics
from xraydesk.training.finalize import run_forward
from xraydesk.training.input_check_report import sample_photographs, synthetic_non_chest_images

# floors below the 0.4.0 val figures (model card), so that a regression fails and noise does not
RSNA_AUC_FLOOR = 0.90
RALO_EXTENT_MAE_CEILING = 1.3
OTHER_ABNORMAL_CALLED_PNEUMONIA_CEILING = 0.75  # 0.4.0 on val: 64% at or above the point (model card)
RULEOUT_SENSITIVITY_FLOOR = 0.95


def test_model_files_load_in_safe_mode_and_stay_small(shipped_model):
    model_dir = default_model_dir()
    members = [outputs.classifier_file(member) for member in range(len(shipped_model.classifiers))]
    for name in (*members, outputs.LUNGS_FILE, outputs.AUTOENCODER_FILE, outputs.SEVERITY_FILE):
        keras.models.load_model(model_dir / name, compile=False, safe_mode=True)
    assert sum(path.stat().st_size for path in model_dir.iterdir()) <= 30 * 2**20


def _model_with_classifiers(classifiers, shipped_model) -> ChestXRayModel:
    autoencoder, lungs, severity = (load_keras_model(default_model_dir() / name) for name in (
        outputs.AUTOENCODER_FILE, outputs.LUNGS_FILE, outputs.SEVERITY_FILE))
    return ChestXRayModel(classifiers, autoencoder, lungs, severity, shipped_model.metadata, shipped_model.gate_stats)


def test_an_ensemble_averages_its_members_logits_and_reads_the_first_ones_features(shipped_model, data_root):
    first = shipped_model.classifier
    second = keras.models.clone_model(first)
    second.set_weights([weight * 1.1 for weight in first.get_weights()])
    images = data.model_inputs([e for e in data.load_examples(data_root) if e.split == "val"][:4], data_root)
    images = images.astype(np.float32) / 255.0
    alone, other, ensemble = (_model_with_classifiers(members, shipped_model).raw_outputs(images)
                              for members in ([first], [second], [first, second]))
    for name in ("abnormal", "pneumonia", "cause", "opacity_map"):
        np.testing.assert_allclose(ensemble[name], (alone[name] + other[name]) / 2, atol=1e-4)
        assert not np.allclose(ensemble[name], alone[name], atol=1e-3)
    for name in ("embedding", "zones", "lung_extent", "reconstruction_error"):
        np.testing.assert_allclose(ensemble[name], alone[name], atol=1e-5)


def test_a_missing_ensemble_member_is_named(tmp_path):
    for path in default_model_dir().iterdir():
        (tmp_path / path.name).symlink_to(path)
    metadata = json.loads((default_model_dir() / outputs.METADATA_FILE).read_text())
    (tmp_path / outputs.METADATA_FILE).unlink()
    members = metadata.get(outputs.CLASSIFIER_MEMBERS_KEY, 1) + 1
    (tmp_path / outputs.METADATA_FILE).write_text(json.dumps({**metadata, outputs.CLASSIFIER_MEMBERS_KEY: members}))
    with pytest.raises(ModelUnavailableError, match=outputs.classifier_file(members - 1)):
        ChestXRayModel.load(tmp_path)


@pytest.fixture(scope="module")
def val_outputs(shipped_model, data_root):
    val = [e for e in data.load_examples(data_root) if e.split == "val"]
    raw = run_forward(shipped_model, data.model_inputs(val, data_root))
    return val, raw, calibrated_probabilities(raw, shipped_model.metadata)


def test_quality_floor_on_v3_val(val_outputs, shipped_model):
    """A regression guard, well below the reported val figures: children, adults from a hospital
    with every class (RSNA: other_abnormal films are negatives for pneumonia, positives for
    "abnormal"), severity on portable films (RALO), and no COVID-19 calls on pre-2019 films."""
    val, _, probabilities = val_outputs
    labels, sources = np.array([e.label for e in val]), np.array([e.source for e in val])
    pneumonia = np.array([e.is_pneumonia for e in val])
    kermany, rsna, ralo = np.char.startswith(sources, "kermany"), sources == "rsna", sources == "ralo"
    assert metrics.roc_auc(pneumonia[kermany], probabilities["pneumonia"][kermany]) >= 0.95
    causes = kermany & np.isin(labels, ["bacterial", "viral"])
    viral_share = probabilities["viral"][causes] / (probabilities["viral"] + probabilities["bacterial"])[causes]
    assert metrics.roc_auc(labels[causes] == "viral", viral_share) >= 0.75
    assert metrics.roc_auc(pneumonia[rsna], probabilities["pneumonia"][rsna]) >= RSNA_AUC_FLOOR
    assert metrics.roc_auc(labels[rsna] != "normal", probabilities["abnormal"][rsna]) >= 0.80
    extent_truth = np.array([e.extent for e in val])[ralo].astype(float)
    assert np.mean(np.abs(probabilities["extent"][ralo] - extent_truth)) <= RALO_EXTENT_MAE_CEILING
    points = shipped_model.metadata["operating_points"]
    assert np.mean(probabilities["covid"][rsna] >= points["covid"]["threshold"]) <= 0.08
    other = labels == "other_abnormal"
    assert np.mean(probabilities["pneumonia"][other] >= points["pneumonia"]["threshold"]) <= \
        OTHER_ABNORMAL_CALLED_PNEUMONIA_CEILING


def test_the_rule_out_point_keeps_abnormal_films(val_outputs, shipped_model):
    """Cleared films: below the rule-out point; abnormal ones among them are what the rule-out misses."""
    val, _, probabilities = val_outputs
    abnormal = np.array([e.is_abnormal for e in val])
    cleared = probabilities["abnormal"] < shipped_model.metadata["operating_points"]["normal_ruleout"]["threshold"]
    assert np.mean(~cleared[abnormal]) >= RULEOUT_SENSITIVITY_FLOOR
    assert cleared[~abnormal].any()


def test_portable_films_are_analysed_not_refused(val_outputs, shipped_model):
    """RALO's portable ICU films (lines, tubes, pads, burnt-in text) are chest films: none refused."""
    val, raw, _ = val_outputs
    ralo = np.array([e.source == "ralo" for e in val])
    checks = [check for check, is_ralo in zip(shipped_model.learned_checks(raw), ralo) if is_ralo]
    assert all(check.accepted for check in checks)
    assert np.mean([bool(check.unfamiliar) for check in checks]) <= 0.05


def test_dicom_and_png_of_the_same_image_give_the_same_model_input(data_root, tmp_path):
    dicom = load_image(data_root / "dicom" / "wg04" / "RG1_UNCR.dcm")
    png_path = tmp_path / "same.png"
    Image.fromarray(render_default(dicom)).save(png_path)
    from_dicom, dicom_check = prepare_image(dicom)
    from_png, png_check = prepare_image(load_image(png_path))
    assert np.array_equal(from_dicom, from_png)
    assert dicom_check.accepted and png_check.accepted


@pytest.mark.parametrize("name", ["RG2_J2KI__hip.dcm", "CR-ModalitySequenceLUT__teeth.dcm"])
def test_non_chest_dicoms_are_refused_with_a_reason(shipped_model, data_root, name):
    model_input, header_check = prepare_image(load_image(data_root / "dicom" / "nonchest" / name))
    outcome = shipped_model.analyse_inputs(model_input[None], [header_check])[0]
    assert outcome.prediction is None and outcome.check.reason


def test_photographs_and_synthetic_images_are_refused_from_pixels_alone(shipped_model):
    images = {**synthetic_non_chest_images(), **sample_photographs()}
    assert len(images) > 10
    outcomes = {name: shipped_model.analyse_display(display) for name, display in images.items()}
    accepted = [name for name, outcome in outcomes.items() if outcome.prediction]
    # 0.9.1's known misses (model card): photographs turned grey pass the learned scores, all but the fundus
    # flagged unfamiliar; as files, in colour, they are refused as colour images. No synthetic image passes.
    assert set(accepted) <= {"skimage-moon", "skimage-clock", "skimage-page", "skimage-retina"}
    assert all(outcomes[name].check.unfamiliar for name in accepted if name != "skimage-retina")


def test_real_chest_dicoms_are_accepted(shipped_model, data_root):
    for path in sorted((data_root / "dicom" / "rsna").glob("*.dcm"))[:8]:
        model_input, check = prepare_image(load_image(path))
        assert shipped_model.analyse_inputs(model_input[None], [check])[0].check == gate.ACCEPTED, path.name


def test_last_convolution_is_reachable_for_grad_cam(shipped_model, data_root):
    classifier = shipped_model.classifier
    grad_model = keras.Model(classifier.inputs, [classifier.get_layer(outputs.FEATURES_LAYER).output,
                                                 classifier.get_layer(outputs.PNEUMONIA_OUTPUT).output])
    image = data.model_inputs([e for e in data.load_examples(data_root) if e.split == "val"][:1], data_root)
    with tf.GradientTape() as tape:
        features, logit = grad_model([image.astype(np.float32) / 255.0])
    gradients = tape.gradient(logit, features).numpy()
    assert features.shape[1:3] == (7, 7) and np.abs(gradients).max() > 0
