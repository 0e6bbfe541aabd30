"""First paint per file: for every file in shared/data/dicom, the time from opening it to its first
paint on the canvas (the preview where one is decoded, else the full image) and to the full image's
paint. Measured in one process under QT_QPA_PLATFORM=offscreen: load_image (reading, decoding in the
warm decoder process, Modality LUT), the display mapping (ImageDisplay), rendering the default
window to a QImage and a synchronous repaint of a 1200 x 900 canvas; median of REPEATS.
Run: QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_first_paint.py"""

import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("XRAYDESK_DATA") or REPO_ROOT / ".." / "shared" / "data").resolve()
DICOM_DIR = DATA_DIR / "dicom"
REPEATS = 3
TARGET_SECONDS = 0.3


def paint_times(canvas, path: Path) -> tuple[float, float, int]:
    """(seconds to the first paint, seconds to the full image's paint, preview reduction or 1)."""
    from xraydesk.imaging import load_image

    first_paint, reductions = [], []

    def show_preview(preview) -> None:
        canvas.show_preview(preview)
        canvas.repaint()
        first_paint.append(time.perf_counter() - started)
        reductions.append(preview.reduction)

    started = time.perf_counter()
    image = load_image(path, on_preview=show_preview)
    canvas.set_image(image)
    canvas.repaint()
    full_paint = time.perf_counter() - started
    return (first_paint or [full_paint])[0], full_paint, (reductions or [1])[0]


def helper_start_seconds() -> float:
    """The decoder process's start and first decode (once per session; the app starts it early)."""
    from xraydesk.imaging import load_image

    started = time.perf_counter()
    load_image(DICOM_DIR / "rsna" / "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm")
    return time.perf_counter() - started


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from xraydesk.imaging import ImageLoadError
    from xraydesk.ui.app import create_application
    from xraydesk.ui.canvas import ImageCanvas

    app = create_application([])
    canvas = ImageCanvas()
    canvas.resize(1200, 900)
    canvas.show()
    app.processEvents()
    print(f"decoder process start + first JPEG decode: {helper_start_seconds() * 1000:.0f} ms (not counted below)")
    print(f"{'file':<48} {'size':>11}  {'path':<14} {'first paint':>11} {'full image':>10}")
    firsts, not_images = [], []
    for path in sorted(p for p in DICOM_DIR.rglob("*") if p.is_file()):
        name = str(path.relative_to(DICOM_DIR))
        try:
            runs = [paint_times(canvas, path) for _ in range(REPEATS)]
        except ImageLoadError:
            not_images.append(name)
            continue
        first = statistics.median(run[0] for run in runs)
        full = statistics.median(run[1] for run in runs)
        reduction = runs[0][2]
        firsts.append((first, name))
        size = "{} x {}".format(*canvas.image_size)
        used = f"preview 1/{reduction}" if reduction > 1 else "full"
        print(f"{name[:48]:<48} {size:>11}  {used:<14} {first * 1000:8.0f} ms {full * 1000:7.0f} ms")
    slowest, slowest_name = max(firsts)
    over = sum(first > TARGET_SECONDS for first, _ in firsts)
    print(f"{len(not_images)} files are not images (DICOMDIRs, pixel-less objects, text)")
    print(f"{len(firsts)} images; slowest first paint {slowest * 1000:.0f} ms ({slowest_name}); "
          f"{over} over {TARGET_SECONDS * 1000:.0f} ms (median of {REPEATS}, {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
