"""Writes an evaluation report folder: metrics.json, summary.md and the plots."""

import json
import math
from pathlib import Path

import numpy as np

from xraydesk.ai import outputs
from xraydesk.training import metrics
from xraydesk.training.severity_report import readers_mean_total

RSNA_CLASSES = {"normal": "normal", "other_abnormal": "abnormal, no lung opacity", "pneumonia_unspecified": "lung opacity",
                "all": "every class"}
SERIAL_COMPARISONS = {"model_vs_readers_mean": "model vs readers' mean", "reader_1_vs_reader_2": "reader 1 vs reader 2"}


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
    zoned = results.readings.brixia & np.array([e.label != "normal" for e in results.examples])
    ralo = results.readings.has_ralo
    covidnet = np.isfinite(results.readings.covidnet["extent"])
    figure, (zones_axes, extent_axes) = plt.subplots(1, 2, figsize=(10, 4.5))
    rng = np.random.default_rng(0)
    truth = results.targets["zones"][zoned].sum(axis=1)
    score = (results.probabilities["zones"][zoned] >= zone_threshold).sum(axis=1)
    zones_axes.scatter(truth + rng.uniform(-0.15, 0.15, len(truth)), score + rng.uniform(-0.15, 0.15, len(score)), s=12)
    zones_axes.plot([0, 6], [0, 6], ":", color="grey")
    zones_axes.set(xlabel="six-zone score, Brixia senior reader", ylabel="model six-zone score",
                   title=f"Six-zone score (n={int(zoned.sum())})")
    extent_axes.scatter(readers_mean_total(results.readings.ralo["extent"][ralo]),
                        results.probabilities["extent"][ralo], s=8, alpha=0.5,
                        label=f"RALO, mean of two readers (n={int(ralo.sum())})")
    extent_axes.scatter(results.readings.covidnet["extent"][covidnet], results.probabilities["extent"][covidnet],
                        s=12, marker="s", label=f"COVID-Net readers (n={int(covidnet.sum())})")
    extent_axes.plot([0, 8], [0, 8], ":", color="grey")
    extent_axes.set(xlabel="geographic extent, readers", ylabel="model estimate", title="Geographic extent 0-8")
    extent_axes.legend(loc="upper left", fontsize=8)
    figure.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(figure)


def _fmt(estimate) -> str:
    if not isinstance(estimate, dict) or "value" not in estimate or math.isnan(estimate["value"]):
        return "n/a"
    low, high = estimate["ci95"]
    return f"{estimate['value']:.3f} ({low:.3f}-{high:.3f}), n={estimate['n']}"


def _pct(estimate) -> str:
    """A share with its interval, in percent."""
    if not isinstance(estimate, dict) or "value" not in estimate or math.isnan(estimate["value"]):
        return "n/a"
    low, high = estimate["ci95"]
    return f"{estimate['value']:.1%} ({low:.1%}-{high:.1%}), n={estimate['n']}"


def _percent(estimate) -> str:
    """A share without its interval (wide tables; the JSON keeps the interval)."""
    value = _value(estimate)
    return "n/a" if math.isnan(value) else f"{value:.1%}"


def _value(estimate) -> float:
    return estimate["value"] if isinstance(estimate, dict) and "value" in estimate else float("nan")


def _met(value: float, limit: float, at_least: bool) -> str:
    if math.isnan(value):
        return "n/a"
    return "yes" if (value >= limit if at_least else value <= limit) else "**no**"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(row) + " |"
                                                                             for row in rows]


def _section(title: str, *paragraphs_and_tables) -> list[str]:
    lines = ["", f"## {title}"]
    for part in paragraphs_and_tables:
        lines += [""] + (part if isinstance(part, list) else [part])
    return lines


