"""What Ctrl+E exports: the scope rule, without the window."""

from pathlib import Path

from fakes import synthetic_analysis

from xraydesk.ai.gate import InputCheck
from xraydesk.reading.export_scope import analyses_in_scope

POSITIVE, NEGATIVE, REFUSED = Path("/s/positive.dcm"), Path("/s/negative.dcm"), Path("/s/head-ct.dcm")
RESULTS = {POSITIVE: synthetic_analysis(POSITIVE, 0.95), NEGATIVE: synthetic_analysis(NEGATIVE, 0.02),
           REFUSED: synthetic_analysis(REFUSED, check=InputCheck(False, "modality CT is not a chest radiograph"))}


def paths(scope: str, current=None, selected=(), include_refused=False) -> list[Path]:
    return [a.path for a in analyses_in_scope(scope, RESULTS, current, list(selected), include_refused)]


def test_refused_images_are_left_out_unless_asked_for():
    assert paths("all") == [POSITIVE, NEGATIVE]
    assert paths("all", include_refused=True) == [POSITIVE, NEGATIVE, REFUSED]
    assert paths("current", current=REFUSED) == []


def test_flagged_current_and_selection():
    assert paths("flagged") == [POSITIVE]
    assert paths("current", current=NEGATIVE) == [NEGATIVE]
    assert paths("selection", selected=[NEGATIVE, POSITIVE]) == [NEGATIVE, POSITIVE]  # in the worklist's order
    assert paths("current") == []
