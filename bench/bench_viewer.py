"""Viewer benchmark: prints a table of start-up, open-to-paint, window/level and scan figures
against the targets of issues 2 and 12. Run: QT_QPA_PLATFORM=offscreen python bench/bench_viewer.py
(bench_first_paint.py times every shared DICOM file, bench_cold_start.py the launch under X)."""

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("XRAYDESK_DATA") or REPO_ROOT / ".." / "shared" / "data").resolve()
DICOM_DIR = DATA_DIR / "dicom"
REPEATS = 5

# Started as a fresh interpreter: prints once the main window has painted.
COLD_START_SCRIPT = """
import sys
from PyQt5.QtCore import QTimer
from xraydesk.ui.app import create_application
from xraydesk.ui.main_window import MainWindow
app = create_application([])
window = MainWindow()
window.actions["auto_analyse"].setChecked(False)  # the viewer alone; bench_analysis.py times the AI
window.show()
def shown():
    print("shown", "tensorflow" in sys.modules, flush=True)
    app.quit()
QTimer.singleShot(0, shown)
app.exec_()
"""


def cold_start_seconds() -> tuple[float, bool]:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", COLD_START_SCRIPT], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.wait()
    return elapsed, line.split()[1] == "True"


def open_to_first_paint_seconds(app, path: Path) -> float:
    from xraydesk.ui.main_window import MainWindow

    window = MainWindow()
    window.actions["auto_analyse"].setChecked(False)
    window.show()
    app.processEvents()
    painted = []
    window.canvas.imagePainted.connect(painted.append)
    started = time.perf_counter()
    window.open_paths([path])
    while not painted:
        app.processEvents()
    elapsed = time.perf_counter() - started
    window.close()
    return elapsed


def synthetic_image(size: int = 2048):
    from xraydesk.imaging import XRayImage

    pixels = np.random.default_rng(0).integers(0, 4096, (size, size)).astype(np.float32)
    return XRayImage(path=Path("synthetic.dcm"), pixels=pixels, source_format="DICOM", bits_stored=12)


def window_level_seconds(app) -> tuple[float, float]:
    """(lookup-table render alone, render plus a synchronous repaint of the canvas)."""
    from xraydesk.imaging import ImageDisplay, Window
    from xraydesk.ui.canvas import ImageCanvas

    image = synthetic_image()
    display = ImageDisplay(image)
    windows = [Window(1000 + 20 * step, 1500 + 10 * step) for step in range(50)]
    render_times = []
    for window in windows:
        started = time.perf_counter()
        display.render(window)
        render_times.append(time.perf_counter() - started)
    canvas = ImageCanvas()
    canvas.resize(1200, 900)
    canvas.show()
    canvas.set_image(image)
    app.processEvents()
    update_times = []
    for window in windows:
        started = time.perf_counter()
        canvas.set_window(window)
        canvas.repaint()
        update_times.append(time.perf_counter() - started)
    canvas.close()
    return statistics.median(render_times), statistics.median(update_times)


def send_mouse(canvas, kind, x: int, y: int) -> None:
    from PyQt5.QtCore import QPoint, Qt
    from PyQt5.QtGui import QMouseEvent
    from PyQt5.QtWidgets import QApplication

    buttons = Qt.NoButton if kind == QMouseEvent.MouseButtonRelease else Qt.RightButton
    QApplication.sendEvent(canvas, QMouseEvent(kind, QPoint(x, y), Qt.RightButton, buttons, Qt.NoModifier))


def window_drag_seconds(app, zoom: float | None) -> tuple[float, float]:
    """Right-dragging window/level over a 2048 x 2048 image in a 1200 x 900 canvas, at fit or at
    `zoom`: (median of mouse move plus synchronous repaint, the release's full render plus repaint)."""
    from PyQt5.QtGui import QMouseEvent

    from xraydesk.ui.canvas import ImageCanvas

    canvas = ImageCanvas()
    canvas.resize(1200, 900)
    canvas.show()
    canvas.set_image(synthetic_image())
    if zoom:
        canvas.zoom_to(zoom)
    app.processEvents()
    send_mouse(canvas, QMouseEvent.MouseButtonPress, 600, 450)
    move_times = []
    for step in range(1, 51):
        started = time.perf_counter()
        send_mouse(canvas, QMouseEvent.MouseMove, 600 + 3 * step, 450 + 2 * step)
        canvas.repaint()
        move_times.append(time.perf_counter() - started)
    started = time.perf_counter()
    send_mouse(canvas, QMouseEvent.MouseButtonRelease, 750, 550)
    canvas.repaint()
    release_seconds = time.perf_counter() - started
    canvas.close()
    return statistics.median(move_times), release_seconds


def scan_files_per_second() -> tuple[float, int]:
    from xraydesk.imaging import scan_paths

    rates = []
    for _ in range(3):
        started = time.perf_counter()
        entries = scan_paths([DICOM_DIR])
        rates.append(len(entries) / (time.perf_counter() - started))
    return statistics.median(rates), len(entries)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    cold = [cold_start_seconds() for _ in range(REPEATS)]
    from xraydesk.ui.app import create_application

    app = create_application([])
    first_paint = [open_to_first_paint_seconds(app, DICOM_DIR / "wg04" / "RG1_UNCR.dcm") for _ in range(REPEATS)]
    render_seconds, update_seconds = window_level_seconds(app)
    drag_fit, release_fit = window_drag_seconds(app, None)
    drag_actual, release_actual = window_drag_seconds(app, 1.0)
    drag_between, _ = window_drag_seconds(app, 0.7)
    rate, scanned = scan_files_per_second()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        ("cold start to window shown", f"{statistics.median(c for c, _ in cold) * 1000:.0f} ms", "<= 1000 ms"),
        ("TensorFlow imported at start-up", str(any(tf for _, tf in cold)), "False"),
        ("open RG1_UNCR.dcm to first paint", f"{statistics.median(first_paint) * 1000:.0f} ms", "<= 300 ms"),
        ("W/L update 2048x2048: lookup", f"{render_seconds * 1000:.1f} ms", "<= 16 ms"),
        ("W/L update 2048x2048: lookup + repaint", f"{update_seconds * 1000:.1f} ms", "-"),
        ("W/L drag 2048x2048 at fit: per mouse move + repaint", f"{drag_fit * 1000:.1f} ms", "<= 16 ms"),
        ("  release: full-resolution render + repaint", f"{release_fit * 1000:.1f} ms", "-"),
        ("W/L drag 2048x2048 at 100%: per mouse move + repaint", f"{drag_actual * 1000:.1f} ms", "<= 16 ms"),
        ("  release: full-resolution render + repaint", f"{release_actual * 1000:.1f} ms", "-"),
        ("W/L drag 2048x2048 at 70% (not reduced): per move + repaint", f"{drag_between * 1000:.1f} ms", "<= 16 ms"),
        (f"scan of shared/data/dicom ({scanned} files)", f"{rate:.0f} files/s", "-"),
        ("peak memory (RSS) of this benchmark", f"{peak_mb:.0f} MB", "-"),
    ]
    print(f"XRayDesk viewer benchmark (median of {REPEATS}; {os.cpu_count()} CPUs, QPA {os.environ['QT_QPA_PLATFORM']})")
    width = max(len(name) for name, _, _ in rows)
    print(f"{'measure':<{width}}  {'result':>12}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>12}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