def _targets_lines(report: dict) -> list[str]:
    """Issue 9's targets, each with its figure and whether the point estimate meets it."""
    rsna = report["rsna_normal_vs_lung_opacity"]["all"]
    calls = report["pre_covid_rsna_calls"]
    refused = {source: row["refused"] for source, row in report["input_check_chest"]["per_source"].items()}
    worst = max(refused, key=lambda source: _value(refused[source])) if refused else None
    ralo = report["severity"]["ralo"]["extent"]["total_vs_readers_mean"]
    serial = report["severity"]["ralo_serial_exams"]["extent"]["model_vs_readers_mean"]
    heatmaps = report.get("heatmaps")
    pointing = heatmaps["candidates"][heatmaps["shipped"]].get("rsna_boxes", {}).get("pointing_game") if heatmaps else None
    non_chest = report.get("input_check_non_chest")
    rows = [
        ("RSNA normal vs lung opacity: AUC", rsna.get("auc"), 0.92, True, _fmt),
        ("RSNA: specificity at the stored pneumonia operating point", rsna.get("specificity_at_operating_point"),
         0.80, True, _pct),
        ("held-out RSNA films (2018) called COVID-19", calls["all"]["called_covid"], 0.05, False, _pct),
        (f"chest films refused, worst source ({worst})" if _value(refused.get(worst)) > 0
         else "chest films refused (no source has any)", refused.get(worst), 0.01, False, _pct),
        ("geographic extent 0-8 vs RALO readers' mean: MAE", ralo["mae"], 1.0, False, _fmt),
        ("geographic extent 0-8 vs RALO readers' mean: Pearson r", ralo["pearson_r"], 0.85, True, _fmt),
        ("serial RALO films: predicted change has the readers' direction (changes >= 1)",
         serial["direction_agreement"], 0.80, True, _pct),
        ("pointing game, shipped map, RSNA boxes of this split", pointing, 0.70, True, _pct),
        ("Kermany normal vs pneumonia: AUC", report["normal_vs_pneumonia_kermany"].get("auc"), 0.97, True, _fmt),
    ]
    table = [[name, show(estimate), f"{'>=' if at_least else '<='} {limit:.0%}" if show is _pct
              else f"{'>=' if at_least else '<='} {limit:.2f}", _met(_value(estimate), limit, at_least)]
             for name, estimate, limit, at_least, show in rows]
    if non_chest:
        table.append(["non-chest images accepted by the input check", f"{len(non_chest['accepted'])} of {non_chest['n']}",
                      "0", _met(float(len(non_chest["accepted"])), 0, False)])
    no_zones = report["severity"]["positive_with_0_zones"]
    table.append(["pneumonia-positive (outside the band, plausible lungs) with six-zone score 0",
                  _pct(no_zones["share"]), "rare", ""])
    return _section("Targets (issue 9; met = the point estimate, the interval says how sure)",
                    _table(["target", "value (95% CI), n", "target", "met"], table))


def _headline_lines(report: dict) -> list[str]:
    covid = report["covid_vs_other_adult"]
    rows = [
        ("normal vs pneumonia, Kermany: AUC", report["normal_vs_pneumonia_kermany"].get("auc")),
        ("normal vs pneumonia, Kermany: accuracy at p>=0.5", report["normal_vs_pneumonia_kermany"].get("accuracy_at_0.5")),
        ("normal vs pneumonia, adults: AUC", report["normal_vs_pneumonia_adult"].get("auc")),
        ("normal vs pneumonia, all sources: AUC", report["normal_vs_pneumonia_all"].get("auc")),
        ("pneumonia sensitivity at operating point (all)", report["normal_vs_pneumonia_all"].get("sensitivity_at_operating_point")),
        ("pneumonia specificity at operating point (all)", report["normal_vs_pneumonia_all"].get("specificity_at_operating_point")),
        ("bacterial vs viral, Kermany: AUC", report["bacterial_vs_viral_kermany"].get("auc")),
        ("bacterial vs viral, Kermany: accuracy", report["bacterial_vs_viral_kermany"].get("accuracy")),
        ("bacterial vs viral, adults: AUC", report["bacterial_vs_viral_adult"].get("auc")),
        ("COVID-19 vs other adults: AUC", covid.get("auc")),
        ("COVID-19 sensitivity at stored operating point", covid.get("sensitivity_at_operating_point")),
        ("COVID-19 specificity at stored operating point", covid.get("specificity_at_operating_point")),
        ("COVID-19 sensitivity at 95% specificity (threshold set on this split)",
         covid.get("sensitivity_at_95_specificity_on_this_split")),
        ("lung segmentation Dice", report["lung_segmentation"].get("dice")),
    ]
    return _section("Main figures", _table(["metric", "value (95% CI), n"], [[name, _fmt(value)] for name, value in rows]))


