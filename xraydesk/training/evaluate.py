"""`xraydesk evaluate`: the shipped models on the shared val/test splits, reported honestly —
by patient-level bootstrap CIs, per source, per view and per age group — into a report folder with
`metrics.json`, `summary.md` and plots.

Every image of the split counts in the discrimination and severity figures, whether or not the input
check accepted it; the input-check section says how many it would have refused."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from xraydesk.ai import gate
from xraydesk.ai.lung_check import check_lung_mask
from xraydesk.ai.model import FLAGS, ChestXRayModel, calibrated_probabilities, outcome_flags, predictions
from xraydesk.ai.words import COVID_CATEGORIES, covid_category
from xraydesk.ai.zones import lung_mask
from xraydesk.training import data, metrics
from xraydesk.training.finalize import run_forward
from xraydesk.training.severity_report import Readings, positive_without_zones, read_readings, severity_report
from xraydesk.training.three_answers_report import three_answers_report

KERMANY_SOURCES = ("kermany", "kermany224")
NO_VIEW = "not recorded"
# RSNA (2018, NIH films of 1992-2015) predates COVID-19: any COVID-19 call on it is a false one.
PRE_COVID_SOURCE = "rsna"


@dataclass
class SplitResults:
    examples: list
    targets: dict
    raw: dict
    probabilities: dict
    views: np.ndarray  # labels.csv `view`, NO_VIEW where empty
    checks: list  # the input check on the pixels, as the app makes it (header aside)
    predictions: list  # Prediction, or None where the input check refused the image
    lung_checks: list
    flags: list  # outcome_flags of each image
    readings: Readings

    def column(self, name: str) -> np.ndarray:
        return np.array([getattr(e, name) for e in self.examples])


_estimate = metrics.estimate_with_ci


def _accuracy(labels, predicted):
    return float(np.mean(np.asarray(labels) == np.asarray(predicted)))


def _sensitivity(labels, positive):
    return metrics.sensitivity_specificity(labels, positive)[0]


def _share(values):
    return float(np.mean(values))


def _sensitivity_specificity(labels: np.ndarray, called: np.ndarray, patients: np.ndarray) -> dict:
    """Each where it can be measured, n = the positives / negatives it is measured on."""
    result = {}
    if labels.any():
        result["sensitivity_at_operating_point"] = _estimate(_share, patients[labels], called[labels].astype(float))
    if (~labels).any():
        result["specificity_at_operating_point"] = _estimate(_share, patients[~labels], (~called[~labels]).astype(float))
    return result


def _dice(truth, predicted):
    overlap = np.sum(truth * predicted, axis=(1, 2))
    return float(np.mean(2 * overlap / np.maximum(truth.sum(axis=(1, 2)) + predicted.sum(axis=(1, 2)), 1)))


def views_of(examples) -> np.ndarray:
    """Each image's view (PA, AP, AP portable, ...), NO_VIEW where the source gave none."""
    return np.array([e.view or NO_VIEW for e in examples])


def pneumonia_metrics(r: SplitResults, mask: np.ndarray, threshold: float) -> dict:
    """Sensitivity / specificity at the operating point wherever there are pneumonias / normals;
    AUC and accuracy where there are both."""
    labels = r.targets["pneumonia"][mask, 0].astype(bool)
    scores = r.probabilities["pneumonia"][mask]
    patients = r.column("patient_id")[mask]
    result = {"n": int(mask.sum()), **_sensitivity_specificity(labels, scores >= threshold, patients)}
    if labels.any() and (~labels).any():
        result["auc"] = _estimate(metrics.roc_auc, patients, labels, scores)
        result["accuracy_at_0.5"] = _estimate(_accuracy, patients, labels, scores >= 0.5)
        result["accuracy_at_operating_point"] = _estimate(_accuracy, patients, labels, scores >= threshold)
    return result


def bacterial_viral_metrics(r: SplitResults, mask: np.ndarray) -> dict:
    labels_text = r.column("label")
    mask = mask & np.isin(labels_text, ["bacterial", "viral"])
    if mask.sum() == 0:
        return {"n": 0}
    viral = labels_text[mask] == "viral"
    cause = r.probabilities["cause"][mask]
    score = cause[:, 1] / np.maximum(cause[:, 0] + cause[:, 1], 1e-9)
    patients = r.column("patient_id")[mask]
    return {"auc": _estimate(metrics.roc_auc, patients, viral, score),
            "accuracy": _estimate(_accuracy, patients, viral, score >= 0.5)}


