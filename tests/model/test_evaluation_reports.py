"""The evaluation report's own arithmetic, on hand-made data with known answers (no model needed)."""

import numpy as np
import pytest

from xraydesk.ai.gate import ACCEPTED, InputCheck
from xraydesk.ai.words import (
    INDETERMINATE,
    NO_ABNORMALITY,
    NO_CATEGORY_COVID_BORDERLINE,
    OTHER_ABNORMAL,
    PNEUMONIA_LIKELY,
)
from xraydesk.training import data, evaluate, heatmap_report, severity_report
from xraydesk.training.report_files import summary_markdown

NAN = float("nan")


# --- serial exams ---------------------------------------------------------------------------------

def test_consecutive_pairs_follow_the_exam_index_not_the_row_order():
    patients = np.array(["a", "b", "a", "a", "c", "b"])
    exam_index = np.array([3, 1, 1, 2, 0, 2])  # "c" is not a serial film
    earlier, later = severity_report.consecutive_exam_pairs(patients, exam_index)
    assert sorted(zip(earlier.tolist(), later.tolist())) == [(1, 5), (2, 3), (3, 0)]


def test_direction_counts_only_the_readers_changes_of_one_point_or_more():
    readers = np.array([2.0, -1.5, 0.5, 1.0, -3.0])
    predicted = np.array([0.4, 0.2, -2.0, 0.0, -0.1])
    # measured on pairs 0, 1, 3, 4: same sign on 0 and 4; pair 3's zero change is a miss
    assert severity_report.direction_agreement(readers, predicted) == pytest.approx(2 / 4)
    assert np.isnan(severity_report.direction_agreement(np.array([0.5]), np.array([1.0])))


def test_serial_exams_on_a_hand_made_table():
    # patient p: films 1..4 read 2, 4, 4, 1; q: films 1..2 read 6, 3; predicted below
    patients = np.array(["p", "p", "p", "p", "q", "q"])
    exam_index = np.array([1, 2, 3, 4, 1, 2])
    readers = np.array([2.0, 4.0, 4.0, 1.0, 6.0, 3.0])
    predicted = np.array([1.0, 3.0, 2.5, 2.0, 5.0, 5.5])
    result = severity_report.serial_exams(patients, exam_index, readers, predicted)
    # changes: readers +2, 0, -3, -3; predicted +2, -0.5, -0.5, +0.5
    assert result["n_pairs"] == 4 and result["n_patients"] == 2
    assert result["direction_agreement"]["value"] == pytest.approx(2 / 3)  # +2/+2 and -3/-0.5 agree, -3/+0.5 not
    assert result["direction_agreement"]["n"] == 3
    # ranks of readers' changes (avg for ties): 4, 3, 1.5, 1.5; of predicted: 4, 1.5, 1.5, 3
    expected = np.corrcoef([4, 3, 1.5, 1.5], [4, 1.5, 1.5, 3])[0, 1]
    assert result["change_rank_correlation"]["value"] == pytest.approx(expected)


def test_ralo_agreement_uses_the_readers_mean_and_their_own_agreement():
    # two films; readings[film, reader, lung]
    readings = np.array([[[1.0, 2.0], [3.0, 2.0]], [[0.0, 0.0], [2.0, np.nan]]])
    predicted = np.array([[2.0, 2.0], [1.0, 1.0]])
    patients = np.array(["a", "b"])
    result = severity_report.ralo_agreement(readings, predicted, patients)
    # film 0: totals 3 and 5, mean 4, model 4; film 1: reader 2 left a lung out, so the mean is reader 1's 0
    assert result["total_vs_readers_mean"]["mae"]["value"] == pytest.approx((0 + 2) / 2)
    assert result["per_lung_vs_readers_mean"]["right"]["mae"]["value"] == pytest.approx((0 + 0) / 2)
    assert result["per_lung_vs_readers_mean"]["left"]["mae"]["value"] == pytest.approx((0 + 1) / 2)
    assert result["total_vs_each_reader"]["reader_2"]["mae"]["n"] == 1
    assert result["inter_reader"]["total"]["mae"]["value"] == pytest.approx(2.0)
    assert result["inter_reader"]["right"]["mae"]["value"] == pytest.approx(2.0)


