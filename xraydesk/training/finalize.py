"""Turns a finished training run into the shipped `models/`: temperature scaling, operating points
and input-check limits, all fitted on the val split (never on test), written with the model files.

Rules (stated in the model card and in the metadata):
- pneumonia: the highest threshold with >= 95% sensitivity on val (a second reader should not miss);
- COVID-19: the lowest threshold with >= 95% specificity against adult non-COVID val images;
- zones: Youden's J on the val zones read by the Brixia senior radiologist;
- input check: for each learned score, the 99.5th percentile of val chest X-rays within each age
  group, the larger of the two (val is mostly pediatric; a pooled percentile refused adults, the
  population the app serves, several times more often)."""

import datetime
import json
from pathlib import Path

import numpy as np

from xraydesk.ai import outputs
from xraydesk.ai.model import ChestXRayModel, calibrated_probabilities, embedding_distances, load_keras_model
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE
from xraydesk.training import data, metrics

# The networks' own version, independent of the app's: 0.2 replaced the zone and extent heads by the
# zone-pooled severity model.
MODEL_VERSION = "0.2.0"
GATE_PERCENTILE = 99.5
EMBEDDING_SHRINKAGE = 0.05


def run_forward(model: ChestXRayModel, images_uint8: np.ndarray, batch: int = 64) -> dict[str, np.ndarray]:
    chunks = [model.raw_outputs(images_uint8[i:i + batch].astype(np.float32) / 255.0)
              for i in range(0, len(images_uint8), batch)]
    return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in chunks[0]}


def embedding_statistics(embeddings: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and a shrunk precision matrix (the covariance of 256 features from a few thousand
    images is ill-conditioned without shrinkage)."""
    mean = embeddings.mean(axis=0)
    covariance = np.cov(embeddings, rowvar=False)
    target = np.eye(len(mean)) * np.trace(covariance) / len(mean)
    shrunk = (1 - EMBEDDING_SHRINKAGE) * covariance + EMBEDDING_SHRINKAGE * target
    return {"embedding_mean": mean.astype(np.float32),
            "embedding_precision": np.linalg.inv(shrunk).astype(np.float32)}


def fit_temperatures(raw: dict[str, np.ndarray], targets: dict[str, np.ndarray]) -> dict[str, float]:
    has_cause = targets["cause"][:, 0] >= 0
    zone_labelled = targets["zones"] >= 0
    return {
        "pneumonia": metrics.fit_temperature(raw["pneumonia"][:, 0], targets["pneumonia"][:, 0], True),
        "cause": metrics.fit_temperature(raw["cause"][has_cause], targets["cause"][has_cause, 0], False),
        "zones": metrics.fit_temperature(raw["zones"][zone_labelled], targets["zones"][zone_labelled], True),
    }


def operating_points(probabilities, targets, examples) -> dict[str, dict]:
    adult = np.array([e.age_group == "adult" for e in examples])
    covid = np.array([e.label == "covid" for e in examples])
    brixia = np.array([e.zones is not None and e.label != "normal" for e in examples])
    return {
        "pneumonia": {"threshold": metrics.threshold_for_sensitivity(
            targets["pneumonia"][:, 0], probabilities["pneumonia"], 0.95),
            "rule": "highest threshold with >= 95% sensitivity for pneumonia on val"},
        "covid": {"threshold": metrics.threshold_for_specificity(
            covid[adult], probabilities["covid"][adult], 0.95),
            "rule": "lowest threshold with >= 95% specificity, COVID-19 vs other adult val images"},
        "zone": {"threshold": metrics.youden_threshold(
            targets["zones"][brixia].ravel(), probabilities["zones"][brixia].ravel()),
            "rule": "Youden's J over the six zones of val images scored by the Brixia senior reader"},
    }


def input_check_limits(raw: dict[str, np.ndarray], distances: np.ndarray, examples) -> dict:
    groups = [np.array([e.age_group == age for e in examples]) for age in sorted({e.age_group for e in examples})]

    def limit(scores: np.ndarray) -> float:
        return float(max(np.percentile(scores[group], GATE_PERCENTILE) for group in groups))

    return {
        "reconstruction_error_max": limit(raw["reconstruction_error"]),
        "embedding_distance_max": limit(distances),
        "rule": f"for each score, the larger of the {GATE_PERCENTILE}th percentiles of val chest X-rays "
                "of each age group",
    }


def finalize(run_dir: Path, models_dir: Path, data_root=None) -> dict:
    classifier, autoencoder, lungs, severity = (load_keras_model(run_dir / name) for name in (
        "classifier.keras", "gate.keras", "lungs.keras", "severity.keras"))
    model = ChestXRayModel(classifier, autoencoder, lungs, severity, metadata={}, gate_stats={})
    examples = data.load_examples(data_root)
    train = [e for e in examples if e.split == "train"]
    val = [e for e in examples if e.split == "val"]
    stats = embedding_statistics(run_forward(model, data.model_inputs(train, data_root))["embedding"])
    raw_val = run_forward(model, data.model_inputs(val, data_root))
    val_targets = data.targets(val)
    temperatures = fit_temperatures(raw_val, val_targets)
    probabilities = calibrated_probabilities(raw_val, {"temperatures": temperatures})
    distances = embedding_distances(raw_val["embedding"], stats["embedding_mean"], stats["embedding_precision"])
    metadata = {
        "name": "XRayDesk CXR",
        "version": MODEL_VERSION,
        "created": datetime.date.today().isoformat(),
        "input_size": MODEL_INPUT_SIZE,
        "classes": ["normal", *outputs.CAUSES],
        "zones": list(outputs.ZONES),
        "temperatures": temperatures,
        "operating_points": operating_points(probabilities, val_targets, val),
        "input_check": input_check_limits(raw_val, distances, val),
    }
    _write_models({outputs.CLASSIFIER_FILE: classifier, outputs.LUNGS_FILE: lungs,
                   outputs.AUTOENCODER_FILE: autoencoder, outputs.SEVERITY_FILE: severity},
                  models_dir, metadata, stats)
    return metadata


def _write_models(models: dict, models_dir: Path, metadata: dict, stats: dict[str, np.ndarray]) -> None:
    """Saved from the uncompiled models, so the files carry weights but no optimizer state."""
    models_dir.mkdir(parents=True, exist_ok=True)
    for file_name, model in models.items():
        model.save(models_dir / file_name)
    np.savez(models_dir / outputs.GATE_STATS_FILE, **stats)
    (models_dir / outputs.METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
