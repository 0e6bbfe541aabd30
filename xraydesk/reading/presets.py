"""Chest window/level presets (no Qt): lung, mediastinum and bone, which the reader may edit (kept in the
SettingsStore), and the image's own default window.

A preset holds two windows because only CT has calibrated units: a CT image gets the preset's CT window
(center and width in Hounsfield units, its modality values); a radiograph (DICOM CR/DX, 8- or 16-bit
PNG/JPEG films) gets the window between two percentiles of its own values, given as a center and width
in percent (lung 31/58: the darkest 2 % to 60 %), so one preset suits films of any bit depth and exposure
(xraydesk.imaging.ImageDisplay.preset_window)."""

import json
from dataclasses import asdict, dataclass

from xraydesk.imaging import ImageDisplay, Window
from xraydesk.imaging.display import CT_LUNG_WINDOW, LUNG_PERCENTILES
from xraydesk.reading.options import SettingsStore

PRESETS_KEY = "window_presets"
DEFAULT_PRESET = "default"  # the image's own window: the header's first, else as stored or auto


@dataclass(frozen=True)
class ChestPreset:
    name: str
    label: str
    ct_center: float
    ct_width: float
    film_center: float  # percent of the image's values
    film_width: float

    def film_percentiles(self) -> tuple[float, float]:
        half = self.film_width / 2
        return max(self.film_center - half, 0.0), min(self.film_center + half, 100.0)

    def window(self, display: ImageDisplay) -> Window:
        return display.preset_window((self.ct_center, self.ct_width), self.film_percentiles(), self.label)

    def problem(self) -> str:
        """Why the preset cannot be used ('' when it can)."""
        if self.ct_width < 1:
            return f"{self.label}: the CT width must be at least 1 HU (not {self.ct_width:g})"
        if not 0 <= self.film_center <= 100 or not 0 < self.film_width <= 100:
            return (f"{self.label}: the film center must lie in 0-100 % and the width in 1-100 % "
                    f"(not {self.film_center:g} / {self.film_width:g})")
        return ""


def _lung() -> ChestPreset:
    low, high = LUNG_PERCENTILES
    return ChestPreset("lung", "Lung", *CT_LUNG_WINDOW, (low + high) / 2, high - low)


# Mediastinum and bone on films: the dense (bright) part of the histogram, bone the densest.
DEFAULT_PRESETS = (_lung(), ChestPreset("mediastinum", "Mediastinum", 40.0, 400.0, 75.0, 50.0),
                   ChestPreset("bone", "Bone", 480.0, 2500.0, 85.0, 30.0))
PRESET_NAMES = tuple(preset.name for preset in DEFAULT_PRESETS) + (DEFAULT_PRESET,)


class ChestPresets:
    """The reader's presets, as edited (the defaults until then)."""

    def __init__(self, store: SettingsStore):
        self.store = store

    def all(self) -> tuple[ChestPreset, ...]:
        try:
            saved = json.loads(self.store.value(PRESETS_KEY, "{}"))
            presets = tuple(ChestPreset(**{**asdict(preset), **saved.get(preset.name, {}), "name": preset.name,
                                           "label": preset.label}) for preset in DEFAULT_PRESETS)
        except (TypeError, ValueError):  # settings edited by hand into nonsense: the defaults
            return DEFAULT_PRESETS
        return DEFAULT_PRESETS if any(preset.problem() for preset in presets) else presets

    def get(self, name: str) -> ChestPreset:
        return next(preset for preset in self.all() if preset.name == name)

    def save(self, presets: list[ChestPreset]) -> None:
        """Raises ValueError (one line naming the preset) when one is unusable; nothing is saved then."""
        problems = [preset.problem() for preset in presets if preset.problem()]
        if problems:
            raise ValueError(problems[0])
        self.store.set_value(PRESETS_KEY, json.dumps({preset.name: asdict(preset) for preset in presets}))

    def reset(self) -> None:
        self.store.set_value(PRESETS_KEY, "{}")

    def window(self, name: str, display: ImageDisplay) -> Window:
        """The window of preset `name` (PRESET_NAMES) for the image `display` shows."""
        return display.default_window() if name == DEFAULT_PRESET else self.get(name).window(display)
