"""A screenshot of a saved reading put back (the README's docs/saved-reading.png): a ruler, a CTR, an arrow
and a key-image mark are made on FILM in one window, which closes; a second window opens the same folder
and is photographed from the X server once they are back. The store and settings go to a temporary
folder; the film is copied there (the source is never written to). No model is loaded (a fake analyser).
xvfb-run -a -s "-screen 0 1600x1000x24" python tests/xvfb_reading_screenshot.py OUT.png FILM"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

TIMEOUT_SECONDS = 120
READING = (("ruler", ((330.0, 250.0), (330.0, 610.0))),
           ("ctr", ((415.0, 585.0), (725.0, 585.0), (245.0, 620.0), (885.0, 620.0))),
           ("arrow", ((380.0, 590.0), (170.0, 470.0))))


def wait_until(app, condition) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the viewer did not finish loading")
        app.processEvents()
        time.sleep(0.01)


def opened(app, folder: Path, hide_patient_data: bool = False):
    from fakes import FakeAnalyser

    from xraydesk.ui.main_window import MainWindow

    window = MainWindow(FakeAnalyser())
    window.actions["auto_analyse"].setChecked(False)
    window.resize(1400, 860)
    window.show()
    if hide_patient_data:
        window.actions["hide_patient_data"].trigger()
    window.open_paths([folder])
    wait_until(app, lambda: window.workers.is_idle() and window.canvas.image is not None)
    return window


def main() -> int:
    output, film = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    work = Path(tempfile.mkdtemp(prefix="xraydesk-reading-"))
    os.environ["XDG_DATA_HOME"], os.environ["XDG_CONFIG_HOME"] = str(work / "data"), str(work / "config")
    sys.path.insert(0, str(Path(__file__).parent))  # fakes
    from PyQt5.QtCore import QSettings, Qt

    from xraydesk.imaging.measurements import Arrow, make_measurement
    from xraydesk.ui.app import create_application

    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(work / "settings"))
    app = create_application([])
    folder = work / "reading"
    folder.mkdir()
    shutil.copy(film, folder / film.name)
    try:
        first = opened(app, folder)
        for kind, points in READING:
            made = make_measurement(kind, list(points))
            first.measurement_layer.add(Arrow(made.points, "consolidation?") if kind == "arrow" else made)
        first.reading.ask_reason = lambda current: "For Teaching"
        first.mark_key_image()
        first.close()
        second = opened(app, folder, hide_patient_data=True)
        wait_until(app, lambda: len(second.session.measurements.for_image(second.canvas.image.path)) == len(READING))
        second.measurements_dock.raise_()
        second.resizeDocks([second.browser_dock], [400], Qt.Horizontal)  # the key-image mark in full
        for _ in range(30):
            app.processEvents()
            time.sleep(0.02)
        second.screen().grabWindow(second.winId()).save(str(output))
        print("\n".join(second.measurements_dock.widget().descriptions()))
        second.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