def test_readings_come_from_severity_csv(data_root):
    examples = [e for e in data.load_examples(data_root) if e.split == "val"]
    readings = severity_report.read_readings(examples, data_root)
    sources = np.array([e.source for e in examples])
    assert readings.has_ralo.sum() == 252 and set(sources[readings.has_ralo]) == {"ralo"}
    assert (readings.exam_index[readings.has_ralo] >= 1).all() and (readings.exam_index[~readings.has_ralo] == 0).all()
    extent = readings.covidnet["extent"]
    assert np.isfinite(extent).sum() == 50 and not np.isfinite(extent[readings.has_ralo]).any()
    assert np.isfinite(readings.covidnet["opacity"]).sum() == 31  # the 19 read on 0-6 are left out
    assert readings.brixia.sum() > 0


# --- heatmaps -------------------------------------------------------------------------------------

def test_pointing_game_and_mass_on_a_synthetic_map():
    heatmap = np.zeros((224, 224), np.float32)
    heatmap[100:110, 50:60] = 1.0  # the opacity's heat
    heatmap[0:5, :] = 0.5  # heat on the border
    heatmap[105, 55] = 2.0  # the peak
    inside = heatmap_report.box_mask([(40, 90, 40, 30)], heatmap.shape)
    assert heatmap_report.pointing_hit(heatmap, inside)
    assert not heatmap_report.pointing_hit(heatmap, heatmap_report.box_mask([(150, 150, 20, 20)], heatmap.shape))
    total = 100 + 1 + 5 * 224 * 0.5
    assert heatmap_report.mass_share(heatmap, inside) == pytest.approx(101 / total)
    border = heatmap_report.border_mask(heatmap.shape)
    assert heatmap_report.mass_share(heatmap, border) == pytest.approx(5 * 224 * 0.5 / total)
    empty = np.zeros_like(heatmap)
    assert not heatmap_report.pointing_hit(empty, inside) and np.isnan(heatmap_report.mass_share(empty, inside))


def test_boxes_are_squashed_like_the_image():
    # a 256x128 stored image is squashed to 224x224: x scales by 224/256, y by 224/128
    assert heatmap_report.scale_boxes([(128, 64, 32, 16)], (256, 128)) == [(112.0, 112.0, 28.0, 28.0)]
    mask = heatmap_report.box_mask([(112.0, 112.0, 28.0, 28.0)], (224, 224))
    assert mask.sum() == 28 * 28 and mask[112, 112] and not mask[111, 112]


def test_border_is_the_outer_five_percent_of_each_side():
    border = heatmap_report.border_mask((100, 200))
    assert border[4, 100] and not border[5, 100] and border[95, 100] and not border[94, 100]
    assert border[50, 9] and not border[50, 10] and border[50, 190] and not border[50, 189]


def test_localisation_summarises_each_film():
    maps = np.zeros((2, 224, 224), np.float32)
    maps[0, 50, 50] = 1.0  # in its box
    maps[1, 216, 216] = 1.0  # outside it, on the border and off the lungs
    boxes = np.stack([heatmap_report.box_mask([(40, 40, 20, 20)], (224, 224))] * 2)
    lungs = np.zeros((2, 224, 224), bool)
    lungs[:, 20:180, 20:180] = True
    result = heatmap_report.localisation(maps, boxes, lungs, np.array(["a", "b"]))
    assert result["pointing_game"]["value"] == 0.5 and result["mass_in_boxes"]["value"] == 0.5
    assert result["mass_outside_lungs"]["value"] == 0.5 and result["mass_in_border"]["value"] == 0.5


# --- the whole report on synthetic outputs ------------------------------------------------------------

