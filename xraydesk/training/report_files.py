"""Writes an evaluation report folder: metrics.json, summary.md and the plots."""

import json
import math
from pathlib import Path

import numpy as np

from xraydesk.ai import outputs
from xraydesk.training import metrics


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _roc_plot(results, out: Path) -> None:
    plt = _figure()
    figure, axes = plt.subplots(figsize=(5, 5))
    labels = np.array([e.label for e in results.examples])
    adult = np.array([e.age_group == "adult" for e in results.examples])
    cause = results.probabilities["cause"]
    curves = {"pneumonia vs normal": (labels != "normal", results.probabilities["pneumonia"], slice(None)),
              "COVID-19 vs other (adults)": (labels == "covid", results.probabilities["covid"], adult)}
    bv = np.isin(labels, ["bacterial", "viral"])
    curves["viral vs bacterial"] = (labels == "viral", cause[:, 1] / np.maximum(cause[:, 0] + cause[:, 1], 1e-9), bv)
    for name, (truth, score, mask) in curves.items():
        truth, score = truth[mask], score[mask]
        if len(np.unique(truth)) == 2:
            fpr, tpr = metrics.roc_curve(truth, score)
            axes.plot(fpr, tpr, label=f"{name} (AUC {metrics.roc_auc(truth, score):.3f})")
    axes.plot([0, 1], [0, 1], ":", color="grey")
    axes.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC curves")
    axes.legend(loc="lower right", fontsize=8)
    figure.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(figure)


def _confusion_plot(results, out: Path) -> None:
    plt = _figure()
    classes = ["normal", *outputs.CAUSES]
    probabilities = np.stack([results.probabilities[name] for name in classes], axis=1)
    labels = np.array([e.label for e in results.examples])
    known = np.isin(labels, classes)
    truth = np.array([classes.index(label) for label in labels[known]])
    predicted = probabilities[known].argmax(axis=1)
    matrix = np.zeros((4, 4), int)
    np.add.at(matrix, (truth, predicted), 1)
    figure, axes = plt.subplots(figsize=(5, 4.5))
    axes.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        axes.text(j, i, str(count), ha="center", va="center", color="black")
    axes.set(xticks=range(4), yticks=range(4), xticklabels=classes, yticklabels=classes,
             xlabel="predicted (largest joint probability)", ylabel="label", title="Confusion matrix")
    figure.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(figure)


def _calibration_plot(results, out: Path) -> None:
    plt = _figure()
    truth = results.targets["pneumonia"][:, 0]
    score = results.probabilities["pneumonia"]
    edges = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(score, edges[1:-1]), 0, 9)
    centres = [score[which == b].mean() for b in range(10) if (which == b).any()]
    observed = [truth[which == b].mean() for b in range(10) if (which == b).any()]
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 1], ":", color="grey")
    axes.plot(centres, observed, "o-")
    axes.set(xlabel="predicted p(pneumonia)", ylabel="observed fraction with pneumonia",
             title="Calibration (after temperature scaling)")
    figure.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(figure)


def _severity_plot(results, zone_threshold: float, out: Path) -> None:
    plt = _figure()
    not_normal = np.array([e.label != "normal" for e in results.examples])
    zoned = not_normal & (results.targets["zones"][:, 0] >= 0)
    extent = not_normal & (results.targets["extent"][:, 0] >= 0)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    rng = np.random.default_rng(0)
    truth = results.targets["zones"][zoned].sum(axis=1)
    score = (results.probabilities["zones"][zoned] >= zone_threshold).sum(axis=1)
    left.scatter(truth + rng.uniform(-0.15, 0.15, len(truth)), score + rng.uniform(-0.15, 0.15, len(score)), s=12)
    left.plot([0, 6], [0, 6], ":", color="grey")
    left.set(xlabel="six-zone score, Brixia senior reader", ylabel="model six-zone score",
             title=f"Six-zone score (n={int(zoned.sum())})")
    right.scatter(results.targets["extent"][extent, 0] * outputs.EXTENT_MAX, results.probabilities["extent"][extent], s=12)
    right.plot([0, 8], [0, 8], ":", color="grey")
    right.set(xlabel="geographic extent, COVID-Net readers", ylabel="model estimate",
              title=f"Geographic extent 0-8 (n={int(extent.sum())})")
    figure.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(figure)


def _fmt(estimate) -> str:
    if not isinstance(estimate, dict) or "value" not in estimate:
        return "n/a"
    low, high = estimate["ci95"]
    if math.isnan(estimate["value"]):
        return "n/a"
    return f"{estimate['value']:.3f} ({low:.3f}-{high:.3f}), n={estimate['n']}"


