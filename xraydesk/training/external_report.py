"""An outside-hospital check: the 29 RSNA Pneumonia Challenge DICOMs (adult, NIH-derived, 1024²,
JPEG) were never trained on; they go through the same DICOM pipeline as the app."""

import csv
from pathlib import Path

import numpy as np

from xraydesk.ai.inputs import prepare_image
from xraydesk.imaging import load_image
from xraydesk.training import metrics
from xraydesk.training.data import default_data_root


def rsna_report(model, data_root=None) -> dict:
    folder = Path(data_root or default_data_root()) / "dicom" / "rsna"
    with open(folder / "boxes.csv", newline="") as handle:
        classes = {row["file"]: row["class"] for row in csv.DictReader(handle)}
    names = sorted(classes)
    prepared = [prepare_image(load_image(folder / name)) for name in names]
    outcomes = model.analyse_inputs(np.stack([p[0] for p in prepared]), [p[1] for p in prepared])
    accepted = [(classes[n], o.prediction) for n, o in zip(names, outcomes) if o.prediction]
    by_class = {}
    for label in sorted(set(classes.values())):
        predictions = [p for c, p in accepted if c == label]
        by_class[label] = {
            "n": len(predictions),
            "mean_p_pneumonia": float(np.mean([p.p_pneumonia for p in predictions])),
            "flagged_pneumonia": float(np.mean([p.pneumonia_positive for p in predictions])),
            "mean_p_covid": float(np.mean([p.p_covid for p in predictions])),
            # RSNA predates COVID-19 (issue 9: 21 of 22 positive calls here read as COVID-19 in 0.2.0)
            "called_covid": float(np.mean([p.covid_positive for p in predictions])),
        }
    opacity_vs_normal = [(c == "Lung Opacity", p.p_pneumonia) for c, p in accepted if c in ("Lung Opacity", "Normal")]
    labels, scores = (np.array(column) for column in zip(*opacity_vs_normal))
    return {"n": len(names), "refused": len(names) - len(accepted), "by_class": by_class,
            "lung_opacity_vs_normal_auc": metrics.roc_auc(labels, scores)}
