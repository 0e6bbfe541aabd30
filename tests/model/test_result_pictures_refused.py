"""XRayDesk's own secondary capture (the film with its result burned in, as the AI node writes it into the
study) is never analysed as a film: `xraydesk predict` and the pipeline `xraydesk serve` shares refuse it
with one line saying what it is. A real capture, made by the builder from a shared RSNA film."""

import contextlib
import csv
import io
import shutil
from pathlib import Path

import pytest
from pydicom.uid import SecondaryCaptureImageStorage

from xraydesk.ai.analysis import Analyser
from xraydesk.ai.gate import XRAYDESK_RESULT, InputCheck
from xraydesk.commands.common import EXIT_OK
from xraydesk.commands.predict import predict_main
from xraydesk.dicom_results import capture_display, result_datasets, write_dataset
from xraydesk.imaging import load_image
from xraydesk.jobs.pipeline import Prepared, analyse, prepare

FILM = "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm"


@pytest.fixture(scope="module")
def study(tmp_path_factory, dicom_dir):
    """(the film, its secondary capture) in one folder, as the node leaves a study."""
    folder = tmp_path_factory.mktemp("study")
    film = Path(shutil.copy(dicom_dir / "rsna" / FILM, folder / FILM))
    image = load_image(film)
    datasets = result_datasets(Analyser().analyse(image), image.dataset, capture_display(image))
    [capture] = [dataset for dataset in datasets if dataset.SOPClassUID == SecondaryCaptureImageStorage]
    return film, write_dataset(capture, folder)


def test_predict_refuses_the_capture_with_one_line_and_analyses_the_film(study, tmp_path):
    film, capture = study
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = predict_main([str(film.parent), "--csv", str(tmp_path / "out.csv")])
    with open(tmp_path / "out.csv", newline="") as handle:
        rows = {Path(row["path"]).name: row for row in csv.DictReader(handle)}
    assert code == EXIT_OK, stderr.getvalue()
    assert rows[film.name]["status"] == "ok"
    assert (rows[capture.name]["status"], rows[capture.name]["reason"]) == ("rejected", XRAYDESK_RESULT)
    assert rows[capture.name]["p_pneumonia"] == ""


def test_the_pipeline_serve_shares_refuses_the_capture(study, shipped_model):
    _, capture = study
    prepared = prepare(capture)
    assert isinstance(prepared, Prepared)
    assert prepared.prior_check == InputCheck(False, XRAYDESK_RESULT)
    [analysed] = analyse(shipped_model, [prepared])
    assert analysed.outcome.prediction is None and analysed.outcome.check.reason == XRAYDESK_RESULT
