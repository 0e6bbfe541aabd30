import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from xraydesk.ai.gate import InputCheck
from xraydesk.ai.lung_check import LungMaskCheck
from xraydesk.ai.model import FLAGS, Outcome, Prediction, in_band
from xraydesk.ai.words import ANSWERS, NO_ABNORMALITY
from xraydesk.commands.batch import heatmap_file_name
from xraydesk.commands.common import EXIT_OK, EXIT_SOME_FAILED, EXIT_UNUSABLE
from xraydesk.commands.predict import predict_main
from xraydesk.commands.predict_csv import COLUMNS, outcome_row

COLUMNS_BEFORE_0_3 = ["path", "status", "reason", "p_normal", "p_bacterial", "p_viral", "p_covid", "p_pneumonia",
                      "pneumonia_positive", "covid_positive", "zone_RU", "zone_RM", "zone_RL", "zone_LU", "zone_LM",
                      "zone_LL", "six_zone_score", "geographic_extent", "seconds"]
PROBABILITY_COLUMNS = ["p_normal", "p_bacterial", "p_viral", "p_covid", "p_pneumonia"]
LUNG_COLUMNS = ["zone_RU", "zone_RM", "zone_RL", "zone_LU", "zone_LM", "zone_LL", "six_zone_score", "geographic_extent"]
ANALYSED = ("chest.png", "other/chest.png", "rsna.dcm", "small.dcm")
NOT_ANALYSED = ("hip.dcm", "empty.dcm", "truncated.png")
RSNA = "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm"
SMALL_ROTATED = "00aecb01-a116-45a2-956c-08d2fa55433f.dcm"  # the segmenter finds two blobs, 5.6% of the image


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory, data_root):
    folder = tmp_path_factory.mktemp("batch")
    shutil.copy(next((data_root / "cxr" / "images" / "covid").glob("cohen__*.png")), folder / "chest.png")
    (folder / "other").mkdir()
    shutil.copy(folder / "chest.png", folder / "other" / "chest.png")  # same file name, another folder
    shutil.copy(data_root / "dicom" / "rsna" / RSNA, folder / "rsna.dcm")
    shutil.copy(data_root / "dicom" / "rsna" / SMALL_ROTATED, folder / "small.dcm")
    shutil.copy(data_root / "dicom" / "nonchest" / "RG2_J2KI__hip.dcm", folder / "hip.dcm")
    (folder / "empty.dcm").write_bytes(b"")
    (folder / "truncated.png").write_bytes((folder / "chest.png").read_bytes()[:300])
    return folder


