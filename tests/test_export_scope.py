"""What Ctrl+E exports: the scope rule, without the window."""

from pathlib import Path

from fakes import prediction, synthetic_analysis

from xraydesk.ai.gate import InputCheck
from xraydesk.reading.export_scope import analyses_in_scope

POSITIVE, NEGATIVE, REFUSED = Path("/s/positive.dcm"), Path("/s/negative.dcm"), Path("/s/head-ct.dcm")
RESULTS = {POSITIVE: synthetic_analysis(POSITIVE, 0.95), NEGATIVE: synthetic_analysis(NEGATIVE, answer=prediction(0.02, zones=(0.1,) * 6)),
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


def test_the_dialogs_radio_buttons_and_check_box_stand_out_on_the_dark_theme(qtbot):
    import numpy as np
    from PyQt5.QtWidgets import QStyle, QStyleOptionButton
    from ui_helpers import canvas_pixels

    from xraydesk.desktop import STYLE_SHEET
    from xraydesk.ui.export_dialog import ExportScopeDialog

    dialog = ExportScopeDialog({"current": 1, "selection": 0, "flagged": 2, "all": 3}, 1)
    dialog.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))  # as the app applies it
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    for button, element in [(button, QStyle.SE_RadioButtonIndicator) for button in dialog.buttons.buttons()] + [
            (dialog.include_refused, QStyle.SE_CheckBoxIndicator)]:
        option = QStyleOptionButton()
        button.initStyleOption(option)
        indicator = button.style().subElementRect(element, option, button)
        pixels = canvas_pixels(button).astype(float).mean(axis=2)  # grey levels of the button as drawn
        ring = pixels[indicator.top():indicator.bottom() + 1, indicator.left():indicator.right() + 1]
        background = np.median(pixels[:, -4:])  # the dialog's own background, right of the label
        # the indicator's outline, on or off; dimmer, still seen, when the choice is not available
        assert ring.max() - background > (100 if button.isEnabled() else 40), button.text()