def covid_metrics(r: SplitResults, mask: np.ndarray, threshold: float) -> dict:
    """COVID-19 vs the other images of `mask`: sensitivity where it has COVID-19 films, specificity
    where it has others, AUC where it has both."""
    covid = r.column("label")[mask] == "covid"
    scores = r.probabilities["covid"][mask]
    patients = r.column("patient_id")[mask]
    result = {"n": int(mask.sum()), "n_covid": int(covid.sum()),
              **_sensitivity_specificity(covid, scores >= threshold, patients)}
    if covid.any() and (~covid).any():
        def sensitivity_at_own_95_specificity(labels, values):
            if labels.all() or not labels.any():  # a bootstrap sample of one class has no threshold
                return float("nan")
            return _sensitivity(labels, values >= metrics.threshold_for_specificity(labels, values, 0.95))

        result["auc"] = _estimate(metrics.roc_auc, patients, covid, scores)
        result["sensitivity_at_95_specificity_on_this_split"] = _estimate(
            sensitivity_at_own_95_specificity, patients, covid, scores)
    return result


def covid_per_source(r: SplitResults, threshold: float) -> dict:
    adult = r.column("age_group") == "adult"
    sources = r.column("source")
    return {source: covid_metrics(r, adult & (sources == source), threshold)
            for source in sorted(set(sources[adult]))}


def pre_covid_calls(r: SplitResults, operating_points: dict) -> dict:
    """The pre-2019 RSNA films, normal and lung opacity apart and together: the share called COVID-19
    (target <= 5%) and the share in each RSNA consensus category. Refused images have no call and no
    category."""
    result = {}
    for label in ("normal", "other_abnormal", "pneumonia_unspecified", "all"):
        chosen = [i for i, e in enumerate(r.examples)
                  if e.source == PRE_COVID_SOURCE and label in (e.label, "all")]
        accepted = [i for i in chosen if r.predictions[i] is not None]
        patients = r.column("patient_id")[accepted]
        categories = np.array([covid_category(r.predictions[i], operating_points) for i in accepted])
        result[label] = {
            "n": len(chosen), "n_accepted": len(accepted),
            "called_covid": _estimate(_share, patients,
                                      np.array([r.predictions[i].covid_positive for i in accepted], float)),
            "categories": {category: _estimate(_share, patients, (categories == category).astype(float))
                           for category in COVID_CATEGORIES},
        }
    return result


def rsna_metrics(r: SplitResults, threshold: float) -> dict:
    """RSNA normal vs lung opacity, overall and per view: does the model read AP as disease?"""
    rsna = r.column("source") == "rsna"
    return {"all": pneumonia_metrics(r, rsna, threshold),
            "per_view": {view: pneumonia_metrics(r, rsna & (r.views == view), threshold)
                         for view in sorted(set(r.views[rsna]))}}


def input_check_metrics(r: SplitResults, mask: np.ndarray) -> dict:
    patients = r.column("patient_id")[mask]
    checks = [check for check, chosen in zip(r.checks, mask) if chosen]
    refused = np.array([not check.accepted for check in checks], float)
    unfamiliar = np.array([bool(check.unfamiliar) for check in checks], float)
    names = r.column("image")[mask]
    return {"n": int(mask.sum()), "refused": _estimate(_share, patients, refused),
            "unfamiliar": _estimate(_share, patients, unfamiliar),
            "refused_images": {name: check.reason for name, check in zip(names, checks) if not check.accepted}}


def flag_shares(r: SplitResults, mask: np.ndarray) -> dict:
    """Each flag's share among the accepted images of `mask` (refused images carry no flags)."""
    accepted = [flags for flags, prediction, chosen in zip(r.flags, r.predictions, mask)
                if chosen and prediction is not None]
    return {"n_accepted": len(accepted),
            **{flag: float(np.mean([flag in flags for flags in accepted])) if accepted else float("nan")
               for flag in FLAGS}}


def segmentation_metrics(r: SplitResults, data_root) -> dict:
    with_mask = [i for i, e in enumerate(r.examples) if e.lung_mask]
    if not with_mask:
        return {"n": 0}
    scores = []
    for index in with_mask:
        truth = data.read_display(Path(data_root or data.default_data_root()) / "cxr" / r.examples[index].lung_mask) > 0
        probability = Image.fromarray(r.raw["lungs"][index]).resize(truth.shape[::-1], Image.BILINEAR)
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


def group_keys(groups: np.ndarray) -> list[str]:
    return sorted(set(groups.tolist()))


