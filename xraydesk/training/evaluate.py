"""`xraydesk evaluate`: the shipped models on the shared val/test splits, reported honestly —
by patient-level bootstrap CIs, per source and per age group — into a report folder with
`metrics.json`, `summary.md` and plots."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xraydesk.ai import outputs
from xraydesk.ai.model import ChestXRayModel, calibrated_probabilities
from xraydesk.training import data, metrics
from xraydesk.training.finalize import run_forward

KERMANY_SOURCES = ("kermany", "kermany224")


@dataclass
class SplitResults:
    examples: list
    targets: dict
    raw: dict
    probabilities: dict
    lungs: np.ndarray | None


def _estimate(metric, patients, *arrays) -> dict:
    value = metric(*arrays)
    low, high = metrics.bootstrap_ci(metric, patients, *arrays)
    return {"value": value, "ci95": [low, high], "n": int(len(arrays[0]))}


def _accuracy(labels, predicted):
    return float(np.mean(np.asarray(labels) == np.asarray(predicted)))


def _sensitivity(labels, positive):
    return metrics.sensitivity_specificity(labels, positive)[0]


def _specificity(labels, positive):
    return metrics.sensitivity_specificity(labels, positive)[1]


def _mae(truth, estimate):
    return float(np.mean(np.abs(truth - estimate)))


def _pearson(truth, estimate):
    return float(np.corrcoef(truth, estimate)[0, 1]) if len(truth) > 2 else float("nan")


def _dice(truth, predicted):
    overlap = np.sum(truth * predicted, axis=(1, 2))
    return float(np.mean(2 * overlap / np.maximum(truth.sum(axis=(1, 2)) + predicted.sum(axis=(1, 2)), 1)))


def _mean_zone_auc(truth, probabilities):
    return float(np.nanmean([metrics.roc_auc(truth[:, z], probabilities[:, z]) for z in range(6)]))


def pneumonia_metrics(r: SplitResults, mask: np.ndarray, threshold: float) -> dict:
    labels = r.targets["pneumonia"][mask, 0]
    scores = r.probabilities["pneumonia"][mask]
    patients = np.array([e.patient_id for e in r.examples])[mask]
    if len(np.unique(labels)) < 2:
        return {"n": int(mask.sum())}
    return {
        "auc": _estimate(metrics.roc_auc, patients, labels, scores),
        "accuracy_at_0.5": _estimate(_accuracy, patients, labels, scores >= 0.5),
        "accuracy_at_operating_point": _estimate(_accuracy, patients, labels, scores >= threshold),
        "sensitivity_at_operating_point": _estimate(_sensitivity, patients, labels, scores >= threshold),
        "specificity_at_operating_point": _estimate(_specificity, patients, labels, scores >= threshold),
    }


def bacterial_viral_metrics(r: SplitResults, mask: np.ndarray) -> dict:
    labels_text = np.array([e.label for e in r.examples])
    mask = mask & np.isin(labels_text, ["bacterial", "viral"])
    if mask.sum() == 0:
        return {"n": 0}
    viral = labels_text[mask] == "viral"
    cause = r.probabilities["cause"][mask]
    score = cause[:, 1] / np.maximum(cause[:, 0] + cause[:, 1], 1e-9)
    patients = np.array([e.patient_id for e in r.examples])[mask]
    return {"auc": _estimate(metrics.roc_auc, patients, viral, score),
            "accuracy": _estimate(_accuracy, patients, viral, score >= 0.5)}


def covid_metrics(r: SplitResults, threshold: float) -> dict:
    adult = np.array([e.age_group == "adult" for e in r.examples])
    covid = np.array([e.label == "covid" for e in r.examples])[adult]
    scores = r.probabilities["covid"][adult]
    patients = np.array([e.patient_id for e in r.examples])[adult]
    if len(np.unique(covid)) < 2:
        return {"n": int(adult.sum())}

    def sensitivity_at_own_95_specificity(labels, values):
        return _sensitivity(labels, values >= metrics.threshold_for_specificity(labels, values, 0.95))

    return {
        "auc": _estimate(metrics.roc_auc, patients, covid, scores),
        "sensitivity_at_operating_point": _estimate(_sensitivity, patients, covid, scores >= threshold),
        "specificity_at_operating_point": _estimate(_specificity, patients, covid, scores >= threshold),
        "sensitivity_at_95_specificity_on_this_split": _estimate(
            sensitivity_at_own_95_specificity, patients, covid, scores),
    }


def severity_metrics(r: SplitResults, zone_threshold: float) -> dict:
    not_normal = np.array([e.label != "normal" for e in r.examples])
    zoned = not_normal & (r.targets["zones"][:, 0] >= 0)
    with_extent = not_normal & (r.targets["extent"][:, 0] >= 0)
    patients = np.array([e.patient_id for e in r.examples])
    result = {}
    if zoned.sum() > 1:
        truth, probabilities = r.targets["zones"][zoned], r.probabilities["zones"][zoned]
        score = (probabilities >= zone_threshold).sum(axis=1).astype(float)
        result["zones"] = {
            "mean_zone_auc": _estimate(_mean_zone_auc, patients[zoned], truth, probabilities),
            "per_zone_auc": dict(zip(outputs.ZONES, (metrics.roc_auc(truth[:, z], probabilities[:, z])
                                                     for z in range(6)))),
            "score_mae": _estimate(_mae, patients[zoned], truth.sum(axis=1), score),
        }
    if with_extent.sum() > 2:
        truth = r.targets["extent"][with_extent, 0] * outputs.EXTENT_MAX
        estimate = r.probabilities["extent"][with_extent]
        result["geographic_extent"] = {"mae": _estimate(_mae, patients[with_extent], truth, estimate),
                                       "pearson_r": _estimate(_pearson, patients[with_extent], truth, estimate)}
    return result


def segmentation_metrics(r: SplitResults, data_root) -> dict:
    from PIL import Image

    with_mask = [i for i, e in enumerate(r.examples) if e.lung_mask]
    if not with_mask or r.lungs is None:
        return {"n": 0}
    scores = []
    for row, index in enumerate(with_mask):
        truth = data.read_display(Path(data.default_data_root() if data_root is None else data_root)
                                  / "cxr" / r.examples[index].lung_mask) > 0
        probability = Image.fromarray(r.lungs[row]).resize(truth.shape[::-1], Image.BILINEAR)
        scores.append(_dice(truth[None].astype(float), (np.asarray(probability) >= 0.5)[None].astype(float)))
    patients = np.array([r.examples[i].patient_id for i in with_mask])
    return {"dice": _estimate(lambda s: float(np.mean(s)), patients, np.array(scores))}


def calibration_metrics(r: SplitResults, temperatures: dict) -> dict:
    labels = r.targets["pneumonia"][:, 0]
    has_cause = r.targets["cause"][:, 0] >= 0
    cause_labels = r.targets["cause"][has_cause, 0].astype(int)

    def pneumonia_ece(temperature):
        p = 1 / (1 + np.exp(-r.raw["pneumonia"][:, 0] / temperature))
        confidence = np.maximum(p, 1 - p)
        return metrics.expected_calibration_error(confidence, (p >= 0.5) == labels.astype(bool))

    def cause_ece(temperature):
        logits = r.raw["cause"][has_cause] / temperature
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return metrics.expected_calibration_error(p.max(1), p.argmax(1) == cause_labels)

    return {"pneumonia_ece": {"before": pneumonia_ece(1.0), "after": pneumonia_ece(temperatures["pneumonia"])},
            "cause_ece": {"before": cause_ece(1.0), "after": cause_ece(temperatures["cause"])}}


def _grouped(r: SplitResults, key, threshold) -> dict:
    groups = sorted({key(e) for e in r.examples})
    table = {}
    for group in groups:
        mask = np.array([key(e) == group for e in r.examples])
        labels = np.array([e.label for e in r.examples])[mask]
        table[group] = {
            "n": int(mask.sum()),
            "labels": {label: int((labels == label).sum()) for label in np.unique(labels)},
            "pneumonia": pneumonia_metrics(r, mask, threshold),
            "pneumonia_positive_rate": float((r.probabilities["pneumonia"][mask] >= threshold).mean()),
            "mean_p_covid": float(r.probabilities["covid"][mask].mean()),
        }
    return table


def evaluate_split(model: ChestXRayModel, splits: list[str], data_root=None) -> tuple[dict, SplitResults]:
    examples = [e for e in data.load_examples(data_root) if e.split in splits]
    inputs = data.model_inputs(examples, data_root)
    raw = run_forward(model, inputs)
    masked = [i for i, e in enumerate(examples) if e.lung_mask]
    lungs = (np.concatenate([model.lung_probabilities(inputs[masked[i:i + 32]].astype(np.float32) / 255)
                             for i in range(0, len(masked), 32)]) if masked else None)
    r = SplitResults(examples, data.targets(examples), raw, calibrated_probabilities(raw, model.metadata), lungs)
    points = {name: point["threshold"] for name, point in model.metadata["operating_points"].items()}
    kermany = np.array([e.source in KERMANY_SOURCES for e in examples])
    refused = np.array([not check.accepted for check in model.learned_checks(raw)])
    report = {
        "splits": splits,
        "model": model.version,
        "n_images": len(examples),
        "normal_vs_pneumonia_all": pneumonia_metrics(r, np.ones(len(examples), bool), points["pneumonia"]),
        "normal_vs_pneumonia_kermany": pneumonia_metrics(r, kermany, points["pneumonia"]),
        "bacterial_vs_viral_kermany": bacterial_viral_metrics(r, kermany),
        "bacterial_vs_viral_adult": bacterial_viral_metrics(r, ~kermany),
        "covid_vs_other_adult": covid_metrics(r, points["covid"]),
        "severity": severity_metrics(r, points["zone"]),
        "lung_segmentation": segmentation_metrics(r, data_root),
        "calibration": calibration_metrics(r, model.metadata["temperatures"]),
        "input_check_chest_refused_by_learned_scores": float(refused.mean()),
        "per_source": _grouped(r, lambda e: e.source, points["pneumonia"]),
        "per_age_group": _grouped(r, lambda e: e.age_group, points["pneumonia"]),
    }
    return report, r
