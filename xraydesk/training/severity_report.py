"""Severity against the radiologists: the model's extent and opacity (0-4 per lung, 0-8 in all) on the
RALO films (Stony Brook, two readers each) and the COVID-Net readings, the readers' agreement with
each other (the ceiling a model can reach against one reader), the change between a patient's
consecutive films, the six zones against the Brixia senior reader, and how often a pneumonia call
comes with no zone (one evidence base should make that rare).

The readings are read here from `severity.csv`, keyed by image, so that the report does not depend on
how training chooses its targets."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xraydesk.ai import outputs
from xraydesk.training import metrics
from xraydesk.training.data import default_data_root, severity_by_image

READERS = ("reader_1", "reader_2")
LUNGS = ("right", "left")  # the patient's, as the model's per-lung outputs
SCORES = {"extent": "geographic", "opacity": "opacity"}  # report name -> RALO column word
MIN_CHANGE = 1.0  # a readers' change between two films this large has a direction (issue 9)


@dataclass(frozen=True)
class Readings:
    """The readers' scores for the evaluated images, aligned with them; NaN where an image has none."""
    ralo: dict[str, np.ndarray]  # "extent" / "opacity" -> (N, reader 1 / 2, right / left lung), 0-4
    exam_index: np.ndarray  # (N,) 1 = the patient's first RALO film; 0 = not a RALO film
    covidnet: dict[str, np.ndarray]  # "extent" / "opacity" -> (N,) 0-8 (opacity only where read on 0-8)
    brixia: np.ndarray  # (N,) whether the Brixia senior reader scored the six zones

    @property
    def has_ralo(self) -> np.ndarray:
        return np.isfinite(self.ralo["extent"]).any(axis=(1, 2))


def _number(text: str) -> float:
    return float(text) if text else np.nan


def read_readings(examples, data_root=None) -> Readings:
    rows = severity_by_image(Path(data_root or default_data_root()) / "cxr")
    found = [rows.get(e.image, {}) for e in examples]
    ralo = {score: np.array([[[_number(row.get(f"ralo_r{reader}_{lung}_{word}", "")) for lung in LUNGS]
                              for reader in (1, 2)] for row in found]).reshape(len(found), 2, 2)
            for score, word in SCORES.items()}
    is_ralo = [bool(row.get("exam_index")) for row in found]
    # COVID-Net's opacity is 0-6 where the row also has Cohen et al.'s 0-6 reading, 0-8 elsewhere.
    on_0_8 = [not row.get("cohen94_opacity_0_6") for row in found]
    return Readings(
        ralo=ralo,
        exam_index=np.array([int(row["exam_index"]) if ralo_row else 0 for row, ralo_row in zip(found, is_ralo)]),
        covidnet={"extent": np.array([np.nan if ralo_row else _number(row.get("geographic_extent_0_8", ""))
                                      for row, ralo_row in zip(found, is_ralo)]),
                  "opacity": np.array([_number(row.get("covidnet_opacity", "")) if eight else np.nan
                                       for row, eight in zip(found, on_0_8)])},
        brixia=np.array([bool(row.get("brixia_S_Global")) for row in found], bool),
    )


def _nan_mean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean of the finite values along `axis`; NaN where there is none (a reader may be missing)."""
    known = np.isfinite(values)
    count = known.sum(axis=axis)
    total = np.where(known, values, 0.0).sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def readers_mean_total(readings: np.ndarray) -> np.ndarray:
    """(N, reader, lung) -> (N,) the mean of the readers' totals (a reader's total is NaN where they
    left a lung unscored, as in severity.csv)."""
    return _nan_mean(readings.sum(axis=2), axis=1)


def agreement(truth: np.ndarray, estimate: np.ndarray, patients: np.ndarray) -> dict:
    """MAE, Pearson r and mean difference (estimate - truth) over the pairs where both are known."""
    known = np.isfinite(truth) & np.isfinite(estimate)
    truth, estimate, patients = truth[known], estimate[known], patients[known]
    return {"mae": metrics.estimate_with_ci(metrics.mean_absolute_error, patients, truth, estimate),
            "pearson_r": metrics.estimate_with_ci(metrics.pearson_r, patients, truth, estimate),
            "mean_difference": metrics.estimate_with_ci(lambda t, e: float(np.mean(e - t)), patients, truth, estimate)}


def ralo_agreement(readings: np.ndarray, predicted: np.ndarray, patients: np.ndarray) -> dict:
    """readings (N, reader, lung), predicted (N, lung), both 0-4 per lung."""
    reader_totals = readings.sum(axis=2)
    readers_lungs = _nan_mean(readings, axis=1)
    predicted_total = predicted.sum(axis=1)
    return {
        "total_vs_readers_mean": agreement(readers_mean_total(readings), predicted_total, patients),
        "per_lung_vs_readers_mean": {lung: agreement(readers_lungs[:, i], predicted[:, i], patients)
                                     for i, lung in enumerate(LUNGS)},
        "total_vs_each_reader": {reader: agreement(reader_totals[:, j], predicted_total, patients)
                                 for j, reader in enumerate(READERS)},
        "inter_reader": {"total": agreement(reader_totals[:, 0], reader_totals[:, 1], patients),
                         **{lung: agreement(readings[:, 0, i], readings[:, 1, i], patients)
                            for i, lung in enumerate(LUNGS)}},
    }


def consecutive_exam_pairs(patients: np.ndarray, exam_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(earlier, later) row indices of each patient's consecutive films by exam_index (0 = not serial)."""
    earlier, later = [], []
    serial = np.flatnonzero(exam_index > 0)
    for patient in np.unique(patients[serial]):
        films = serial[patients[serial] == patient]
        films = films[np.argsort(exam_index[films], kind="stable")]
        earlier.extend(films[:-1])
        later.extend(films[1:])
    return np.array(earlier, int), np.array(later, int)