def _rsna_lines(report: dict) -> list[str]:
    rsna = report["rsna_normal_vs_lung_opacity"]
    rows = [[group, str(row["n"]), _fmt(row.get("auc")), _pct(row.get("sensitivity_at_operating_point")),
             _pct(row.get("specificity_at_operating_point"))]
            for group, row in [("all views", rsna["all"]), *rsna["per_view"].items()]]
    return _section("RSNA adults: normal vs lung opacity, by view",
                    "Lung-opacity films are mostly AP and normals mostly PA: if the model read \"AP\" as disease, "
                    "specificity would fall on AP normals and sensitivity on PA opacities. Operating point: the "
                    "stored pneumonia threshold.",
                    _table(["view", "n", "AUC", "sensitivity", "specificity"], rows))


def _covid_lines(report: dict) -> list[str]:
    rows = [[source, str(row["n"]), str(row["n_covid"]), _fmt(row.get("auc")),
             _pct(row.get("sensitivity_at_operating_point")), _pct(row.get("specificity_at_operating_point"))]
            for source, row in report["covid_vs_other_adult_per_source"].items()]
    calls = report["pre_covid_rsna_calls"]
    categories = list(next(iter(calls.values()))["categories"]) if calls else []
    call_rows = [[RSNA_CLASSES[label], f"{row['n_accepted']} of {row['n']}",
                  _pct(row["called_covid"]), *(_pct(row["categories"][category]) for category in categories)]
                 for label, row in calls.items()]
    return _section("COVID-19",
                    "COVID-19 vs other adults, per source, at the stored COVID-19 operating point (a source with "
                    "only COVID-19 films has only a sensitivity, one without any only a specificity). Within adults "
                    "the COVID-19 films come from other collections than the others, so these figures partly "
                    "measure the collection.",
                    _table(["source", "n", "COVID-19", "AUC", "sensitivity", "specificity"], rows),
                    "Held-out RSNA films (2018, before COVID-19; accepted by the input check): the share called "
                    "COVID-19 and the share in each RSNA consensus category (Simpson et al. 2020).",
                    _table(["RSNA class", "accepted", "called COVID-19", *categories], call_rows))


def _chest_check_lines(report: dict) -> list[str]:
    checks, flags = report["input_check_chest"], report["flags_per_source"]
    rows = [[source, str(row["n"]), _pct(row["refused"]), _pct(row["unfamiliar"]),
             *(f"{flags[source][flag]:.1%}" if not math.isnan(flags[source][flag]) else "n/a"
               for flag in ("lung_mask_failed", "borderline_pneumonia", "borderline_covid", "positive_no_zones"))]
            for source, row in checks["per_source"].items()]
    everything = checks["all"]
    refused = [f"- {source}: {name} — {reason}" for source, row in checks["per_source"].items()
               for name, reason in row["refused_images"].items()]
    return _section("Input check on the chest films, and the flags, per source",
                    f"All sources: refused {_pct(everything['refused'])}, flagged unfamiliar "
                    f"{_pct(everything['unfamiliar'])} (pixels and learned scores; target: <= 1% refused in every "
                    "source). The flag columns are shares of the accepted images.",
                    _table(["source", "n", "refused", "unfamiliar", "lung mask implausible", "borderline pneumonia",
                            "borderline COVID-19", "positive with 0/6 zones"], rows),
                    ["Refused chest films:", *(refused or ["- none"])])


def _agreement_cells(row: dict) -> list[str]:
    difference = _value(row["mean_difference"])
    return [_fmt(row["mae"]), _fmt(row["pearson_r"]), "n/a" if math.isnan(difference) else f"{difference:+.2f}"]