METADATA = {
    "temperatures": {"abnormal": 1.0, "pneumonia": 1.0, "cause": 1.0, "zones": 1.0},
    "operating_points": {
        "normal_ruleout": {"threshold": 0.1},
        "abnormal": {"threshold": 0.5, "band": [0.45, 0.55]},
        "pneumonia": {"threshold": 0.5, "band": [0.45, 0.55]},
        "covid": {"threshold": 0.6, "band": [0.5, 0.65]},
        "covid_atypical": {"threshold": 0.2},
        "zone": {"threshold": 0.5},
    },
}


def _example(index, source, label, view, age_group="adult", patient=None):
    return data.Example(image=f"images/{label}/{source}__{index}.png", label=label, split="val",
                        patient_id=patient or f"{source}-{index}", age_group=age_group, source=source, lung_mask="",
                        zones=None, extent=None, view=view)


def _synthetic_results(extra_rows=()):
    """RSNA normals PA (called correctly) and AP (all called positive: the "AP = disease" failure), RSNA
    opacities AP, RALO serial films, Kermany children; one refused image. p(abnormal) follows
    p(pneumonia) unless a row gives its own abnormal logit."""
    rows = ([("rsna", "normal", "PA", -3.0)] * 4 + [("rsna", "normal", "AP", 3.0)] * 4
            + [("rsna", "pneumonia_unspecified", "AP", 3.0)] * 4 + [("rsna", "normal", "", -3.0)] * 2
            + [("ralo", "covid", "AP portable", 3.0)] * 4
            + [("kermany", "normal", "AP", -3.0)] * 3 + [("kermany", "bacterial", "AP", 3.0)] * 3 + list(extra_rows))
    examples = [_example(i, source, label, view, "pediatric" if source == "kermany" else "adult",
                         "ralo-1" if source == "ralo" else None)
                for i, (source, label, view, *_) in enumerate(rows)]
    n = len(rows)
    lungs = np.zeros((n, 224, 224), np.float32)
    lungs[:, 40:190, 30:100] = lungs[:, 40:190, 124:194] = 1.0
    raw = {"pneumonia": np.array([[row[3]] for row in rows], np.float32),
           "abnormal": np.array([[row[4] if len(row) > 4 else row[3]] for row in rows], np.float32),
           "cause": np.tile(np.array([[0.0, 0.0, 1.0]], np.float32), (n, 1)),
           "zones": np.full((n, 6), -2.0, np.float32), "lung_extent": np.zeros((n, 2), np.float32),
           "lung_opacity": np.zeros((n, 2), np.float32), "lungs": lungs}
    raw["lung_extent"][14:18] = [[-2, -2], [0, 0], [2, 2], [0, 0]]  # RALO: 0.95, 4, 7.05, 4 in all
    checks = [ACCEPTED] * n
    checks[0] = InputCheck(False, "image is blank or nearly uniform")
    checks[14] = InputCheck(True, unfamiliar="unfamiliar image: lower confidence — test")
    readings = severity_report.Readings(
        ralo={"extent": np.full((n, 2, 2), np.nan), "opacity": np.full((n, 2, 2), np.nan)},
        exam_index=np.zeros(n, int), covidnet={"extent": np.full(n, np.nan), "opacity": np.full(n, np.nan)},
        brixia=np.zeros(n, bool))
    for film, (total_per_lung, index) in enumerate([(0.5, 1), (2.0, 2), (3.5, 3), (1.0, 4)]):
        readings.ralo["extent"][14 + film] = total_per_lung
        readings.ralo["opacity"][14 + film] = 1.0
        readings.exam_index[14 + film] = index
    views = np.array([view or evaluate.NO_VIEW for _, _, view, *_ in rows])
    return evaluate.results_from_outputs(examples, np.zeros((n, 224, 224, 1), np.uint8), raw, checks, METADATA,
                                         views, readings)