def direction_agreement(readers_change: np.ndarray, predicted_change: np.ndarray) -> float:
    """Among the pairs whose readers' change is at least MIN_CHANGE, the share whose predicted change
    has the same sign (no predicted change is a miss)."""
    moved = np.abs(readers_change) >= MIN_CHANGE
    if not moved.any():
        return float("nan")
    return float(np.mean(np.sign(predicted_change[moved]) == np.sign(readers_change[moved])))


def serial_exams(patients: np.ndarray, exam_index: np.ndarray, truth: np.ndarray, estimate: np.ndarray) -> dict:
    """How the change between consecutive films of one patient follows the truth's change."""
    earlier, later = consecutive_exam_pairs(patients, exam_index)
    truth_change, estimate_change = truth[later] - truth[earlier], estimate[later] - estimate[earlier]
    known = np.isfinite(truth_change) & np.isfinite(estimate_change)
    truth_change, estimate_change, pair_patients = truth_change[known], estimate_change[known], patients[earlier][known]
    direction = metrics.estimate_with_ci(direction_agreement, pair_patients, truth_change, estimate_change)
    direction["n"] = int((np.abs(truth_change) >= MIN_CHANGE).sum())  # the pairs it is measured on
    return {"n_patients": len(np.unique(pair_patients)), "n_pairs": int(known.sum()),
            "direction_agreement": direction,
            "change_rank_correlation": metrics.estimate_with_ci(
                metrics.spearman_r, pair_patients, truth_change, estimate_change)}


def ralo_serial_exams(readings: np.ndarray, predicted: np.ndarray, patients: np.ndarray,
                      exam_index: np.ndarray) -> dict:
    """The model against the readers' mean total, and reader 1 against reader 2 (the ceiling)."""
    reader_totals = readings.sum(axis=2)
    return {"model_vs_readers_mean": serial_exams(patients, exam_index, readers_mean_total(readings),
                                                  predicted.sum(axis=1)),
            "reader_1_vs_reader_2": serial_exams(patients, exam_index, reader_totals[:, 1], reader_totals[:, 0])}


def _mean_zone_auc(truth, probabilities):
    return float(np.nanmean([metrics.roc_auc(truth[:, z], probabilities[:, z]) for z in range(6)]))


def zone_metrics(truth: np.ndarray, probabilities: np.ndarray, patients: np.ndarray, zone_threshold: float) -> dict:
    """Six zones (truth: the training rule's reading of the Brixia senior scores) on zone-scored images."""
    if len(truth) < 2:
        return {"n": len(truth)}
    score = (probabilities >= zone_threshold).sum(axis=1).astype(float)
    return {
        "mean_zone_auc": metrics.estimate_with_ci(_mean_zone_auc, patients, truth, probabilities),
        "per_zone_auc": dict(zip(outputs.ZONES, (metrics.roc_auc(truth[:, z], probabilities[:, z])
                                                 for z in range(6)))),
        "score_mae": metrics.estimate_with_ci(metrics.mean_absolute_error, patients, truth.sum(axis=1), score),
    }


def positive_without_zones(predictions: list, lung_checks: list, flags: list[tuple[str, ...]],
                           patients: np.ndarray) -> dict:
    """Among accepted images called pneumonia-positive outside the band on a plausible lung mask, the
    share flagged `positive_no_zones` (six-zone score 0). predictions[i] is None when refused."""
    called = np.array([p is not None and p.pneumonia_positive and not p.pneumonia_borderline and lungs.plausible
                       for p, lungs in zip(predictions, lung_checks)], bool)
    no_zones = np.array(["positive_no_zones" in raised for raised in flags], bool)
    return {"n_called_positive": int(called.sum()), "n_with_0_zones": int(no_zones[called].sum()),
            "share": metrics.estimate_with_ci(lambda v: float(np.mean(v)), patients[called],
                                              no_zones[called].astype(float))}


def severity_report(examples, probabilities: dict[str, np.ndarray], zone_truth: np.ndarray,
                    zone_threshold: float, readings: Readings) -> dict:
    patients = np.array([e.patient_id for e in examples])
    ralo = readings.has_ralo
    predicted = {"extent": probabilities["lung_extent"], "opacity": probabilities["lung_opacity"]}
    zoned = readings.brixia & np.array([e.label != "normal" for e in examples])
    return {
        "ralo": {score: ralo_agreement(readings.ralo[score][ralo], predicted[score][ralo], patients[ralo])
                 for score in SCORES},
        "ralo_serial_exams": {score: ralo_serial_exams(readings.ralo[score][ralo], predicted[score][ralo],
                                                       patients[ralo], readings.exam_index[ralo])
                              for score in SCORES},
        "covidnet": {score: agreement(readings.covidnet[score], predicted[score].sum(axis=1), patients)
                     for score in SCORES},
        "zones_brixia": zone_metrics(zone_truth[zoned], probabilities["zones"][zoned], patients[zoned],
                                     zone_threshold),
    }
