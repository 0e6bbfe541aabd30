"""The three answers on a split: what the app says of each film (words.answer), by source, age group
and view; the normal rule-out (normals cleared, sensitivity kept, the abnormal films it missed);
how often each negative class is called a pneumonia-like opacity on AP vs PA films (the projection
shortcut, DeGrave et al. 2021); COVID-19 calls on films from before 2019; and what other pneumonia
points would say instead of the stored one (the trade-off the stored point makes). Patient-bootstrap CIs.
Refused films have no answer: every share is among the films the input check accepted."""

import numpy as np

from xraydesk.ai.model import predictions
from xraydesk.ai.words import ANSWERS, INDETERMINATE, PNEUMONIA_LIKELY, answer
from xraydesk.training import metrics
from xraydesk.training.finalize import moved_point, ruleout_groups

_estimate = metrics.estimate_with_ci
# NIH ChestX-ray14 (2017) and the RSNA challenge (2018) predate COVID-19: any COVID-19 call is false.
PRE_COVID_SOURCES = ("nih", "rsna")
NEGATIVE_LABELS = ("normal", "other_abnormal")
VIEW_GROUPS = ("AP", "PA", "")
VIEW_NAMES = {"AP": "AP", "PA": "PA", "": "unknown"}
# p(pneumonia-like opacity) points the trade-off table re-reads every film at, besides the stored one:
# fixed values, not fitted to the split reported. A stricter point calls fewer other_abnormal films and
# fewer opacities; a looser one the reverse.
TRADEOFF_POINTS = (0.5, 0.6, 0.7, 0.8, 0.9)


def _share(values) -> float:
    return float(np.mean(values))


def _accepted(r, mask: np.ndarray) -> np.ndarray:
    return mask & np.array([prediction is not None for prediction in r.predictions])


def _said(predictions_or_none) -> np.ndarray:
    """Each film's answer, "" where the input check refused it (no prediction)."""
    return np.array([answer(p) if p is not None else "" for p in predictions_or_none])


def _gap_points(ap: float | None, pa: float | None) -> float | None:
    """AP minus PA share, in points, where both views were measured."""
    return None if ap is None or pa is None else 100 * (ap - pa)


def answer_shares(r, mask: np.ndarray) -> dict:
    """The share of each answer among the accepted films of `mask`."""
    chosen = _accepted(r, mask)
    said = _said(r.predictions)[chosen]
    patients = r.column("patient_id")[chosen]
    return {"n": int(mask.sum()), "n_accepted": int(chosen.sum()),
            **{words: _estimate(_share, patients, (said == words).astype(float)) for words in ANSWERS}}


def abnormal_discrimination(r, mask: np.ndarray) -> dict:
    """Any abnormality vs normal: AUC where both are present."""
    labels = r.targets["abnormal"][mask, 0].astype(bool)
    if not labels.any() or labels.all():
        return {"n": int(mask.sum())}
    return {"n": int(mask.sum()),
            "auc": _estimate(metrics.roc_auc, r.column("patient_id")[mask], labels, r.probabilities["abnormal"][mask])}


def answers_by(r, groups: np.ndarray) -> dict:
    """Per group and label: the answers; per group: abnormal vs normal AUC."""
    labels = r.column("label")
    table = {}
    for group in sorted(set(groups.tolist())):
        in_group = groups == group
        table[str(group)] = {
            "abnormal_vs_normal": abnormal_discrimination(r, in_group),
            "answers_by_label": {label: answer_shares(r, in_group & (labels == label))
                                 for label in sorted(set(labels[in_group].tolist()))},
        }
    return table


def view_groups(r) -> np.ndarray:
    return np.array([e.view_group for e in r.examples])


def negative_call_rates(r) -> dict:
    """RSNA normal and other_abnormal films called a pneumonia-like opacity, per view, and the AP - PA
    gap (target: at most 10 points; other_abnormal called at most 15% overall)."""
    rsna = r.column("source") == "rsna"
    labels, views, said = r.column("label"), view_groups(r), _said(r.predictions)
    patients = r.column("patient_id")
    result = {}
    for label in NEGATIVE_LABELS:
        rows = {}
        for view in (None, *VIEW_GROUPS):
            mask = _accepted(r, rsna & (labels == label) & (views == view if view is not None else True))
            if mask.any():
                rows[VIEW_NAMES.get(view, "all views")] = _estimate(
                    _share, patients[mask], (said[mask] == PNEUMONIA_LIKELY).astype(float))
        ap, pa = rows.get("AP", {}).get("value"), rows.get("PA", {}).get("value")
        result[label] = {"called_pneumonia": rows,
                         "ap_minus_pa_points": _gap_points(ap, pa)}
    return result


