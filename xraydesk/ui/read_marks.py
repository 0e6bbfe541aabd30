"""When an image counts as read: once it has stayed on screen for READ_AFTER_MS (paging past a film with
PgDown does not read it), or when the reader says so (M). The marks themselves are the session's."""

from pathlib import Path

from PyQt5.QtCore import QObject, QTimer

from xraydesk.imaging.session import StudySession

READ_AFTER_MS = 1000


class ReadMarker(QObject):
    def __init__(self, session: StudySession, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self._shown: Path | None = None
        self.timer = QTimer(self, singleShot=True, interval=READ_AFTER_MS)
        self.timer.timeout.connect(self._dwelt)
        session.cleared.connect(self.timer.stop)

    def shown(self, path: Path) -> None:
        """An image came on screen: read if it is still there READ_AFTER_MS from now."""
        self._shown = path
        self.timer.start()

    def toggle(self, path: Path) -> None:
        """The reader's own mark (M) for the image on screen; the timer no longer decides for it."""
        self.timer.stop()
        self.session.set_read(path, not self.session.is_read(path))

    def _dwelt(self) -> None:
        if self._shown is not None:
            self.session.set_read(self._shown)
