"""What Ctrl+E exports: the image on screen, the worklist selection, every flagged image or every
analysed image; refused images (head CTs in a chest folder, ...) only when asked for."""

from PyQt5.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
)

from xraydesk.reading.export_scope import PREFERRED_SCOPES, SCOPES


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
        available = {button.property("scope"): button for button in self.buttons.buttons() if button.isEnabled()}
        for scope in PREFERRED_SCOPES:
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
