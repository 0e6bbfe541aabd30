"""Starting the viewer: `xraydesk [PATH ...]`, `xraydesk --install-desktop`."""

import argparse
import os
import sys
import threading
from functools import partial

from PyQt5.QtCore import QEvent, QObject, QTimer
from PyQt5.QtGui import QIcon
from PyQt5.QtWidgets import QApplication, QWidget

from xraydesk import RESEARCH_USE_NOTICE, __version__
from xraydesk.desktop import ICON_FILE, STYLE_SHEET, install_desktop_entry
from xraydesk.ui.main_window import MainWindow

# Set (to anything) by bench/bench_cold_start.py: print "painted" once the window has painted, and quit.
QUIT_ON_FIRST_PAINT = "XRAYDESK_QUIT_ON_FIRST_PAINT"


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="xraydesk", description=f"Chest X-ray viewer. {RESEARCH_USE_NOTICE}")
    parser.add_argument("paths", nargs="*", help="DICOM, PNG or JPEG files, DICOMDIRs or folders to open")
    parser.add_argument("--install-desktop", action="store_true",
                        help="add XRayDesk to the applications menu and as a handler of DICOM/PNG/JPEG files")  # fmt: skip
    parser.add_argument("--version", action="version", version=f"XRayDesk {__version__}")
    return parser.parse_args(argv)


def create_application(argv: list[str]) -> QApplication:
    # Qt's xcb OpenGL integration loads Mesa, whose LLVM clashes with TensorFlow's: importing
    # TensorFlow afterwards (the first analysis) segfaults. XRayDesk paints without OpenGL.
    os.environ.setdefault("QT_XCB_GL_INTEGRATION", "none")
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("XRayDesk")
    app.setOrganizationName("XRayDesk")
    app.setDesktopFileName("xraydesk")
    app.setWindowIcon(QIcon(str(ICON_FILE)))
    app.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))
    return app


class FirstPaint(QObject):
    """Calls `callback` once, after the widget's first paint has been flushed to the screen."""

    def __init__(self, widget: QWidget, callback):
        super().__init__(widget)
        self._callback = callback
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Paint:
            watched.removeEventFilter(self)
            # After the paint event returns: the backing store is flushed before the next timer.
            QTimer.singleShot(0, self._callback)
        return False


def _report_paint_and_quit(app: QApplication) -> None:
    print("painted", flush=True)
    app.quit()


def _prepare_for_work(window: MainWindow) -> None:
    threading.Thread(target=_prepare_loading, name="xraydesk-prepare-loading", daemon=True).start()
    window.preload_model()


def _prepare_loading() -> None:
    """The loaders (pydicom: about 0.2 s to import) and the decoder process (about 0.25 s to start),
    made ready off the UI thread, so that the first file opened need not wait for them."""
    from xraydesk.imaging import loading, scanning  # noqa: F401
    from xraydesk.imaging.decoding import start_helper

    start_helper()


def run_app(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    if arguments.install_desktop:
        print(f"Installed {install_desktop_entry()}")
        return 0
    app = create_application(argv)
    window = MainWindow()
    # Loading the model (TensorFlow's import: seconds of CPU) would compete with the first paint.
    quitting = os.environ.get(QUIT_ON_FIRST_PAINT)
    FirstPaint(window, partial(_report_paint_and_quit, app) if quitting else partial(_prepare_for_work, window))
    window.join_workers_on_close = False
    window.show()
    if arguments.paths:
        window.open_paths(arguments.paths)
    status = app.exec_()
    # Quit at once: an uninterruptible model load or analysis would hold a join for seconds, and
    # TensorFlow's teardown at interpreter exit takes more than a second. Nothing is left to save:
    # PDFs and DICOM are written atomically and each setting is saved as it is changed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
