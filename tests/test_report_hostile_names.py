"""`xraydesk report` (and the app's PDF export, which shares write_summary) tried as a hostile user would: a
--pdf over an input, a missing --pdf folder, mathtext in a name, CJK names, a 10,000-character name. The
stand-in analyser keeps the model out: the refusals must come before any analysis."""

import hashlib
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeAnalyser, synthetic_analysis

from xraydesk.ai.analysis import StudyIdentity
from xraydesk.ai.gate import InputCheck
from xraydesk.ai.trend import ChangeLimits
from xraydesk.commands.common import EXIT_OK, EXIT_OUTPUT_FAILED
from xraydesk.commands.report import report_main
from xraydesk.imaging.study_keys import StudyKeys
from xraydesk.report import ReportPage, trend_pages, write_summary
from xraydesk.report import text as report_text
from xraydesk.report.text import UNPRINTABLE_NOTE

MATHTEXT = "$a^^b$"  # matplotlib's mathtext parser fails on it
CJK_NAME = "山田^太郎"
LIMITS = ChangeLimits(geographic_extent=0.5, six_zone_score=1.0, p_pneumonia=1.0)
DISPLAY = np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (200, 1))
A4_WIDTH_POINTS = 595.3


def pdf_words(path: Path) -> str:
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


def words_off_the_page(path: Path) -> list[str]:
    """The words whose box ends past the page's right edge (pdftotext -bbox gives each word's box)."""
    boxes = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return [word for x_max, word in re.findall(r'<word [^>]*xMax="([\d.]+)"[^>]*>([^<]*)</word>', boxes)
            if float(x_max) > A4_WIDTH_POINTS]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def analysis_of(name: str, patient_id: str = "P1", study_date: str = "20200402", path: str | None = None,
                description: str = "CHEST", check: InputCheck | None = None):
    """An analysis of a film of patient `name`, one study per date."""
    study_uid = f"1.2.{patient_id}.{study_date}"
    keys = StudyKeys(name, patient_id, study_uid, study_date, study_description=description, modality="DX",
                     study=study_uid)
    identity = StudyIdentity(Path(path or f"/films/{patient_id}-{study_date}.dcm"), keys, "DICOM")
    return synthetic_analysis(identity.path, identity=identity, **({"check": check} if check else {}))


def pages_of(name: str, **details) -> list:
    """A page for the film of `name`, and the trend page of two studies of another patient of that name."""
    trend = trend_pages([analysis_of(name, "P9"), analysis_of(name, "P9", "20200409")], LIMITS)
    return [ReportPage(DISPLAY, analysis_of(name, **details)), *trend]


@pytest.fixture
def no_cjk_font(monkeypatch):
    """As on a computer without a CJK font (the cached glyph set is rebuilt around the test)."""
    monkeypatch.setattr(report_text, "fallback_fonts", lambda: ())
    report_text._printable_characters.cache_clear()
    yield
    report_text._printable_characters.cache_clear()


# ---------------------------------------------------------------- where the PDF goes


def test_a_pdf_over_an_input_is_refused_before_any_analysis(make_dicom, tmp_path, capsys):
    source = make_dicom("x.dcm")
    before, analyser = digest(source), FakeAnalyser()
    refusals = {(source, source): "is one of the inputs", (tmp_path, source): "lies inside the scanned folder",
                (tmp_path, tmp_path / "new.pdf"): "lies inside the scanned folder"}  # (input, --pdf) -> said
    for (given, pdf), said in refusals.items():
        assert report_main([str(given), "--pdf", str(pdf), "--overwrite"], analyser) == EXIT_OUTPUT_FAILED
        assert said in capsys.readouterr().err
    assert digest(source) == before and analyser.analysed == [] and not (tmp_path / "new.pdf").exists()


def test_a_missing_pdf_folder_is_found_before_any_analysis(make_dicom, tmp_path, capsys):
    source, analyser = make_dicom("x.dcm"), FakeAnalyser()
    assert report_main([str(source), "--pdf", str(tmp_path / "missing" / "r.pdf")], analyser) == EXIT_OUTPUT_FAILED
    assert f"the folder {tmp_path / 'missing'} does not exist" in capsys.readouterr().err and analyser.analysed == []


# ---------------------------------------------------------------- what the PDF prints


def test_mathtext_in_a_name_a_modality_and_a_file_name_is_printed_as_written(make_dicom, tmp_path):
    source = make_dicom(f"{MATHTEXT}.dcm", PatientName=MATHTEXT, Modality=MATHTEXT.upper())
    target = tmp_path / "report.pdf"
    assert report_main([str(source), "--pdf", str(target), "--identified"], FakeAnalyser()) == EXIT_OK
    text = pdf_words(target)
    assert f"Patient: {MATHTEXT}" in text and f"{MATHTEXT}.dcm" in text and f"Modality: {MATHTEXT.upper()}" in text


def test_mathtext_in_a_refusal_and_on_a_trend_page_is_printed_as_written(tmp_path):
    """The app's export draws these pages too (write_summary)."""
    refusal = InputCheck(False, f"modality {MATHTEXT} is not a chest radiograph")
    target = write_summary(tmp_path / "s.pdf", pages_of(MATHTEXT, check=refusal), deidentify=False)
    text = pdf_words(target)
    assert f"modality {MATHTEXT} is not a chest radiograph" in text and f"Patient: {MATHTEXT} ID: P9" in text


def test_a_cjk_name_prints_in_a_font_that_has_it(make_dicom, tmp_path):
    if not report_text.fallback_fonts():
        pytest.skip("no CJK font installed (scripts/setup.sh installs fonts-wqy-microhei)")
    source = make_dicom("cjk.dcm", SpecificCharacterSet="ISO_IR 192", PatientName=CJK_NAME, StudyDescription="胸部")
    target = tmp_path / "report.pdf"
    assert report_main([str(source), "--pdf", str(target), "--identified"], FakeAnalyser()) == EXIT_OK
    text = pdf_words(target)
    assert f"Patient: {CJK_NAME}" in text and "Study: 胸部" in text and UNPRINTABLE_NOTE not in text
    fonts = subprocess.run(["pdffonts", str(target)], capture_output=True, text=True, check=True).stdout
    assert report_text.fallback_fonts()[0].replace(" ", "") in fonts  # drawn in it, not as placeholder boxes


def test_without_a_cjk_font_the_name_is_spelled_in_code_points_and_the_page_says_so(no_cjk_font, tmp_path):
    target = write_summary(tmp_path / "s.pdf", pages_of(CJK_NAME), deidentify=False)
    image_page, trend_page = pdf_words(target).split("XRayDesk — severity trend")
    for page in (image_page, trend_page):
        assert "Patient: U+5C71U+7530^U+592AU+90CE" in page and UNPRINTABLE_NOTE in page


def test_a_10000_character_name_is_elided_to_the_page_width(tmp_path):
    name = "Verylongname" * 834
    pages = [*pages_of(name, patient_id="P5", path=f"/films/{'deep/' * 400}chest.dcm", description="D" * 10_000),
             ReportPage(DISPLAY, analysis_of(name, check=InputCheck(False, f"modality {'X' * 10_000} is odd")))]
    target = write_summary(tmp_path / "s.pdf", pages, deidentify=False)
    assert words_off_the_page(target) == []
    text = pdf_words(target)
    assert "Patient: VerylongnameVery" in text and "…" in text and "ID: P5" in text and "chest.dcm" in text
    assert "ID: P9" in text and "is odd" in text and name not in text and len(text) < 20_000
