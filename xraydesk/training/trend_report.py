"""The severity trend's "no clear change" limits, measured on val, and their check on the RALO serial films.

A change between two of a patient's studies is called a change only when it is at least as large as
what repeating the reading changes on its own (RULE). Two repeat readings are measured, on val only,
so that the rule was fixed before any test figure was seen:
- the readers: RALO reader 1 against reader 2 (geographic extent, 0-8) and the Brixia senior against
  the junior reader (six-zone score: zones scored >= 1, the training rule's reading of Brixia);
- the model: each val film against a perturbed view of it (small rotation, zoom, shift and exposure:
  what a repeat film changes; the perturbation behind the borderline bands, finalize.perturbed_views):
  extent and six-zone score on the RALO films (the serial, scored population) whose lung mask is
  plausible in both views (elsewhere severity is withheld); p(pneumonia) on every val film (it is read
  on every kind of film, and RALO films sit mostly at p > 0.99, where it hardly moves).

`python -m xraydesk.training.trend_report [--models DIR] [--write-metadata]` prints the figures, writes them
to reports/trend/trend.json and, with --write-metadata, stores the limits in the model folder's metadata
(its `trend` section, read by xraydesk.ai.trend.ChangeLimits). About 10 minutes on a 2-core CPU (3,500
forward passes)."""

import argparse
import json
from pathlib import Path

import numpy as np

from xraydesk.ai.lung_check import check_lung_mask
from xraydesk.ai.model import ChestXRayModel, calibrated_probabilities, default_model_dir
from xraydesk.ai.outputs import BRIXIA_ZONE_COLUMNS, METADATA_FILE
from xraydesk.ai.trend import MEASURES, judged_scale
from xraydesk.ai.zones import lung_mask
from xraydesk.training import data, metrics
from xraydesk.training.finalize import perturbed_views, run_forward
from xraydesk.training.severity_report import (
    MIN_CHANGE,
    consecutive_exam_pairs,
    read_readings,
    readers_mean_total,
    serial_exams,
)

RULE = ("a change is called only when it is at least the larger of two repeat-reading spreads measured on val: "
        "the mean absolute difference between two readers of the same film (RALO reader 1 vs 2 for extent, Brixia "
        "senior vs junior for the six-zone score) and between the model's readings of a film and of a perturbed "
        "view of it (rotation, zoom, shift, exposure; RALO val films for the scores); p(pneumonia), judged as a logit "
        "held within 0.01-0.99, has no second reader: the model's spread alone, over every val film")


def mean_absolute(differences: np.ndarray, patients: np.ndarray) -> dict:
    return metrics.estimate_with_ci(lambda d: float(np.mean(np.abs(d))), patients, differences)