def grouped(r: SplitResults, groups: np.ndarray, points: dict, within: np.ndarray | None = None) -> dict:
    """One row per group (source, view, age group, ...) of the images `within`: what the model calls."""
    within = np.ones(len(groups), bool) if within is None else within
    labels = r.column("label")
    table = {}
    for group in group_keys(groups[within]):
        mask = within & (groups == group)
        table[group] = {
            "n": int(mask.sum()),
            "labels": {label: int((labels[mask] == label).sum()) for label in np.unique(labels[mask])},
            "pneumonia": pneumonia_metrics(r, mask, points["pneumonia"]),
            "pneumonia_positive_rate": float((r.probabilities["pneumonia"][mask] >= points["pneumonia"]).mean()),
            "covid_positive_rate": float((r.probabilities["covid"][mask] >= points["covid"]).mean()),
            "mean_p_covid": float(r.probabilities["covid"][mask].mean()),
        }
    return table


def split_results(model: ChestXRayModel, splits: list[str], data_root=None) -> SplitResults:
    examples = [e for e in data.load_examples(data_root) if e.split in splits]
    inputs = data.model_inputs(examples, data_root)
    raw = run_forward(model, inputs)
    checks = [gate.first_refusal(gate.check_pixels(image.astype(np.float32) / 255), learned)
              for image, learned in zip(inputs, model.learned_checks(raw))]
    return results_from_outputs(examples, inputs, raw, checks, model.metadata, views_of(examples),
                                read_readings(examples, data_root))


def results_from_outputs(examples, inputs: np.ndarray, raw: dict, checks: list, metadata: dict, views: np.ndarray,
                         readings) -> SplitResults:
    """What the app would make of each image (`inputs`: uint8 model inputs): its call (none where refused),
    lung check and flags."""
    lung_checks = [check_lung_mask(lung_mask(lungs), image[..., 0] / 255.0)
                   for lungs, image in zip(raw["lungs"], inputs)]
    accepted_predictions = [prediction if check.accepted else None
                            for prediction, check in zip(predictions(raw, metadata), checks)]
    return SplitResults(
        examples, data.targets(examples), raw, calibrated_probabilities(raw, metadata), views, checks,
        accepted_predictions, lung_checks,
        [outcome_flags(check, prediction, lungs)
         for check, prediction, lungs in zip(checks, accepted_predictions, lung_checks)], readings)


def evaluate_split(model: ChestXRayModel, splits: list[str], data_root=None) -> tuple[dict, SplitResults]:
    r = split_results(model, splits, data_root)
    return {"splits": splits, "model": model.version, **split_report(r, model.metadata, data_root)}, r


def split_report(r: SplitResults, metadata: dict, data_root=None) -> dict:
    operating_points = metadata["operating_points"]
    points = {name: point["threshold"] for name, point in operating_points.items()}
    everything = np.ones(len(r.examples), bool)
    kermany = np.isin(r.column("source"), KERMANY_SOURCES)
    adult = r.column("age_group") == "adult"
    sources = r.column("source")
    severity = severity_report(r.examples, r.probabilities, r.targets["zones"], points["zone"], r.readings)
    severity["positive_with_0_zones"] = positive_without_zones(r.predictions, r.lung_checks, r.flags,
                                                               r.column("patient_id"))
    return {
        "n_images": len(r.examples),
        "three_answers": three_answers_report(r, metadata),
        "normal_vs_pneumonia_all": pneumonia_metrics(r, everything, points["pneumonia"]),
        "normal_vs_pneumonia_kermany": pneumonia_metrics(r, kermany, points["pneumonia"]),
        "normal_vs_pneumonia_adult": pneumonia_metrics(r, adult, points["pneumonia"]),
        "rsna_normal_vs_lung_opacity": rsna_metrics(r, points["pneumonia"]),
        "bacterial_vs_viral_kermany": bacterial_viral_metrics(r, kermany),
        "bacterial_vs_viral_adult": bacterial_viral_metrics(r, ~kermany),
        "covid_vs_other_adult": covid_metrics(r, adult, points["covid"]),
        "covid_vs_other_adult_per_source": covid_per_source(r, points["covid"]),
        "pre_covid_rsna_calls": pre_covid_calls(r, operating_points),
        "severity": severity,
        "lung_segmentation": segmentation_metrics(r, data_root),
        "calibration": calibration_metrics(r, metadata["temperatures"]),
        "input_check_chest": {"all": input_check_metrics(r, everything),
                              "per_source": {source: input_check_metrics(r, sources == source)
                                             for source in group_keys(sources)}},
        "flags_per_source": {source: flag_shares(r, sources == source) for source in group_keys(sources)},
        "per_source": grouped(r, sources, points),
        "per_view": grouped(r, r.views, points),
        "per_source_and_view_adult": grouped(r, np.char.add(np.char.add(sources, " / "), r.views), points, adult),
        "per_age_group": grouped(r, r.column("age_group"), points),
    }
