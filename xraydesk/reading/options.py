"""The reader's options, without Qt: what the menus' check marks and the dock's overlay controls mean
(heatmap and zones shown, patient data hidden, the left button's job, the measuring tool, compare,
linked views and the hanging protocol, the heatmap's map, opacity and contours, analyse on open, de-identified PDFs, the
listener, where PDFs and de-identified exports go). Actions and docks observe `changed`; those marked remembered are kept between sessions in
a SettingsStore (QSettings in the app, a dict in tests)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from xraydesk.ai.overlay_plan import HeatmapSettings
from xraydesk.events import Event

NAVIGATE = "navigate"  # no measuring tool: the left button pans or windows
MEASURE_TOOLS = ("ruler", "angle", "ctr", "arrow")

# name -> default; REMEMBERED ones keep the reader's last choice between sessions.
DEFAULTS: dict[str, Any] = {
    "heatmap": True,
    "zones": True,
    "heatmap_settings": HeatmapSettings(),
    "hide_patient_data": False,
    "left_button_windows": False,
    "measure_tool": NAVIGATE,
    "compare": False,
    "link_views": True,
    "hanging_protocol": False,  # compare opens by itself beside a newly opened study's prior
    "auto_analyse": True,
    "deidentify_pdf": True,
    "pacs_listener": False,  # the reader's wish: the listener starts with the app when it was left on
    "export_folder": str(Path.home()),  # where the last PDF summary or de-identified export went
}
REMEMBERED = ("auto_analyse", "deidentify_pdf", "pacs_listener", "export_folder", "hanging_protocol")


class SettingsStore(Protocol):
    def value(self, key: str, default: Any) -> Any: ...

    def set_value(self, key: str, value: Any) -> None: ...


class MemoryStore:
    """Settings for one session only (tests, the command line)."""

    def __init__(self, values: dict[str, Any] | None = None):
        self.values = dict(values or {})

    def value(self, key: str, default: Any) -> Any:
        return self.values.get(key, default)

    def set_value(self, key: str, value: Any) -> None:
        self.values[key] = value


class Options:
    def __init__(self, store: SettingsStore | None = None):
        self.store = store or MemoryStore()
        self.changed = Event()  # name, value
        self._values = {name: self.store.value(name, default) if name in REMEMBERED else default
                        for name, default in DEFAULTS.items()}

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def set(self, name: str, value: Any) -> None:
        """Unknown names raise KeyError: an option is declared in DEFAULTS first."""
        if name not in self._values:
            raise KeyError(name)
        if self._values[name] == value:
            return
        self._values[name] = value
        if name in REMEMBERED:
            self.store.set_value(name, value)
        self.changed.emit(name, value)

    def observe(self, name: str, callback: Callable[[Any], None]) -> None:
        """`callback(value)` whenever `name` changes; `value` is the option's value when called (an
        observer may set the option again: those after it then see the newest value)."""
        self.changed.connect(lambda changed, _value: callback(self[name]) if changed == name else None)
