"""`xraydesk predict ... --dicom-out DIR`: the result of each DICOM input back as DICOM (an SR, and
a secondary capture unless refused), PNG/JPEG inputs none; the CSV as without it."""

import contextlib
import csv
import io
import shutil
from pathlib import Path

import highdicom as hd
import pydicom
import pytest
from pydicom.uid import ComprehensiveSRStorage, SecondaryCaptureImageStorage

from xraydesk.commands.common import EXIT_OK, EXIT_UNUSABLE, OutputError
from xraydesk.commands.predict import predict_main
from xraydesk.commands.predict_csv import COLUMNS, check_output

RSNA = "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm"


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_root):
    folder = tmp_path_factory.mktemp("inputs")
    shutil.copy(data_root / "dicom" / "rsna" / RSNA, folder / "rsna.dcm")
    shutil.copy(data_root / "dicom" / "nonchest" / "RG2_J2KI__hip.dcm", folder / "hip.dcm")
    shutil.copy(next((data_root / "cxr" / "images" / "covid").glob("cohen__*.png")), folder / "chest.png")
    return folder


@pytest.fixture(scope="module")
def predicted(folder, tmp_path_factory):
    """(exit code, CSV rows by file name, DICOM files written, stderr)"""
    out = tmp_path_factory.mktemp("out")
    stderr = io.StringIO()  # capsys is per test; this run is shared by the module's tests
    with contextlib.redirect_stderr(stderr):
        code = predict_main([str(folder), "--csv", str(out / "out.csv"), "--dicom-out", str(out / "dicom")])
    with open(out / "out.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        rows = {Path(row["path"]).name: row for row in reader}
    return code, rows, [pydicom.dcmread(path) for path in sorted((out / "dicom").glob("*.dcm"))], stderr.getvalue()


def test_each_dicom_input_gets_its_result_in_its_own_study(predicted, folder):
    code, rows, written, stderr = predicted
    assert code == EXIT_OK
    assert {name: row["status"] for name, row in rows.items()} == {
        "rsna.dcm": "ok", "hip.dcm": "rejected", "chest.png": "ok"}
    by_study: dict[str, list[str]] = {}
    for dataset in written:
        by_study.setdefault(dataset.StudyInstanceUID, []).append(dataset.SOPClassUID)
    rsna, hip = (pydicom.dcmread(folder / name, stop_before_pixels=True) for name in ("rsna.dcm", "hip.dcm"))
    assert sorted(by_study[rsna.StudyInstanceUID]) == sorted([ComprehensiveSRStorage, SecondaryCaptureImageStorage])
    assert by_study[hip.StudyInstanceUID] == [ComprehensiveSRStorage]  # refused: a report saying why, no capture
    assert len(by_study) == 2  # the PNG has no study: nothing written for it
    assert stderr.count("PNG/JPEG inputs got no DICOM result") == 1
    assert "wrote 3 DICOM result files" in stderr


def test_the_report_gives_the_figures_of_the_csv(predicted, folder):
    _, rows, written, _ = predicted
    rsna = pydicom.dcmread(folder / "rsna.dcm", stop_before_pixels=True)
    report = next(dataset for dataset in written
                  if dataset.SOPClassUID == ComprehensiveSRStorage and dataset.StudyInstanceUID == rsna.StudyInstanceUID)
    groups = {group.tracking_identifier: group for group in
              hd.sr.ComprehensiveSR.from_dataset(report).content.get_image_measurement_groups()}
    row = rows["rsna.dcm"]
    assert f"{groups['Pneumonia'].get_measurements()[0].value:.4f}" == row["p_pneumonia"]
    six_zone = [m.value for m in groups["Severity"].get_measurements() if m.name.meaning.startswith("Six-zone")]
    assert six_zone == [int(row["six_zone_score"])]


def test_dicom_out_is_refused_with_a_cluster(capsys, folder, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        predict_main([str(folder), "--csv", str(tmp_path / "out.csv"), "--dicom-out", str(tmp_path / "d"),
                      "--workers", "2"])
    assert exit_.value.code == EXIT_UNUSABLE
    assert "--dicom-out works in this process only" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "d").exists()


def test_dicom_out_inside_the_scanned_folder_is_refused(folder):
    with pytest.raises(OutputError, match="lies inside the scanned folder"):
        check_output(Path("elsewhere.csv"), [str(folder)], None, folder / "results")