def _run(folder: Path, out: Path, *options: str) -> tuple[int, list[str], dict[str, dict], dict]:
    """predict_main over `folder`: exit code, columns, rows by path within the folder, sidecar."""
    code = predict_main([str(folder), "--csv", str(out), *options])
    with open(out, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = {Path(row["path"]).relative_to(folder).as_posix(): row for row in reader}
    return code, reader.fieldnames, rows, json.loads(Path(f"{out}.json").read_text())


@pytest.fixture(scope="module")
def predicted(mixed_folder, tmp_path_factory):
    return _run(mixed_folder, tmp_path_factory.mktemp("plain") / "out.csv")


@pytest.fixture(scope="module")
def with_heatmaps(mixed_folder, tmp_path_factory):
    folder = tmp_path_factory.mktemp("with_heatmaps")
    return _run(mixed_folder, folder / "out.csv", "--heatmaps", str(folder / "maps")), folder / "maps"


def test_new_columns_come_after_the_old_ones_unchanged():
    assert COLUMNS == [*COLUMNS_BEFORE_0_3, "flags", "heatmap", "sop_instance_uid", "study_instance_uid",
                       "series_instance_uid", "patient_id", "study_date", "view_position", "file_bytes",
                       "file_mtime_ns", "p_abnormal", "normal_ruleout", "call"]


def test_csv_has_the_exact_columns_and_every_status(predicted):
    code, columns, rows, provenance = predicted
    assert code == EXIT_SOME_FAILED
    assert columns == COLUMNS
    assert {name: row["status"] for name, row in rows.items()} == {
        **{name: "ok" for name in ANALYSED}, "hip.dcm": "rejected", "empty.dcm": "error", "truncated.png": "error"}
    for name in ANALYSED:
        row = rows[name]
        assert all(0.0 <= float(row[column]) <= 1.0 for column in PROBABILITY_COLUMNS)
        causes = sum(float(row[c]) for c in ("p_bacterial", "p_viral", "p_covid"))
        assert causes == pytest.approx(float(row["p_pneumonia"]), abs=2e-4)
        assert float(row["p_normal"]) == pytest.approx(1 - float(row["p_abnormal"]), abs=2e-4)
        assert float(row["p_abnormal"]) >= float(row["p_pneumonia"]) - 1e-4  # a pneumonia is an abnormality
        assert row["call"] in ANSWERS and row["normal_ruleout"] == str(int(row["call"] == NO_ABNORMALITY))
        assert row["pneumonia_positive"] in ("0", "1") and row["covid_positive"] in ("0", "1")
        assert float(row["seconds"]) > 0
        assert row["heatmap"] == ""  # no --heatmaps
    for name in ("chest.png", "rsna.dcm"):
        assert all(0.0 <= float(rows[name][f"zone_{zone}"]) <= 1.0 for zone in ("RU", "RM", "RL", "LU", "LM", "LL"))
        assert int(rows[name]["six_zone_score"]) in range(7)
        assert 0.0 <= float(rows[name]["geographic_extent"]) <= 8.0
    assert "HIP" in rows["hip.dcm"]["reason"] and rows["hip.dcm"]["p_normal"] == ""
    assert all(rows[name]["call"].startswith("Not analysed: ") for name in NOT_ANALYSED)
    assert rows["empty.dcm"]["reason"] and rows["truncated.png"]["reason"]
    assert all(rows[name]["flags"] == "" for name in NOT_ANALYSED)
    assert provenance["model"].startswith("XRayDesk CXR")


def test_flags_agree_with_the_row(predicted):
    _, _, rows, provenance = predicted
    for name in ANALYSED:
        row = rows[name]
        flags = row["flags"].split(";") if row["flags"] else []
        assert [flag for flag in FLAGS if flag in flags] == flags  # known names, in FLAGS order
        assert ("borderline_pneumonia" in flags) == in_band(float(row["p_pneumonia"]),
                                                            provenance["operating_points"]["pneumonia"])
        assert ("unfamiliar" in flags) == row["reason"].startswith("unfamiliar image")
        assert ("lung_mask_failed" in flags) == ("lung mask implausible" in row["reason"])
        assert ("lung_mask_failed" in flags) == (row["six_zone_score"] == "")


def test_an_implausible_lung_mask_withholds_zones_and_says_why(predicted):
    row = predicted[2]["small.dcm"]
    assert "lung_mask_failed" in row["flags"].split(";")
    assert "lung mask implausible: 5.6% of the image is lung" in row["reason"]
    assert all(row[column] == "" for column in LUNG_COLUMNS)
    assert row["p_pneumonia"] != ""


def test_outcome_row_puts_each_caveat_in_the_reason():
    prediction = Prediction(p_abnormal=0.7, p_pneumonia=0.7, p_bacterial=0.1, p_viral=0.1, p_covid=0.5,
                            pneumonia_positive=True,
                            covid_positive=False, zone_probabilities=(0.9,) * 2 + (0.1,) * 4,
                            zone_positive=(True,) * 2 + (False,) * 4,
                            lung_extent=(2.0, 1.0), lung_opacity=(1.0, 1.0))
    unfamiliar = InputCheck(True, unfamiliar="unfamiliar image: lower confidence — unlike the training films")
    lungs = LungMaskCheck(False, "lung mask implausible: 5.6% of the image is lung (expected 8%–70%)")
    row = outcome_row(Path("a.png"), Outcome(unfamiliar, prediction, None, lungs), 0.1)
    assert row["status"] == "ok" and row["p_covid"] == "0.5000" and row["p_normal"] == "0.3000"
    assert row["call"] == "Pneumonia-like opacity likely" and row["normal_ruleout"] == 0
    assert row["reason"] == f"{unfamiliar.unfamiliar}; {lungs.reason}"
    assert row["flags"] == "unfamiliar;lung_mask_failed"
    assert all(column not in row for column in LUNG_COLUMNS)
    plain = outcome_row(Path("a.png"), Outcome(InputCheck(True), prediction), 0.1)
    assert plain["reason"] == "" and plain["flags"] == ""
    assert plain["six_zone_score"] == 2 and plain["geographic_extent"] == "3.00"


def test_heatmaps_are_written_at_each_images_own_size(mixed_folder, with_heatmaps):
    (code, _, rows, provenance), maps = with_heatmaps
    assert code == EXIT_SOME_FAILED
    assert all(rows[name]["heatmap"] == "" for name in NOT_ANALYSED)
    written = [rows[name]["heatmap"] for name in ANALYSED]
    assert len(set(written)) == len(ANALYSED)  # chest.png and other/chest.png do not collide
    assert sorted(str(path) for path in maps.iterdir()) == sorted(written)
    for name in ANALYSED:
        source = mixed_folder / name
        if source.suffix == ".png":
            with Image.open(source) as image:
                expected = image.size
        else:
            header = pydicom.dcmread(source, stop_before_pixels=True)
            expected = (header.Columns, header.Rows)
        with Image.open(rows[name]["heatmap"]) as heatmap:
            assert (heatmap.format, heatmap.mode, heatmap.size) == ("PNG", "L", expected)
            levels = np.asarray(heatmap)
        assert levels.max() >= 245 and levels.min() < levels.max()  # a map scaled to its peak, not a blank
    assert set(provenance["heatmap"]) >= {"layer", "method"}


def test_heatmap_names_are_unique_and_safe(tmp_path):
    first, second = tmp_path / "a" / "chest.png", tmp_path / "b" / "chest.png"
    assert heatmap_file_name(first) != heatmap_file_name(second)
    assert heatmap_file_name(first) == heatmap_file_name(first)
    assert heatmap_file_name(first).startswith("chest-")
    odd = heatmap_file_name(tmp_path / "patient 1: é" / "x?*<>|\\.dcm")
    assert odd.endswith(".png") and all(c.isascii() and (c.isalnum() or c in "_-.") for c in odd)


def test_exit_code_is_zero_when_nothing_failed(data_root, tmp_path):
    shutil.copy(data_root / "dicom" / "rsna" / RSNA, tmp_path / "rsna.dcm")
    assert predict_main([str(tmp_path / "rsna.dcm"), "--csv", str(tmp_path / "out.csv")]) == EXIT_OK


def test_missing_model_is_reported_not_raised(mixed_folder, tmp_path, capsys):
    code = predict_main([str(mixed_folder), "--csv", str(tmp_path / "out.csv"), "--models", str(tmp_path / "none")])
    assert code == EXIT_UNUSABLE
    assert "could not be read" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()
