"""Image ▸ Edit chest presets: the lung, mediastinum and bone windows (xraydesk.reading.presets), a CT window
in Hounsfield units and, for radiographs, a center and width in percent of the image's values."""

from dataclasses import replace

from PyQt5.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from xraydesk.reading.presets import DEFAULT_PRESETS, ChestPreset, ChestPresets

# field -> (column title, lowest, highest)
FIELDS = {
    "ct_center": ("CT center (HU)", -2000.0, 4000.0),
    "ct_width": ("CT width (HU)", 1.0, 8000.0),
    "film_center": ("Film center (%)", 0.0, 100.0),
    "film_width": ("Film width (%)", 1.0, 100.0),
}
EXPLANATION = ("CT images get the CT window. Radiographs and PNG/JPEG films have no calibrated units: they get the "
               "window between two percentiles of their own values, given as a center and width in percent "
               "(lung 31 / 58: from the darkest 2 % to 60 %). Key 4 always gives the image's own window.")


class PresetsDialog(QDialog):
    def __init__(self, presets: ChestPresets, parent: QWidget | None = None):
        super().__init__(parent, windowTitle="Chest window presets")
        self.presets = presets
        grid = QGridLayout()
        for column, (title, _, _) in enumerate(FIELDS.values(), 1):
            grid.addWidget(QLabel(title), 0, column)
        self.boxes: dict[tuple[str, str], QDoubleSpinBox] = {}
        for row, preset in enumerate(presets.all(), 1):
            grid.addWidget(QLabel(preset.label), row, 0)
            for column, (field, (_, lowest, highest)) in enumerate(FIELDS.items(), 1):
                self.boxes[preset.name, field] = box = QDoubleSpinBox(minimum=lowest, maximum=highest, decimals=1)
                grid.addWidget(box, row, column)
        self._show(presets.all())
        self.message = QLabel(EXPLANATION, wordWrap=True)
        buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel | QDialogButtonBox.RestoreDefaults)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.RestoreDefaults).clicked.connect(lambda: self._show(DEFAULT_PRESETS))
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

    def _show(self, presets: tuple[ChestPreset, ...]) -> None:
        for preset in presets:
            for field in FIELDS:
                self.boxes[preset.name, field].setValue(getattr(preset, field))

    def edited(self) -> list[ChestPreset]:
        return [replace(preset, **{field: self.boxes[preset.name, field].value() for field in FIELDS})
                for preset in self.presets.all()]

    def save(self) -> None:
        try:
            self.presets.save(self.edited())
        except ValueError as error:
            self.message.setText(str(error))
        else:
            self.accept()
