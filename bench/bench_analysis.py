"""The AI in the app: open -> results and heatmap visible (cold, including the model load, and warm),
Grad-CAM per output, the longest stall of the UI event loop while analyses run, worklist
throughput on the shared DICOMs and on 500 shared PNGs, and memory (peak, and growth over 500
images). Run: QT_QPA_PLATFORM=offscreen python bench/bench_analysis.py [--pngs 500]"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("XRAYDESK_DATA") or REPO_ROOT / ".." / "shared" / "data").resolve()
RSNA = sorted((DATA_DIR / "dicom" / "rsna").glob("*.dcm"))
STALL_TICK_MS = 5
FOLDER_CHOICE_SECONDS = 3.0

# A fresh interpreter, as the app starts (the model preloads at launch); after `delay` seconds (0: a
# file given on the command line; a few seconds: choosing a folder) it opens a DICOM. Prints the
# time from asking to open it to its analysis on screen.
COLD_SCRIPT = """
import sys, time
from xraydesk.ui.app import create_application
from xraydesk.ui.main_window import MainWindow
app = create_application([])
window = MainWindow()
window.actions["auto_analyse"].setChecked(True)
window.show()
app.processEvents()
path = __import__("pathlib").Path(sys.argv[1])
window.preload_model()
launched = time.perf_counter()
while time.perf_counter() < launched + float(sys.argv[2]):
    app.processEvents()
    time.sleep(0.001)  # idle like app.exec_(): a busy loop would hold the GIL the loading worker needs
started = time.perf_counter()
window.open_paths([path])
while window.heatmap_layer.analysis is None or window.heatmap_layer.analysis.path != path:
    app.processEvents()
    time.sleep(0.001)