def _severity_lines(report: dict) -> list[str]:
    severity = report["severity"]
    header = ["comparison", "MAE (95% CI), n", "Pearson r (95% CI)", "mean difference"]
    parts = ["Extent = geographic extent of involvement, opacity = degree of opacity; 0-4 per lung, 0-8 in all. "
             "RALO: Stony Brook portable films, each read by two readers; the readers' agreement with each other "
             "is the ceiling for a model judged against one reader. Mean difference: second minus first "
             "(model minus readers)."]
    for score, ralo in severity["ralo"].items():
        rows = [["model vs readers' mean, 0-8", *_agreement_cells(ralo["total_vs_readers_mean"])]]
        rows += [[f"model vs readers' mean, {lung} lung 0-4", *_agreement_cells(row)]
                 for lung, row in ralo["per_lung_vs_readers_mean"].items()]
        rows += [[f"model vs {reader.replace('_', ' ')}, 0-8", *_agreement_cells(row)]
                 for reader, row in ralo["total_vs_each_reader"].items()]
        rows += [[f"reader 2 vs reader 1, {'0-8' if part == 'total' else part + ' lung 0-4'}", *_agreement_cells(row)]
                 for part, row in ralo["inter_reader"].items()]
        parts += [f"**RALO {score}**", _table(header, rows)]
    parts += ["**COVID-Net readings** (extent 0-8; opacity only where read on 0-8)",
              _table(header, [[f"model vs COVID-Net {score}, 0-8", *_agreement_cells(row)]
                              for score, row in severity["covidnet"].items()])]
    serial_rows = []
    for score, comparisons in severity["ralo_serial_exams"].items():
        for who, row in comparisons.items():
            serial_rows.append([score, SERIAL_COMPARISONS[who], str(row["n_patients"]),
                                str(row["n_pairs"]), _pct(row["direction_agreement"]),
                                _fmt(row["change_rank_correlation"])])
    parts += ["**Serial films** (RALO patients with >= 2 films in the split, consecutive pairs by exam index): "
              "direction = share of the pairs whose readers' mean changed by >= 1 point where the predicted change "
              "has the same sign (n = those pairs); rank correlation (Spearman) of the changes over all pairs. "
              "Reader 1 vs reader 2: reader 1's change against reader 2's, the ceiling.",
              _table(["score", "comparison", "patients", "pairs", "direction agreement", "rank correlation of changes"],
                     serial_rows)]
    zones = severity["zones_brixia"]
    if "mean_zone_auc" in zones:
        parts += ["**Six zones** vs the Brixia senior reader (zone positive when scored >= 1): mean zone AUC "
                  f"{_fmt(zones['mean_zone_auc'])}; six-zone score MAE {_fmt(zones['score_mae'])}; per zone "
                  + ", ".join(f"{zone} {auc:.2f}" for zone, auc in zones["per_zone_auc"].items()) + "."]
    no_zones = severity["positive_with_0_zones"]
    parts.append(f"**Positive with 0/6 zones**: of {no_zones['n_called_positive']} accepted images called "
                 "pneumonia-positive outside the borderline band on a plausible lung mask, "
                 f"{no_zones['n_with_0_zones']} have a six-zone score of 0: {_pct(no_zones['share'])}.")
    return _section("Severity", *parts)


def _answer_table(by_label: dict) -> list[list[str]]:
    from xraydesk.ai.words import ANSWERS

    return [[label, f"{row['n_accepted']} of {row['n']}", *(_percent(row[words]) for words in ANSWERS)]
            for label, row in by_label.items()]


def _three_answers_lines(three: dict | None) -> list[str]:
    if not three:
        return []
    from xraydesk.ai.words import ANSWERS

    lines = []
    for title, key in (("source", "per_source"), ("age group", "per_age_group"), ("view", "per_view")):
        rows = []
        for group, row in three[key].items():
            auc = _fmt(row["abnormal_vs_normal"].get("auc"))
            rows += [[f"{group}: {cells[0]}", *cells[1:], auc] for cells in _answer_table(row["answers_by_label"])]
        lines += _section(f"Three answers per {title} (share of accepted films per label; abnormal vs normal AUC)",
                          _table([f"{title}: label", "accepted", *ANSWERS, "abnormal AUC"], rows))
    negatives = three["negative_call_rates"]
    lines += _section(
        "Projection: RSNA negatives called pneumonia-like opacity, per view (targets: AP - PA <= 10 points; "
        "other_abnormal <= 15%)",
        _table(["label", "all views", "AP", "PA", "unknown", "AP - PA (points)"],
               [[label, *(_pct(row["called_pneumonia"].get(view)) for view in ("all views", "AP", "PA", "unknown")),
                 "n/a" if row["ap_minus_pa_points"] is None else f"{row['ap_minus_pa_points']:.1f}"]
                for label, row in negatives.items()]))
    lines += _section("Films from before 2019 (NIH, RSNA) called COVID-19 (target <= 5%)",
                      _table(["label", "called COVID-19"],
                             [[label, _pct(value)] for label, value in three["pre_covid_covid_calls"].items()]))
    ruleout = three["ruleout"]
    cleared = ruleout["cleared_normals"]
    rows = [["all", _pct(cleared["all"])], ["adult", _pct(cleared["adult"])]]
    rows += [[f"{kind}: {group}", _pct(value)] for kind in ("source", "view", "age group")
             for group, value in cleared[kind].items()]
    missed = ruleout["missed"]
    lines += _section(
        "Normal rule-out: normals cleared (target >= 50% of adults) and abnormal films kept (target >= 98%)",
        _table(["normals", "cleared"], rows),
        _table(["abnormal films", "sensitivity (not cleared)"],
               [[name, _pct(value)] for name, value in ruleout["sensitivity"].items()]),
        [f"Abnormal films cleared as normal: {len(missed)}"] + [
            f"- {m['image']} ({m['label']}, {m['source']}, view {m['view'] or 'unknown'}, "
            f"p(abnormal) {m['p_abnormal']:.3f})" for m in missed[:40]])
    return lines + _tradeoff_lines(three.get("pneumonia_point_tradeoff"))


