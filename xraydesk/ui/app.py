"""Starting the viewer: `xraydesk [PATH ...]`, `xraydesk --install-desktop`."""

import argparse
import os
import sys

from PyQt5.QtGui import QIcon
from PyQt5.QtWidgets import QApplication

from xraydesk import RESEARCH_USE_NOTICE, __version__
from xraydesk.desktop import ICON_FILE, STYLE_SHEET, install_desktop_entry
from xraydesk.ui.main_window import MainWindow


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


def run_app(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    if arguments.install_desktop:
        print(f"Installed {install_desktop_entry()}")
        return 0
    app = create_application(argv)
    window = MainWindow()
    window.show()
    window.preload_model()
    if arguments.paths:
        window.open_paths(arguments.paths)
    return app.exec_()
