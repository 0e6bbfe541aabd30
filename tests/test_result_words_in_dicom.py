"""The three answers, the normal rule-out and the draft report reach the DICOM SR in the app's own
words (xraydesk.ai.words), checked with dcmtk's dsrdump on a real RSNA header."""

import subprocess
from pathlib import Path

import pydicom
import pytest
from fakes import prediction, synthetic_analysis
from required_tools import require_tool

from xraydesk.ai.gate import InputCheck
from xraydesk.ai.words import NO_ABNORMALITY, OTHER_ABNORMAL, draft_report
from xraydesk.dicom_results.structured_report import structured_report


@pytest.fixture(scope="module")
def rsna_header(dicom_dir):
    return pydicom.dcmread(min((dicom_dir / "rsna").glob("*.dcm")))


def dumped(analysis, header, tmp_path: Path) -> str:
    require_tool("dsrdump", "dcmtk")
    path = tmp_path / "sr.dcm"
    structured_report(analysis, header).save_as(path)
    return subprocess.run(["dsrdump", "+Pl", str(path)], capture_output=True, text=True, check=True).stdout


def test_a_cleared_film_says_so_in_the_sr(rsna_header, tmp_path):
    cleared = synthetic_analysis(Path("a.dcm"), answer=prediction(0.02, p_abnormal=0.05, zones=(0.1,) * 6))
    text = dumped(cleared, rsna_header, tmp_path)
    assert '"Normal rule-out")=(CLEARED,99XRAYDESK,"Cleared as normal: below the rule-out point")' in text
    assert f'"Answer (XRayDesk\'s words)")="{NO_ABNORMALITY}"' in text
    assert 'TEXT:(,,"Draft report (AI, to be edited by the reader)")="FINDINGS: No abnormality detected' in text


def test_an_abnormal_film_is_not_cleared_and_its_draft_says_what_the_model_cannot_tell(rsna_header, tmp_path):
    abnormal = synthetic_analysis(Path("a.dcm"), answer=prediction(0.05, p_abnormal=0.9, zones=(0.1,) * 6))
    text = dumped(abnormal, rsna_header, tmp_path)
    assert '"Normal rule-out")=(NOT-CLEARED,99XRAYDESK,"Not cleared as normal")' in text
    assert f'="{OTHER_ABNORMAL}"' in text
    assert "the model cannot say what it is" in draft_report(abnormal)


def test_the_draft_is_never_stronger_than_the_calls():
    borderline = draft_report(synthetic_analysis(Path("b.dcm"), p_pneumonia=0.5))
    assert "IMPRESSION: Indeterminate" in borderline and "likely" not in borderline
    refused = draft_report(synthetic_analysis(Path("c.dcm"), check=InputCheck(False, "body part is HIP")))
    assert refused.startswith("Not analysed: body part is HIP.") and "FINDINGS" not in refused
    drafted = draft_report(synthetic_analysis(Path("a.dcm")), ["cardiothoracic ratio 0.52"],
                           ["six-zone score 2 → 3 since 2020-03-18, 2 days earlier: worse"])
    assert "Reader's measurement: cardiothoracic ratio 0.52" in drafted
    assert "COMPARISON: six-zone score 2 → 3 since 2020-03-18, 2 days earlier: worse." in drafted
    assert drafted.endswith("not named.") and "Only pneumonia-like opacity is assessed" in drafted
