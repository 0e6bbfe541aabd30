"""`xraydesk report` end to end with the shipped model: two RALO films of one patient, re-wrapped as DICOM
studies five days apart, give a PDF with a page per film and a trend page; de-identified by default."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from dicom_files import DATA_DIR, write_dicom
from PIL import Image
from pydicom.uid import generate_uid

from xraydesk.ai.analysis import Analyser
from xraydesk.ai.trend import ChangeLimits, change_lines, patient_trends
from xraydesk.commands.common import EXIT_OK, EXIT_OUTPUT_FAILED, EXIT_SOME_FAILED, EXIT_UNUSABLE
from xraydesk.commands.report import report_main
from xraydesk.imaging import load_image

# One RALO test patient's first and third films (the readers' extent 4.5, then 6.5), with their exam times.
FILMS = (("ralo__124.jpeg", "20200328", "220526"), ("ralo__126.jpeg", "20200402", "133210"))


@pytest.fixture(scope="module")
def analyser() -> Analyser:
    analyser = Analyser()
    analyser.model()
    return analyser


@pytest.fixture(scope="module")
def studies(tmp_path_factory) -> Path:
    """Two studies of patient RALO-S12123 (new files; the shared JPEGs are only read), a truncated file and
    an image the input check refuses."""
    folder = tmp_path_factory.mktemp("studies")
    for name, study_date, study_time in FILMS:
        source = DATA_DIR / "cxr" / "images" / "covid" / name
        if not source.exists():
            pytest.skip(f"shared RALO film {source} not found")
        write_dicom(folder / f"{study_date}.dcm", np.asarray(Image.open(source).convert("L")),
                    PatientName="Doe^Jane", PatientID="RALO-S12123", StudyDate=study_date, StudyTime=study_time,
                    StudyInstanceUID=generate_uid(), SeriesInstanceUID=generate_uid())
    (folder / "truncated.dcm").write_bytes((folder / f"{FILMS[0][1]}.dcm").read_bytes()[:2000])
    write_dicom(folder / "head.dcm", np.full((256, 256), 100, np.uint8), Modality="CT")
    return folder


def words(pdf: Path) -> str:
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


def test_a_folder_of_two_studies_gives_image_pages_and_a_trend_page(studies, analyser, tmp_path, capsys):
    target = tmp_path / "report.pdf"
    assert report_main([str(studies), "--pdf", str(target), "--identified"], analyser) == EXIT_SOME_FAILED
    errors = capsys.readouterr().err
    assert "cannot read" in errors and "truncated.dcm" in errors and "1 unreadable" in errors
    assert "left out 1 image the input check refused" in errors
    text = words(target)
    assert text.count("XRayDesk — AI second opinion on a chest X-ray") == 2
    assert "XRayDesk — severity trend" in text and "Doe^Jane" in text
    assert "2020-03-28" in text and "2020-04-02" in text
    analyses = [analyser.analyse(load_image(studies / f"{date}.dcm")) for _, date, _ in FILMS]
    [trend] = patient_trends(analyses).values()
    expected = change_lines(trend, ChangeLimits.from_metadata(analyser.model().metadata))
    assert "since 2020-03-28, 5 days earlier" in expected[0]
    for line in expected:
        assert line in text


def test_the_default_report_is_de_identified(studies, analyser, tmp_path):
    target = tmp_path / "report.pdf"
    assert report_main([str(studies / "20200328.dcm"), str(studies / "20200402.dcm"), "--pdf", str(target)],
                       analyser) == EXIT_OK
    text = words(target)
    assert "XRayDesk — severity trend" in text and "since day 0, 5 days earlier:" in text
    for identifying in ("Doe", "RALO-S12123", "2020-", "20200328"):
        assert identifying not in text
    assert text.count("Map: Opacity (box-trained)") == 2, "the map the app shows by default, not a Grad-CAM"


def test_an_existing_pdf_is_kept_and_a_missing_model_is_named(studies, tmp_path, capsys):
    existing = tmp_path / "kept.pdf"
    existing.write_bytes(b"keep")
    assert report_main([str(studies), "--pdf", str(existing)]) == EXIT_OUTPUT_FAILED
    assert existing.read_bytes() == b"keep" and "already exists; use --overwrite" in capsys.readouterr().err
    missing = tmp_path / "no-models"
    assert report_main([str(studies), "--pdf", str(tmp_path / "new.pdf"), "--models", str(missing)]) == EXIT_UNUSABLE
    assert str(missing) in capsys.readouterr().err and not (tmp_path / "new.pdf").exists()