def film_outputs(model: ChestXRayModel, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """What the trend shows of each film (MEASURES) and whether its severity would be shown."""
    raw = run_forward(model, inputs)
    probabilities = calibrated_probabilities(raw, model.metadata)
    zone_point = model.metadata["operating_points"]["zone"]["threshold"]
    return {"geographic_extent": probabilities["extent"],
            "six_zone_score": (probabilities["zones"] >= zone_point).sum(axis=1).astype(float),
            "p_pneumonia": probabilities["pneumonia"],
            "plausible": np.array([check_lung_mask(lung_mask(lungs), image[..., 0] / 255.0).plausible
                                   for lungs, image in zip(raw["lungs"], inputs)])}


def brixia_reader_difference(examples, data_root=None) -> tuple[np.ndarray, np.ndarray]:
    """Senior minus junior six-zone score (zones scored >= 1) on the films both read; their patients."""
    rows = data.severity_by_image(Path(data_root or data.default_data_root()) / "cxr")
    differences, patients = [], []
    for example in examples:
        row = rows.get(example.image, {})
        scores = {reader: [row.get(f"brixia_{reader}_{zone}", "") for zone in BRIXIA_ZONE_COLUMNS]
                  for reader in ("S", "J")}
        if all(scores["S"]) and all(scores["J"]):
            senior, junior = (sum(float(score) >= 1 for score in scores[reader]) for reader in ("S", "J"))
            differences.append(senior - junior)
            patients.append(example.patient_id)
    return np.array(differences, float), np.array(patients)


def repeat_spreads(val, original: dict, perturbed: dict, data_root=None) -> dict:
    """The readers' and the model's repeat-reading spreads, per measure (mean |difference| with CI, on
    trend.judged_scale). `original` and `perturbed`: film_outputs of every val film and of its perturbed view."""
    patients = np.array([e.patient_id for e in val])
    ralo = np.array([e.source == "ralo" for e in val])
    totals = read_readings(val, data_root).ralo["extent"].sum(axis=2)  # (N, reader); NaN where unscored
    both_read = ralo & np.isfinite(totals).all(axis=1)
    brixia_difference, brixia_patients = brixia_reader_difference(val, data_root)
    measured_on = {"geographic_extent": ralo & original["plausible"] & perturbed["plausible"],
                   "p_pneumonia": np.ones(len(val), bool)}
    measured_on["six_zone_score"] = measured_on["geographic_extent"]
    return {
        "readers": {"geographic_extent": mean_absolute(totals[both_read, 0] - totals[both_read, 1],
                                                       patients[both_read]),
                    "six_zone_score": mean_absolute(brixia_difference, brixia_patients)},
        "repeat_views": {measure: mean_absolute(judged_scale(measure, original[measure][films])
                                                - judged_scale(measure, perturbed[measure][films]), patients[films])
                         for measure, films in measured_on.items()},
    }


def change_limits(spreads: dict) -> dict[str, float]:
    return {measure: max(spread[measure]["value"] for spread in spreads.values() if measure in spread)
            for measure in MEASURES}


def _share(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def verdicts(readers_change: np.ndarray, predicted_change: np.ndarray, limit: float, patients: np.ndarray) -> dict:
    """The trend's three-way call (worse / improving / no clear change) against the readers' change:
    over all pairs, the share called no clear change; among pairs the readers moved by >= MIN_CHANGE, the
    shares called in their direction, no clear change, and against them; among pairs they did not move,
    the share called no clear change."""
    clear = np.abs(predicted_change) >= limit
    moved = np.abs(readers_change) >= MIN_CHANGE
    agrees = clear & (np.sign(predicted_change) == np.sign(readers_change))
    opposes = clear & (np.sign(predicted_change) == -np.sign(readers_change))

    def share(flags: np.ndarray, among: np.ndarray) -> dict:
        return metrics.estimate_with_ci(_share, patients[among], flags[among].astype(float))

    everything = np.ones(len(clear), bool)
    return {"no_clear_change": share(~clear, everything),
            "readers_moved": {"same_direction": share(agrees, moved), "no_clear_change": share(~clear, moved),
                              "opposite_direction": share(opposes, moved)},
            "readers_unmoved": {"no_clear_change": share(~clear, ~moved)}}


def serial_validation(examples, predicted_extent: np.ndarray, limit: float, data_root=None) -> dict:
    """On a split's RALO serial films: severity_report's direction agreement and rank correlation of the
    changes (model extent vs the readers' mean total), and the trend's verdicts under `limit`."""
    readings = read_readings(examples, data_root)
    patients = np.array([e.patient_id for e in examples])
    truth = readers_mean_total(readings.ralo["extent"])
    earlier, later = consecutive_exam_pairs(patients, readings.exam_index)
    readers_change, predicted_change = truth[later] - truth[earlier], predicted_extent[later] - predicted_extent[earlier]
    known = np.isfinite(readers_change)
    return {**serial_exams(patients, readings.exam_index, truth, predicted_extent),
            "verdicts": verdicts(readers_change[known], predicted_change[known], limit, patients[earlier][known])}


def trend_report(model: ChestXRayModel, data_root=None) -> dict:
    examples = data.load_examples(data_root)
    val = [e for e in examples if e.split == "val"]
    val_inputs = data.model_inputs(val, data_root)
    original = film_outputs(model, val_inputs)
    spreads = repeat_spreads(val, original, film_outputs(model, perturbed_views(val_inputs)), data_root)
    limits = change_limits(spreads)  # fixed here, from val alone, before test is read below
    ralo_val = np.array([e.source == "ralo" for e in val])
    ralo_test = [e for e in examples if e.source == "ralo" and e.split == "test"]
    test = film_outputs(model, data.model_inputs(ralo_test, data_root))
    return {"model": model.version, "rule": RULE, "spreads_val": spreads, "no_clear_change": limits,
            "serial_exams": {
                "val": serial_validation([e for e, is_ralo in zip(val, ralo_val) if is_ralo],
                                         original["geographic_extent"][ralo_val], limits["geographic_extent"],
                                         data_root),
                "test": serial_validation(ralo_test, test["geographic_extent"], limits["geographic_extent"],
                                          data_root)}}


def store_limits(models_dir: Path, report: dict) -> None:
    """The `trend` section of the model's metadata: the limits the runtime reads, the rule and its figures."""
    path = models_dir / METADATA_FILE
    metadata = json.loads(path.read_text())
    metadata["trend"] = {"no_clear_change": report["no_clear_change"], "rule": report["rule"],
                         "val_spreads": {source: {measure: round(spread["value"], 4) for measure, spread in figures.items()}
                                         for source, figures in report["spreads_val"].items()}}
    path.write_text(json.dumps(metadata, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xraydesk.training.trend_report", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, help="model folder (default: the shipped models/)")
    parser.add_argument("--out", type=Path, default=data.REPO_ROOT / "reports" / "trend")
    parser.add_argument("--write-metadata", action="store_true", help="store the limits in the model's metadata")
    args = parser.parse_args(argv)
    model = ChestXRayModel.load(args.models)
    report = trend_report(model)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "trend.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if args.write_metadata:
        store_limits(Path(args.models or default_model_dir()), report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