_TRADEOFF_COLUMNS = ("RSNA opacity", "RSNA other_abnormal", "RSNA other_abnormal AP", "RSNA other_abnormal PA",
                     "RSNA normal", "adult pneumonia", "children's pneumonia")


def _tradeoff_lines(tradeoff: dict | None) -> list[str]:
    if not tradeoff:
        return []
    from xraydesk.ai.words import INDETERMINATE, PNEUMONIA_LIKELY

    def cell(answers: dict, group: str) -> str:
        if group not in answers:
            return "n/a"
        return f"{_percent(answers[group][PNEUMONIA_LIKELY])} / {_percent(answers[group][INDETERMINATE])}"

    rows = [[f"{point}{' (stored)' if row['stored'] else ''}", *(cell(row["answers"], g) for g in _TRADEOFF_COLUMNS),
             "n/a" if row["other_abnormal_ap_minus_pa_points"] is None
             else f"{row['other_abnormal_ap_minus_pa_points']:.1f}"] for point, row in tradeoff.items()]
    return _section(
        "Pneumonia point trade-off: the share called a pneumonia-like opacity / indeterminate, at the stored "
        "point and at fixed others (band as wide in logits; the JSON has the intervals)",
        _table(["p(pneumonia) point", *_TRADEOFF_COLUMNS, "other_abnormal AP - PA (points)"], rows))


def summary_markdown(report: dict) -> str:
    lines = [f"# Evaluation of {report['model']} on {'+'.join(report['splits'])}", "",
             f"{report['n_images']} images; 95% CIs by bootstrap over patients (1,000 rounds). Every image of the "
             "split counts, whether or not the input check accepted it, unless a section says otherwise."]
    lines += _targets_lines(report) + _three_answers_lines(report.get("three_answers")) + _headline_lines(report)
    lines += _rsna_lines(report) + _covid_lines(report)
    lines += _chest_check_lines(report) + _severity_lines(report) + _heatmap_lines(report.get("heatmaps"))
    lines += _input_check_lines(report.get("input_check_non_chest")) + _external_lines(report.get("external_rsna"))
    calibration = report["calibration"]
    lines += _section("Calibration (expected calibration error)", _table(
        ["output", "before", "after temperature scaling"],
        [[name, f"{calibration[key]['before']:.3f}", f"{calibration[key]['after']:.3f}"]
         for name, key in (("pneumonia", "pneumonia_ece"), ("cause", "cause_ece"))]))
    for title, key in (("Per source", "per_source"), ("Per view", "per_view"),
                       ("Per source and view, adults", "per_source_and_view_adult"), ("Per age group", "per_age_group")):
        lines += _section(title, _grouped_table(report[key]))
    return "\n".join(lines) + "\n"


def _grouped_table(groups: dict) -> list[str]:
    rows = [[group, str(row["n"]), ", ".join(f"{k} {v}" for k, v in row["labels"].items()),
             _fmt(row["pneumonia"].get("auc")), _pct(row["pneumonia"].get("sensitivity_at_operating_point")),
             _pct(row["pneumonia"].get("specificity_at_operating_point")), f"{row['pneumonia_positive_rate']:.1%}",
             f"{row['covid_positive_rate']:.1%}", f"{row['mean_p_covid']:.3f}"]
            for group, row in groups.items()]
    return _table(["group", "n", "labels", "pneumonia AUC", "sensitivity", "specificity", "called pneumonia",
                   "called COVID-19", "mean p(COVID-19)"], rows)