def summary_markdown(report: dict) -> str:
    severity = report["severity"]
    rows = [
        ("normal vs pneumonia, Kermany: AUC", report["normal_vs_pneumonia_kermany"].get("auc")),
        ("normal vs pneumonia, Kermany: accuracy at p>=0.5", report["normal_vs_pneumonia_kermany"].get("accuracy_at_0.5")),
        ("normal vs pneumonia, all sources: AUC", report["normal_vs_pneumonia_all"].get("auc")),
        ("pneumonia sensitivity at operating point (all)", report["normal_vs_pneumonia_all"].get("sensitivity_at_operating_point")),
        ("pneumonia specificity at operating point (all)", report["normal_vs_pneumonia_all"].get("specificity_at_operating_point")),
        ("bacterial vs viral, Kermany: AUC", report["bacterial_vs_viral_kermany"].get("auc")),
        ("bacterial vs viral, Kermany: accuracy", report["bacterial_vs_viral_kermany"].get("accuracy")),
        ("bacterial vs viral, adults: AUC", report["bacterial_vs_viral_adult"].get("auc")),
        ("COVID-19 vs other adults: AUC", report["covid_vs_other_adult"].get("auc")),
        ("COVID-19 sensitivity at stored operating point", report["covid_vs_other_adult"].get("sensitivity_at_operating_point")),
        ("COVID-19 specificity at stored operating point", report["covid_vs_other_adult"].get("specificity_at_operating_point")),
        ("COVID-19 sensitivity at 95% specificity (threshold set on this split)",
         report["covid_vs_other_adult"].get("sensitivity_at_95_specificity_on_this_split")),
        ("six zones: mean zone AUC", severity.get("zones", {}).get("mean_zone_auc")),
        ("six-zone score MAE", severity.get("zones", {}).get("score_mae")),
        ("geographic extent MAE", severity.get("geographic_extent", {}).get("mae")),
        ("geographic extent Pearson r", severity.get("geographic_extent", {}).get("pearson_r")),
        ("lung segmentation Dice", report["lung_segmentation"].get("dice")),
    ]
    lines = [f"# Evaluation of {report['model']} on {'+'.join(report['splits'])}", "",
             f"{report['n_images']} images; 95% CIs by bootstrap over patients (1,000 rounds).", "",
             "| metric | value (95% CI), n |", "|---|---|"]
    lines += [f"| {name} | {_fmt(value)} |" for name, value in rows]
    calibration = report["calibration"]
    lines += ["", "## Calibration (expected calibration error)", "",
              "| output | before | after temperature scaling |", "|---|---|---|",
              f"| pneumonia | {calibration['pneumonia_ece']['before']:.3f} | {calibration['pneumonia_ece']['after']:.3f} |",
              f"| cause | {calibration['cause_ece']['before']:.3f} | {calibration['cause_ece']['after']:.3f} |",
              "", f"Chest X-rays refused by the learned input check: {report['input_check_chest_refused_by_learned_scores']:.2%}"]
    lines += _input_check_lines(report.get("input_check_non_chest")) + _heatmap_lines(report.get("heatmaps"))
    lines += _external_lines(report.get("external_rsna"))
    for title, key in (("Per source", "per_source"), ("Per age group", "per_age_group")):
        lines += ["", f"## {title}", "", "| group | n | labels | pneumonia AUC | flagged pneumonia | mean p(COVID) |",
                  "|---|---|---|---|---|---|"]
        for group, row in report[key].items():
            labels = ", ".join(f"{k} {v}" for k, v in row["labels"].items())
            lines.append(f"| {group} | {row['n']} | {labels} | {_fmt(row['pneumonia'].get('auc'))} "
                         f"| {row['pneumonia_positive_rate']:.1%} | {row['mean_p_covid']:.3f} |")
    return "\n".join(lines) + "\n"


def _input_check_lines(check: dict | None) -> list[str]:
    if not check:
        return []
    lines = ["", "## Input check on images that are not chest X-rays", "",
             f"{check['n']} images; accepted (should be none): {', '.join(check['accepted']) or 'none'}", "",
             "| image | refused | reason |", "|---|---|---|"]
    return lines + [f"| {name} | {'yes' if case['refused'] else '**no**'} | {case['reason']} |"
                    for name, case in check["cases"].items()]


def _heatmap_lines(heatmaps: dict | None) -> list[str]:
    if not heatmaps:
        return []
    mass, pointing, sanity = heatmaps["lung_mass"], heatmaps["pointing_game_rsna"], heatmaps["randomisation_sanity"]
    by_age = ", ".join(f"{age} {share:.1%}" for age, share in mass["by_age_group"].items())
    return ["", "## What the Grad-CAM heatmaps look at (target: pneumonia)", "",
            f"- heatmap mass inside the reference lung masks: {mass['mean_share_in_lungs']:.1%} "
            f"(the lungs cover {mass['lung_area_share']:.1%} of the image; n={mass['n']} pneumonia images; "
            f"by age group: {by_age}; empty maps: {mass['empty_maps']})",
            "- the other outputs' maps, same images: " + ", ".join(
                f"{target} {share:.1%}" for target, share in heatmaps.get("lung_mass_other_targets", {}).items())
            + " of the mass inside the lungs",
            f"- pointing game on the positive RSNA DICOMs: {pointing['hit_rate']:.0%} of {pointing['n']} "
            "heatmap peaks fall inside a radiologist's opacity box",
            f"- randomising the last stage's weights: mean rank correlation with the trained maps "
            f"{sanity['mean_rank_correlation']:.2f} (n={sanity['n']}; near 0 means the map depends on the "
            "learned weights)"]


def _external_lines(external: dict | None) -> list[str]:
    if not external:
        return []
    lines = ["", "## Outside hospital: the RSNA DICOMs (never trained on)", "",
             f"{external['n']} images, {external['refused']} refused by the input check; "
             f"AUC lung opacity vs normal: {external['lung_opacity_vs_normal_auc']:.3f}", "",
             "| RSNA class | n | mean p(pneumonia) | flagged pneumonia | mean p(COVID-19) |", "|---|---|---|---|---|"]
    return lines + [f"| {label} | {row['n']} | {row['mean_p_pneumonia']:.2f} | {row['flagged_pneumonia']:.0%} "
                    f"| {row['mean_p_covid']:.2f} |" for label, row in external["by_class"].items()]


def write_report(report: dict, results, zone_threshold: float, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (out_dir / "summary.md").write_text(summary_markdown(report))
    _roc_plot(results, out_dir / "roc.png")
    _confusion_plot(results, out_dir / "confusion.png")
    _calibration_plot(results, out_dir / "calibration.png")
    _severity_plot(results, zone_threshold, out_dir / "severity.png")
