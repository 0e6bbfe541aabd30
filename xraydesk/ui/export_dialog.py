"""What Ctrl+E exports: the image on screen, the worklist selection, every flagged image or every
analysed image; refused images (head CTs in a chest folder, ...) only when asked for."""

from collections.abc import Mapping
from pathlib import Path

from PyQt5.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
)

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.ai.words import is_flagged

SCOPES = {  # scope -> label
    "current": "The image on screen",
    "selection": "The worklist rows selected",
    "flagged": "Every flagged image (pneumonia likely or borderline, or a caveat raised)",
    "all": "Every analysed image",
}


def analyses_in_scope(scope: str, results: Mapping[Path, ImageAnalysis], current: Path | None,
                      selected: list[Path], include_refused: bool = False) -> list[ImageAnalysis]:
    """In the order given: the worklist's for a selection, the analysis order otherwise."""
    paths = {"current": [current] if current is not None else [], "selection": selected,
             "flagged": [path for path, analysis in results.items() if is_flagged(analysis)],
             "all": list(results)}[scope]
    analyses = [results[path] for path in paths if path in results]
    return [analysis for analysis in analyses if include_refused or analysis.prediction is not None]


class ExportScopeDialog(QDialog):
    def __init__(self, counts: dict[str, int], refused: int, parent=None):
        """`counts`: scope -> how many pages it gives (refused left out); `refused`: refused images among all."""
        super().__init__(parent, windowTitle="Export PDF summary")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Export a page for:"))
        self.buttons = QButtonGroup(self)
        for scope, label in SCOPES.items():
            button = QRadioButton(f"{label} ({counts[scope]})", enabled=counts[scope] > 0)
            button.setProperty("scope", scope)
            self.buttons.addButton(button)
            layout.addWidget(button)
        preferred = ["selection", "current", "flagged", "all"]  # what the reader most likely means
        available = {button.property("scope"): button for button in self.buttons.buttons() if button.isEnabled()}
        for scope in preferred:
            if scope in available:
                available[scope].setChecked(True)
                break
        self.include_refused = QCheckBox(f"Include images the input check refused ({refused})", enabled=refused > 0)
        layout.addWidget(self.include_refused)
        box = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout.addWidget(box)

    def choice(self) -> tuple[str, bool]:
        return self.buttons.checkedButton().property("scope"), self.include_refused.isChecked()