def _input_check_lines(check: dict | None) -> list[str]:
    if not check:
        return []
    return _section("Input check on images that are not chest X-rays",
                    f"{check['n']} images; accepted (should be none): {len(check['accepted'])} "
                    f"({check['accepted_share']:.0%}) {', '.join(check['accepted'])}",
                    _table(["image", "refused", "reason"],
                           [[name, "yes" if case["refused"] else "**no**", case["reason"]]
                            for name, case in check["cases"].items()]))


def _heatmap_lines(heatmaps: dict | None) -> list[str]:
    if not heatmaps:
        return []
    boxes = heatmaps["rsna_boxes"]
    rows = []
    for name, candidate in heatmaps["candidates"].items():
        located, lungs, dicom = candidate.get("rsna_boxes", {}), candidate["lung_mass"], candidate["dicom_pointing_game"]
        role = {heatmaps["shipped"]: " (shown)", heatmaps["explanation"]: " (explanation)"}.get(name, "")
        rows.append([name + role, _pct(located.get("pointing_game")), _fmt(located.get("pixel_auprc")),
                     _pct(located.get("mass_in_boxes")), _pct(located.get("mass_outside_lungs")),
                     _pct(located.get("mass_in_border")), f"{lungs.get('mean_share_in_lungs', float('nan')):.1%}",
                     f"{dicom['hit_rate']:.0%} of {dicom['n']}"])
    shipped = heatmaps["candidates"][heatmaps["shipped"]]["lung_mass"]
    sanity = heatmaps["randomisation_sanity"]
    areas = (f"boxes cover {boxes['box_area_share']:.1%} of the image, the predicted lungs {boxes['lung_area_share']:.1%}, "
             f"the border {boxes['border_area_share']:.1%}" if boxes["n"] else "no boxed films in this split")
    return _section(
        "Heatmaps: where the opacity map and the Grad-CAM explanations point",
        f"RSNA lung-opacity films of this split with the radiologists' boxes: n={boxes['n']} ({areas}; a uniform map "
        "would score those shares). Mass = share of the map's total mass over the whole image (never clipped to the "
        "lungs); border = the outer 5% of each side. Reference lungs: the share of mass inside the reference lung "
        f"masks of the split's pneumonias (n={shipped.get('n', 0)}; the lungs cover "
        f"{shipped.get('lung_area_share', float('nan')):.1%} of the image). RSNA DICOMs: the shared folder's positive "
        "films, an outside figure.",
        _table(["map", "pointing game", "pixel AUPRC", "mass in boxes", "mass outside predicted lungs", "mass in border",
                "mass in reference lungs", "pointing game, RSNA DICOMs"], rows),
        ["- explanation (Grad-CAM), other outputs, mass inside the reference lungs: " + ", ".join(
            f"{target} {share:.1%}" for target, share in heatmaps["lung_mass_other_targets"].items()),
         f"- randomising the last stage's weights: mean rank correlation with the trained maps "
         f"{sanity['mean_rank_correlation']:.2f} (n={sanity['n']}; near 0 means the map depends on the learned weights)"])


def _external_lines(external: dict | None) -> list[str]:
    if not external:
        return []
    return _section("Outside hospital: the RSNA DICOMs (never trained on)",
                    f"{external['n']} images, {external['refused']} refused by the input check; "
                    f"AUC lung opacity vs normal: {external['lung_opacity_vs_normal_auc']:.3f}",
                    _table(["RSNA class", "n", "mean p(pneumonia)", "flagged pneumonia", "mean p(COVID-19)",
                            "called COVID-19"],
                           [[label, str(row["n"]), f"{row['mean_p_pneumonia']:.2f}", f"{row['flagged_pneumonia']:.0%}",
                             f"{row['mean_p_covid']:.2f}", f"{row['called_covid']:.0%}"]
                            for label, row in external["by_class"].items()]))


def write_report(report: dict, results, zone_threshold: float, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (out_dir / "summary.md").write_text(summary_markdown(report))
    _roc_plot(results, out_dir / "roc.png")
    _confusion_plot(results, out_dir / "confusion.png")
    _calibration_plot(results, out_dir / "calibration.png")
    _severity_plot(results, zone_threshold, out_dir / "severity.png")
