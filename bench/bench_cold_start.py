"""Cold start: seconds from launching `python -m xraydesk` until its window has painted, under the
X server this runs in (use xvfb-run for a real one). The app prints "painted" and quits when
XRAYDESK_QUIT_ON_FIRST_PAINT is set. Also prints the slowest imports of `xraydesk.ui.app`.
Run: xvfb-run -a .venv/bin/python bench/bench_cold_start.py"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REPEATS = 7
TOP_IMPORTS = 12


def launch_seconds() -> float:
    environment = {**os.environ, "XRAYDESK_QUIT_ON_FIRST_PAINT": "1"}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "xraydesk"], stdout=subprocess.PIPE, text=True,
                               cwd=REPO_ROOT, env=environment)
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.wait(timeout=60)
    if line.strip() != "painted":
        raise RuntimeError(f"the app did not report its first paint (exit code {process.returncode})")
    return elapsed


def slowest_imports() -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of the top-level imports' slowest subtrees."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import xraydesk.ui.app"],
                            capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, module = line.split("|")
        rows.append((int(cumulative), module.rstrip()))
    return sorted(rows, reverse=True)[:TOP_IMPORTS]


def main() -> int:
    display = os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM", "no display")
    launch_seconds()  # warms the file cache
    times = [launch_seconds() for _ in range(REPEATS)]
    print(f"cold start to first paint ({display}, {os.cpu_count()} CPUs): median {statistics.median(times) * 1000:.0f} ms,"
          f" min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {REPEATS} launches (target <= 500 ms)")
    print("slowest imports of xraydesk.ui.app (cumulative ms):")
    for microseconds, module in slowest_imports():
        print(f"  {microseconds / 1000:7.1f}  {module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
