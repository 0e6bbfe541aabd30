"""The clock of the read marks: an image counts as read once it has stayed on screen for READ_AFTER_MS
(paging past a film with PgDown does not read it), or when the reader says so (M). The rule and the
marks are the reading model's (Reading.dwelt, Reading.toggle_read); this only times it."""

from PyQt5.QtCore import QObject, QTimer

from xraydesk.reading import Reading

READ_AFTER_MS = 1000


class ReadMarker(QObject):
    def __init__(self, reading: Reading, parent: QObject | None = None):
        super().__init__(parent)
        self.reading = reading
        self.timer = QTimer(self, singleShot=True, interval=READ_AFTER_MS)
        self.timer.timeout.connect(reading.dwelt)
        reading.image_shown.connect(lambda _display: self.timer.start())
        reading.closed.connect(self.timer.stop)

    def toggle(self) -> None:
        """The reader's own mark (M) for the image on screen; the timer no longer decides for it."""
        self.timer.stop()
        self.reading.toggle_read()