def test_per_view_grouping_separates_what_the_view_does():
    results = _synthetic_results()
    rsna = evaluate.rsna_metrics(results, 0.5)["per_view"]
    assert set(rsna) == {"PA", "AP", evaluate.NO_VIEW}
    assert rsna["PA"]["specificity_at_operating_point"]["value"] == 1.0 and "auc" not in rsna["PA"]
    assert rsna["AP"]["specificity_at_operating_point"]["value"] == 0.0
    assert rsna["AP"]["sensitivity_at_operating_point"]["value"] == 1.0 and rsna["AP"]["auc"]["value"] == 0.5
    table = evaluate.grouped(results, np.char.add(np.char.add(results.column("source"), " / "), results.views),
                             {"pneumonia": 0.5, "covid": 0.6}, results.column("age_group") == "adult")
    assert set(table) == {"rsna / PA", "rsna / AP", f"rsna / {evaluate.NO_VIEW}", "ralo / AP portable"}
    assert table["rsna / AP"]["labels"] == {"normal": 4, "pneumonia_unspecified": 4}


def test_the_report_counts_refusals_flags_and_pre_covid_calls():
    report = evaluate.split_report(_synthetic_results(), METADATA)
    rsna_check = report["input_check_chest"]["per_source"]["rsna"]
    assert rsna_check["refused"]["value"] == pytest.approx(1 / 14) and len(rsna_check["refused_images"]) == 1
    assert report["input_check_chest"]["per_source"]["ralo"]["unfamiliar"]["value"] == 0.25
    assert report["flags_per_source"]["ralo"]["unfamiliar"] == 0.25
    # p(COVID-19) = p(pneumonia) x 0.58 = 0.55 for every positive: inside the COVID-19 band, below its threshold
    calls = report["pre_covid_rsna_calls"]
    assert calls["normal"]["n"] == 10 and calls["normal"]["n_accepted"] == 9
    assert calls["normal"]["called_covid"]["value"] == 0.0
    categories = calls["pneumonia_unspecified"]["categories"]
    assert categories[NO_CATEGORY_COVID_BORDERLINE]["value"] == 1.0
    assert calls["normal"]["categories"]["Negative for pneumonia"]["value"] == pytest.approx(5 / 9)
    assert calls["all"]["n_accepted"] == 13
    assert calls["all"]["categories"][NO_CATEGORY_COVID_BORDERLINE]["value"] == pytest.approx(8 / 13)
    # every positive has zone logits -2: all called positives have 0/6 zones
    no_zones = report["severity"]["positive_with_0_zones"]
    assert no_zones["n_called_positive"] == 15 and no_zones["share"]["value"] == 1.0
    serial = report["severity"]["ralo_serial_exams"]["extent"]["model_vs_readers_mean"]
    # readers 1 -> 4 -> 7 -> 2, model 0.95 -> 4 -> 7.05 -> 4: every change of >= 1 goes the readers' way
    assert serial["n_pairs"] == 3 and serial["direction_agreement"]["value"] == 1.0