def pre_covid_covid_calls(r) -> dict:
    """Every film of the pre-2019 sources, per label: the share called COVID-19 (target <= 5%)."""
    sources, labels = r.column("source"), r.column("label")
    patients = r.column("patient_id")
    called = np.array([p is not None and p.covid_positive for p in r.predictions], float)
    result = {}
    for label in ("all", *sorted(set(labels[np.isin(sources, PRE_COVID_SOURCES)].tolist()))):
        mask = _accepted(r, np.isin(sources, PRE_COVID_SOURCES) & ((labels == label) if label != "all" else True))
        if mask.any():
            result[label] = _estimate(_share, patients[mask], called[mask])
    return result


def ruleout_report(r) -> dict:
    """Normals cleared per source and view; the abnormal films cleared (missed), by kind and by name."""
    cleared = np.array([p is not None and p.normal_ruleout for p in r.predictions])
    patients, labels, sources = r.column("patient_id"), r.column("label"), r.column("source")
    views, ages = view_groups(r), r.column("age_group")
    normal = _accepted(r, labels == "normal")
    cleared_normals = {}
    for name, groups in (("source", sources), ("view", views), ("age group", ages)):
        cleared_normals[name] = {VIEW_NAMES.get(g, g) if name == "view" else g: _estimate(
            _share, patients[normal & (groups == g)], cleared[normal & (groups == g)].astype(float))
            for g in sorted(set(groups[normal].tolist()))}
    cleared_normals["all"] = _estimate(_share, patients[normal], cleared[normal].astype(float))
    cleared_normals["adult"] = _estimate(_share, patients[normal & (ages == "adult")],
                                         cleared[normal & (ages == "adult")].astype(float))
    sensitivity = {}
    for name, members in ruleout_groups(r.examples).items():
        chosen = _accepted(r, members)
        if chosen.any():
            sensitivity[name] = _estimate(_share, patients[chosen], (~cleared[chosen]).astype(float))
    missed = _accepted(r, r.targets["abnormal"][:, 0].astype(bool)) & cleared
    return {"cleared_normals": cleared_normals, "sensitivity": sensitivity,
            "missed": [{"image": e.image, "label": e.label, "source": e.source, "view": e.view,
                        "p_abnormal": float(r.probabilities["abnormal"][i])}
                       for i, e in enumerate(r.examples) if missed[i]]}


def pneumonia_point_tradeoff(r, metadata: dict) -> dict:
    """At the stored pneumonia point and at each of TRADEOFF_POINTS (band as wide in logits): the share
    of RSNA normals, other_abnormal films (AP, PA) and opacities, and of adult and children's pneumonias,
    that the app would call a pneumonia-like opacity or indeterminate; the other_abnormal AP - PA gap."""
    labels, sources, ages, views = r.column("label"), r.column("source"), r.column("age_group"), view_groups(r)
    patients = r.column("patient_id")
    rsna, pneumonia = sources == "rsna", r.targets["pneumonia"][:, 0].astype(bool)
    groups = {"RSNA normal": rsna & (labels == "normal"), "RSNA other_abnormal": rsna & (labels == "other_abnormal"),
              "RSNA other_abnormal AP": rsna & (labels == "other_abnormal") & (views == "AP"),
              "RSNA other_abnormal PA": rsna & (labels == "other_abnormal") & (views == "PA"),
              "RSNA opacity": rsna & (labels == "pneumonia_unspecified"),
              "adult pneumonia": (ages == "adult") & pneumonia, "children's pneumonia": (ages != "adult") & pneumonia}
    stored = metadata["operating_points"]["pneumonia"]
    table = {}
    others = [point for point in TRADEOFF_POINTS if not np.isclose(point, stored["threshold"])]
    for threshold in (stored["threshold"], *others):
        moved = {**metadata, "operating_points": {**metadata["operating_points"],
                                                  "pneumonia": moved_point(stored, threshold)}}
        said = _said([again if accepted is not None else None
                      for again, accepted in zip(predictions(r.raw, moved), r.predictions)])
        rows = {}
        for name, members in groups.items():
            chosen = _accepted(r, members)
            if chosen.any():
                rows[name] = {words: _estimate(_share, patients[chosen], (said[chosen] == words).astype(float))
                              for words in (PNEUMONIA_LIKELY, INDETERMINATE)}
        ap, pa = (rows.get(f"RSNA other_abnormal {view}", {}).get(PNEUMONIA_LIKELY, {}).get("value")
                  for view in ("AP", "PA"))
        table[f"{threshold:.3f}"] = {"stored": threshold == stored["threshold"], "answers": rows,
                                     "other_abnormal_ap_minus_pa_points": _gap_points(ap, pa)}
    return table


def three_answers_report(r, metadata: dict) -> dict:
    return {"per_source": answers_by(r, r.column("source")),
            "per_age_group": answers_by(r, r.column("age_group")),
            "per_view": answers_by(r, np.array([VIEW_NAMES[v] for v in view_groups(r)])),
            "negative_call_rates": negative_call_rates(r),
            "pre_covid_covid_calls": pre_covid_covid_calls(r),
            "ruleout": ruleout_report(r),
            "pneumonia_point_tradeoff": pneumonia_point_tradeoff(r, metadata)}
