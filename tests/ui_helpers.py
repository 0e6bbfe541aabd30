"""Helpers shared by the window tests."""

import numpy as np
from PyQt5.QtCore import QEvent, QPoint, QPointF, Qt
from PyQt5.QtGui import QImage, QMouseEvent
from PyQt5.QtWidgets import QApplication

WAIT_MS = 60_000


def shown_window(qtbot, analyser=None, auto_analyse: bool = False, size: tuple[int, int] = (1200, 800)):
    """A main window on screen (`analyser`: e.g. a FakeAnalyser; None: the shipped model). Close it at
    the end of the test: closing stops and joins its worker threads."""
    from xraydesk.ui.main_window import MainWindow

    window = MainWindow(analyser)
    window.actions["auto_analyse"].setChecked(auto_analyse)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    return window


def shown_canvas(qtbot, size: tuple[int, int] = (600, 500)):
    from xraydesk.ui.canvas import ImageCanvas

    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(*size)
    canvas.show()
    qtbot.waitExposed(canvas)
    return canvas


def open_and_wait(qtbot, window, paths):
    window.open_paths(paths)
    qtbot.waitUntil(lambda: window.workers.is_idle(), timeout=WAIT_MS)


def wait_for_image(qtbot, window, path=None):
    qtbot.waitUntil(lambda: window.canvas.image is not None and (path is None or window.canvas.image.path == path),
                    timeout=WAIT_MS)  # fmt: skip


def canvas_pixels(canvas) -> np.ndarray:
    """The canvas as it appears on screen, as an RGB array."""
    image = canvas.grab().toImage().convertToFormat(QImage.Format_RGB888)
    pointer = image.constBits()
    pointer.setsize(image.sizeInBytes())
    rows = np.frombuffer(pointer, np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def mouse(widget, kind, position, button, buttons):
    QApplication.sendEvent(widget, QMouseEvent(kind, QPointF(position), button, buttons, Qt.NoModifier))


def drag(widget, button, start: QPoint, end: QPoint):
    mouse(widget, QEvent.MouseButtonPress, start, button, button)
    mouse(widget, QEvent.MouseMove, (start + end) / 2, Qt.NoButton, button)
    mouse(widget, QEvent.MouseMove, end, Qt.NoButton, button)
    mouse(widget, QEvent.MouseButtonRelease, end, button, Qt.NoButton)


def screen_point(canvas, x, y) -> QPoint:
    """Where image point (x, y) is on the canvas's screen."""
    return QPoint(*(round(v) for v in canvas.view.transform.image_to_screen(x, y)))


def click(canvas, point: QPoint) -> None:
    mouse(canvas, QEvent.MouseButtonPress, point, Qt.LeftButton, Qt.LeftButton)
    mouse(canvas, QEvent.MouseButtonRelease, point, Qt.LeftButton, Qt.NoButton)