window.canvas.repaint()
print(time.perf_counter() - started, flush=True)
window.close()
"""


def cold_open_to_result_seconds(path: Path, delay: float = 0.0) -> float:
    output = subprocess.run([sys.executable, "-c", COLD_SCRIPT, str(path), str(delay)], capture_output=True,
                            text=True, cwd=REPO_ROOT, check=True).stdout
    return float(output.split()[-1])


class StallMeter:
    """Records the longest gap between ticks of a fast timer: how long the event loop was blocked."""

    def __init__(self):
        from PyQt5.QtCore import QTimer

        self.longest = 0.0
        self._last = time.perf_counter()
        self.timer = QTimer(interval=STALL_TICK_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    def start(self) -> None:
        self.longest, self._last = 0.0, time.perf_counter()
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return self.longest


def run_until(app, condition) -> None:
    while not condition():
        app.processEvents()
        time.sleep(0.001)


def warm_open_to_result_seconds(app, window, paths: list[Path]) -> list[float]:
    samples = []
    for path in paths:
        started = time.perf_counter()
        window.open_paths([path])
        run_until(app, lambda path=path: window.heatmap_layer.analysis is not None
                  and window.heatmap_layer.analysis.path == path)
        window.canvas.repaint()
        samples.append(time.perf_counter() - started)
    return samples


def worklist_images_per_second(app, window, paths: list[Path]) -> tuple[float, float]:
    """(images per second, longest event-loop stall) for a worklist over `paths`."""
    window.analysis.results.clear()
    meter = StallMeter()
    finished = []
    window.analysis.worklistFinished.connect(finished.append)
    window.worklist.start(len(paths))
    meter.start()
    started = time.perf_counter()
    window.analysis.analyse_paths(paths)
    run_until(app, lambda: finished)
    elapsed = time.perf_counter() - started
    window.analysis.worklistFinished.disconnect(finished.append)
    return len(paths) / elapsed, meter.stop()


def rss_megabytes() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def gradcam_seconds(window) -> dict[str, float]:
    from xraydesk.ai.analysis import GRADCAM_TARGETS
    from xraydesk.ai.gradcam import GradCam
    from xraydesk.ai.inputs import prepare_image
    from xraydesk.imaging import load_image

    model = window.analysis.analyser.model()
    gradcam = GradCam.from_metadata(model.classifiers, model.metadata)
    model_input = prepare_image(load_image(RSNA[0]))[0][None]
    gradcam.heatmaps(model_input, "pneumonia")  # traces the tf.function
    times = {}
    for target in GRADCAM_TARGETS:
        samples = []
        for _ in range(20):
            started = time.perf_counter()
            gradcam.heatmaps(model_input, target)
            samples.append(time.perf_counter() - started)
        times[target] = statistics.median(samples)
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pngs", type=int, default=500)
    arguments = parser.parse_args()
    from xraydesk.imaging import IMAGE, scan_paths
    from xraydesk.training.data import load_examples
    from xraydesk.ui.app import create_application
    from xraydesk.ui.main_window import MainWindow

    cold = [cold_open_to_result_seconds(RSNA[i]) for i in range(3)]
    after_choosing = [cold_open_to_result_seconds(RSNA[i], FOLDER_CHOICE_SECONDS) for i in range(3)]
    app = create_application([])
    window = MainWindow()
    window.actions["auto_analyse"].setChecked(True)
    window.resize(1400, 900)
    window.show()
    meter = StallMeter()
    meter.start()
    warm_open_to_result_seconds(app, window, RSNA[:1])  # loads the model while the meter runs
    stall_during_load = meter.stop()
    meter.start()
    warm = warm_open_to_result_seconds(app, window, RSNA[1:8])
    stall_warm = meter.stop()
    gradcam = gradcam_seconds(window)
    dicom_paths = [entry.path for entry in scan_paths([DATA_DIR / "dicom"]) if entry.kind == IMAGE]
    dicom_rate, dicom_stall = worklist_images_per_second(app, window, dicom_paths)
    pngs = [DATA_DIR / "cxr" / example.image for example in load_examples()
            if example.split in ("val", "test")][: arguments.pngs]
    rss_before = rss_megabytes()
    png_rate, png_stall = worklist_images_per_second(app, window, pngs)
    rss_after = rss_megabytes()
    png_rate_again, _ = worklist_images_per_second(app, window, pngs)
    rss_after_second = rss_megabytes()
    window.close()

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("| measure | figure | target |\n|---|---|---|")
    print(f"| open at launch (file on the command line) -> results + heatmap, cold | median {statistics.median(cold):.2f} s "
          f"({', '.join(f'{s:.2f}' for s in cold)}) | <= 5 s |")
    print(f"| open {FOLDER_CHOICE_SECONDS:.0f} s after launch (choosing a folder) -> results + heatmap | median "
          f"{statistics.median(after_choosing):.2f} s ({', '.join(f'{s:.2f}' for s in after_choosing)}) | <= 5 s |")
    print(f"| open -> results + heatmap, warm (7 RSNA DICOMs) | median {statistics.median(warm) * 1000:.0f} ms, "
          f"max {max(warm) * 1000:.0f} ms | <= 1 s |")
    print(f"| Grad-CAM, one output | {', '.join(f'{t} {s * 1000:.1f} ms' for t, s in gradcam.items())} | <= 300 ms |")
    print(f"| longest UI stall: model load / warm analyses / DICOM worklist / PNG worklist | "
          f"{stall_during_load * 1000:.0f} / {stall_warm * 1000:.0f} / {dicom_stall * 1000:.0f} / "
          f"{png_stall * 1000:.0f} ms | <= 50 ms |")
    print(f"| worklist, shared/data/dicom ({len(dicom_paths)} images) | {dicom_rate:.1f} images/s | - |")
    print(f"| worklist, {len(pngs)} shared PNGs (val, test) | {png_rate:.1f} images/s "
          f"(second run {png_rate_again:.1f}) | - |")
    print(f"| memory: RSS before / after {len(pngs)} / after {2 * len(pngs)} images; peak | "
          f"{rss_before:.0f} / {rss_after:.0f} / {rss_after_second:.0f} MB; peak {peak:.0f} MB | no growth |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
