"""Quitting: seconds from closing the window (what Ctrl+Q does) to the end of the process, at the
worst moment: while the model loads (TensorFlow's import and the weights cannot be interrupted).
Run: xvfb-run -a .venv/bin/python bench/bench_quit.py [FOLDER]"""

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REPEATS = 3
# The app as launched, closing itself half a second into the model's load.
CHILD = """
import sys
from PyQt5.QtCore import QTimer
from xraydesk.ui import app
from xraydesk.ui.main_window import MainWindow

created = MainWindow.__init__

def init(window, *args, **kwargs):
    created(window, *args, **kwargs)
    def close():
        print("closing", flush=True)
        window.close()
    window.analysis.modelLoading.connect(lambda: QTimer.singleShot(500, close))

MainWindow.__init__ = init
sys.exit(app.run_app(sys.argv[1:]))
"""


def quit_seconds(paths: list[str]) -> float:
    process = subprocess.Popen([sys.executable, "-c", CHILD, *paths], stdout=subprocess.PIPE, text=True,
                               cwd=REPO_ROOT)
    if process.stdout.readline().strip() != "closing":
        raise RuntimeError(f"the app did not start loading the model (exit code {process.wait()})")
    closing = time.perf_counter()
    process.wait(timeout=120)
    return time.perf_counter() - closing


def main() -> int:
    paths = sys.argv[1:]
    times = [quit_seconds(paths) for _ in range(REPEATS)]
    print(f"close while the model loads -> process ended: median {statistics.median(times) * 1000:.0f} ms "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}) over {REPEATS} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