def test_three_answers_rule_out_and_projection_are_reported():
    other = [("rsna", "other_abnormal", "AP", 3.0, 3.0)] * 2 + [("rsna", "other_abnormal", "PA", -3.0, 3.0)] * 2
    missed = [("rsna", "other_abnormal", "PA", -3.0, -4.0)]  # p(abnormal) 0.018: cleared, a miss
    three = evaluate.split_report(_synthetic_results(other + missed), METADATA)["three_answers"]
    negatives = three["negative_call_rates"]
    assert negatives["other_abnormal"]["called_pneumonia"]["AP"]["value"] == 1.0
    assert negatives["other_abnormal"]["called_pneumonia"]["PA"]["value"] == 0.0
    assert negatives["other_abnormal"]["ap_minus_pa_points"] == pytest.approx(100.0)
    assert negatives["normal"]["ap_minus_pa_points"] == pytest.approx(100.0)
    answers = three["per_source"]["rsna"]["answers_by_label"]["other_abnormal"]
    assert answers[PNEUMONIA_LIKELY]["value"] == pytest.approx(2 / 5) and answers[OTHER_ABNORMAL]["value"] == 0.4
    assert answers[NO_ABNORMALITY]["value"] == pytest.approx(1 / 5)
    ruleout = three["ruleout"]
    # logit -3 normals have p(abnormal) 0.047 < 0.1 and are cleared: 8 of the 12 accepted (not the AP ones)
    assert ruleout["cleared_normals"]["all"]["value"] == pytest.approx(8 / 12)
    assert ruleout["cleared_normals"]["view"]["AP"]["value"] == pytest.approx(3 / 7)
    assert [m["label"] for m in ruleout["missed"]] == ["other_abnormal"]
    assert ruleout["sensitivity"]["adult other abnormal"]["value"] == pytest.approx(4 / 5)
    assert three["pre_covid_covid_calls"]["all"]["value"] == 0.0
    summary = summary_markdown({"splits": ["val"], "model": "Fake", **evaluate.split_report(
        _synthetic_results(other + missed), METADATA)})
    assert "## Normal rule-out" in summary and "## Projection" in summary and "rsna__" in summary
    assert "## Pneumonia point trade-off" in summary and "| 0.500 (stored) |" in summary


def test_stricter_pneumonia_points_reread_every_film_with_the_band_moved_along():
    # other_abnormal at pneumonia logits 0.1 (p 0.52), 1.0 (p 0.73) and 2.5 (p 0.92); abnormal logit 3
    other = [("rsna", "other_abnormal", "AP", 0.1, 3.0), ("rsna", "other_abnormal", "AP", 1.0, 3.0),
             ("rsna", "other_abnormal", "PA", 2.5, 3.0)]
    tradeoff = evaluate.split_report(_synthetic_results(other), METADATA)["three_answers"]["pneumonia_point_tradeoff"]
    assert list(tradeoff) == ["0.500", "0.600", "0.700", "0.800", "0.900"]  # the stored point is not repeated
    stored = tradeoff["0.500"]
    assert stored["stored"] and not tradeoff["0.700"]["stored"]
    answers = stored["answers"]["RSNA other_abnormal"]
    # band [0.45, 0.55]: the first is indeterminate, the other two called
    assert answers[INDETERMINATE]["value"] == pytest.approx(1 / 3)
    assert answers[PNEUMONIA_LIKELY]["value"] == pytest.approx(2 / 3)
    # at 0.7 the band is logit 0.847 +- 0.2 = p 0.66-0.74: the second is indeterminate, the third called
    strict = tradeoff["0.700"]["answers"]
    assert strict["RSNA other_abnormal"][INDETERMINATE]["value"] == pytest.approx(1 / 3)
    assert strict["RSNA other_abnormal"][PNEUMONIA_LIKELY]["value"] == pytest.approx(1 / 3)
    assert tradeoff["0.700"]["other_abnormal_ap_minus_pa_points"] == pytest.approx(-100.0)
    # RSNA opacities (logit 3, p 0.95) stay called until the 0.9 point's band (0.88-0.92) is passed
    assert tradeoff["0.900"]["answers"]["RSNA opacity"][PNEUMONIA_LIKELY]["value"] == 1.0
    assert tradeoff["0.900"]["answers"]["RSNA other_abnormal"][PNEUMONIA_LIKELY]["value"] == pytest.approx(1 / 3)


def test_the_summary_has_every_section():
    report = {"splits": ["val"], "model": "Fake CXR 0.0", **evaluate.split_report(_synthetic_results(), METADATA)}
    summary = summary_markdown(report)
    for title in ("## Targets", "## RSNA adults: normal vs lung opacity, by view", "## COVID-19",
                  "## Input check on the chest films", "## Severity", "## Per view",
                  "## Per source and view, adults", "**Serial films**"):
        assert title in summary
    assert "| rsna / AP | 8 |" in summary
