import csv
import json
import shutil

import pytest

from xraydesk.ai.batch import COLUMNS, EXIT_OK, EXIT_SOME_FAILED, EXIT_UNUSABLE, predict_main

PROBABILITY_COLUMNS = ["p_normal", "p_bacterial", "p_viral", "p_covid", "p_pneumonia",
                       "zone_RU", "zone_RM", "zone_RL", "zone_LU", "zone_LM", "zone_LL"]


def _read(path):
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, {row["path"].rsplit("/", 1)[-1]: row for row in reader}


@pytest.fixture
def mixed_folder(tmp_path, data_root):
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(next((data_root / "cxr" / "images" / "covid").glob("cohen__*.png")), folder / "chest.png")
    shutil.copy(data_root / "dicom" / "rsna" / "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm", folder / "rsna.dcm")
    shutil.copy(data_root / "dicom" / "nonchest" / "RG2_J2KI__hip.dcm", folder / "hip.dcm")
    (folder / "empty.dcm").write_bytes(b"")
    (folder / "truncated.png").write_bytes((folder / "chest.png").read_bytes()[:300])
    return folder


def test_csv_has_the_exact_columns_and_every_status(mixed_folder, tmp_path):
    out = tmp_path / "out.csv"
    assert predict_main([str(mixed_folder), "--csv", str(out)]) == EXIT_SOME_FAILED
    columns, rows = _read(out)
    assert columns == COLUMNS
    assert {name: row["status"] for name, row in rows.items()} == {
        "chest.png": "ok", "rsna.dcm": "ok", "hip.dcm": "rejected", "empty.dcm": "error", "truncated.png": "error"}
    for name in ("chest.png", "rsna.dcm"):
        row = rows[name]
        assert all(0.0 <= float(row[column]) <= 1.0 for column in PROBABILITY_COLUMNS)
        total = sum(float(row[c]) for c in ("p_normal", "p_bacterial", "p_viral", "p_covid"))
        assert total == pytest.approx(1.0, abs=2e-4)
        assert float(row["p_pneumonia"]) == pytest.approx(1 - float(row["p_normal"]), abs=2e-4)
        assert row["pneumonia_positive"] in ("0", "1") and row["covid_positive"] in ("0", "1")
        assert int(row["six_zone_score"]) in range(7)
        assert 0.0 <= float(row["geographic_extent"]) <= 8.0
        assert float(row["seconds"]) > 0
    assert "HIP" in rows["hip.dcm"]["reason"] and rows["hip.dcm"]["p_normal"] == ""
    assert rows["empty.dcm"]["reason"] and rows["truncated.png"]["reason"]
    provenance = json.loads((tmp_path / "out.csv.json").read_text())
    assert provenance["model"].startswith("XRayDesk CXR")


def test_exit_code_is_zero_when_nothing_failed(mixed_folder, tmp_path):
    for broken in ("empty.dcm", "truncated.png"):
        (mixed_folder / broken).unlink()
    assert predict_main([str(mixed_folder), "--csv", str(tmp_path / "out.csv")]) == EXIT_OK


def test_missing_model_is_reported_not_raised(mixed_folder, tmp_path, capsys):
    code = predict_main([str(mixed_folder), "--csv", str(tmp_path / "out.csv"), "--models", str(tmp_path / "none")])
    assert code == EXIT_UNUSABLE
    assert "could not be read" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()
