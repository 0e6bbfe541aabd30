"""File ▸ Open recent, without Qt: the files and folders opened last, newest first, kept in the
SettingsStore between sessions."""

from pathlib import Path

from xraydesk.events import Event
from xraydesk.reading.options import SettingsStore

RECENT_LIMIT = 10
RECENT_KEY = "recent"


class RecentFiles:
    def __init__(self, store: SettingsStore):
        self.store = store
        self.changed = Event()

    def paths(self) -> list[str]:
        return list(self.store.value(RECENT_KEY, []))

    def remember(self, paths: list[Path]) -> None:
        recent = [str(path.resolve()) for path in paths]
        recent += [entry for entry in self.paths() if entry not in recent]
        self.store.set_value(RECENT_KEY, recent[:RECENT_LIMIT])
        self.changed.emit()
