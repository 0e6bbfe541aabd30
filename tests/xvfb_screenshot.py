"""Opens the app on a real X display (Qt's xcb platform), loads images, waits for the selected
image's AI analysis and saves two screenshots taken from the X server: OUT.png with the heatmap and
zone overlays, OUT-plain.png without them, plus the canvas geometry and the results as JSON. Used by
test_screenshot.py and to make the README screenshots:
python tests/xvfb_screenshot.py OUT.png PATH [PATH ...] [--select FILE] [--analyse-all] [--compare] [--trend]
                                 [--zoom FACTOR] [--export-dialog] [--draft]
--analyse-all runs the worklist first (the severity trend needs the patient's other studies analysed),
--compare takes the shots in compare-with-prior mode, --trend scrolls the results dock to the trend,
--zoom zooms in about the centre of the image view (the lower zones' labels come near the corner texts),
--draft scrolls the results dock to the draft report, --export-dialog adds OUT-export.png: Ctrl+E's dialog as it opens over the window."""

import argparse
import json
import sys
import time
from pathlib import Path

from PyQt5.QtCore import QPoint, QTimer
from PyQt5.QtWidgets import QApplication

from xraydesk.ui.app import create_application
from xraydesk.ui.main_window import MainWindow

TIMEOUT_SECONDS = 120


def wait_until(app: QApplication, condition) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the viewer did not finish loading")
        app.processEvents()
        time.sleep(0.01)


def settle(app: QApplication) -> None:
    """Lets the window manager-less X server map and paint everything."""
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)


def shoot_export_dialog(app: QApplication, window: MainWindow, name: Path) -> None:
    """Ctrl+E's dialog (modal: shot and cancelled from a timer)."""

    def shoot() -> None:
        dialog = QApplication.activeModalWidget()
        settle(app)
        window.screen().grabWindow(dialog.winId()).save(str(name))
        dialog.reject()

    QTimer.singleShot(200, shoot)
    window.export_pdf()  # returns once the dialog is cancelled


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("output", type=Path)
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--select", type=Path, help="the image to show after loading")
    parser.add_argument("--analyse-all", action="store_true", help="analyse every image (the worklist) first")
    parser.add_argument("--compare", action="store_true", help="compare the image with its prior (key C)")
    parser.add_argument("--trend", action="store_true", help="show the severity trend in the results dock")
    parser.add_argument("--draft", action="store_true", help="show the draft report in the results dock")
    parser.add_argument("--zoom", type=float, help="zoom in by this factor about the view's centre")
    parser.add_argument("--export-dialog", action="store_true", help="also shoot Ctrl+E's dialog")
    arguments = parser.parse_args()
    app = create_application([])
    window = MainWindow()
    window.resize(1400, 860)
    window.show()
    window.open_paths(arguments.paths)
    wait_until(app, lambda: window.workers.is_idle() and window.canvas.image is not None)
    if arguments.select:
        window.browser.select_path(arguments.select)
        wait_until(app, lambda: window.canvas.image is not None and window.canvas.image.path == arguments.select)
    selected = window.canvas.image.path
    wait_until(app, lambda: selected in window.analysis.results and window.workers.is_idle())
    if arguments.analyse_all:
        window.analyse_all()
        finished = []
        window.analysis.worklistFinished.connect(finished.append)  # unreadable files have no result
        wait_until(app, lambda: bool(finished) and window.workers.is_idle())
    if arguments.compare:
        window.actions["compare"].trigger()
        wait_until(app, lambda: window.compare_view.prior.image is not None and window.workers.is_idle())
    if arguments.trend:
        wait_until(app, lambda: window.results_panel.trend.isVisible())
        window.results_dock.widget().ensureWidgetVisible(window.results_panel.trend)
    if arguments.draft:  # the panel sits in a scroll area (main_window.scrollable)
        settle(app)
        window.results_panel.parentWidget().parentWidget().ensureWidgetVisible(window.results_panel.draft.text, 0, 0)
    if arguments.zoom:
        window.canvas.zoom_by(arguments.zoom, window.canvas.width() / 2, window.canvas.height() / 2)
    for shown in (False, True):
        window.actions["heatmap"].setChecked(shown)
        window.actions["zones"].setChecked(shown)
        settle(app)
        name = arguments.output if shown else arguments.output.with_name(f"{arguments.output.stem}-plain.png")
        window.screen().grabWindow(window.winId()).save(str(name))
    if arguments.export_dialog:
        shoot_export_dialog(app, window, arguments.output.with_name(f"{arguments.output.stem}-export.png"))
    canvas = window.canvas
    origin = canvas.mapTo(window, QPoint(0, 0))
    transform = canvas.view.transform
    geometry = {
        "platform": app.platformName(),
        "canvas": [origin.x(), origin.y(), canvas.width(), canvas.height()],
        "image_size": [canvas.image.width, canvas.image.height],
        "transform": [transform.scale, transform.offset_x, transform.offset_y],
        "results": window.results_panel.status.text(),
        "reading": window.results_panel.reading.text(),
        "score": window.results_panel.score.text(),
        "trend": window.results_panel.trend.change.text() if window.results_panel.trend.isVisible() else "",
        "prior": str(window.compare_view.prior.image.path) if arguments.compare else "",
    }
    arguments.output.with_suffix(".json").write_text(json.dumps(geometry))
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
