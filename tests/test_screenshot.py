"""A screenshot of the real window under Xvfb (xcb platform, DISPLAY from xvfb-run)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

HELPER = Path(__file__).with_name("xvfb_screenshot.py")


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (run under xvfb-run, see scripts/test.sh)")
def test_screenshot_under_xvfb_shows_the_chest_with_dark_lungs_and_the_ai_overlay(dicom_dir, tmp_path):
    shot = tmp_path / "screenshot.png"
    selected = dicom_dir / "canon" / "canon_dx_chest_mono1_j2k.dcm"
    environment = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    result = subprocess.run([sys.executable, str(HELPER), str(shot), str(dicom_dir / "rsna"), str(selected.parent),
                             "--select", str(selected)], env=environment, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    geometry = json.loads(shot.with_suffix(".json").read_text())
    assert geometry["platform"] == "xcb"
    assert geometry["reading"] and geometry["score"].startswith("Six-zone score:")  # analysed on a worker
    screen = np.asarray(Image.open(shot.with_name("screenshot-plain.png")).convert("L"), dtype=np.float32)
    assert screen.shape == (860, 1400)
    scale, offset_x, offset_y = geometry["transform"]
    left, top = geometry["canvas"][:2]
    width, height = geometry["image_size"]
    x0, y0 = round(left + offset_x), round(top + offset_y)
    shown = screen[y0 : y0 + round(height * scale), x0 : x0 + round(width * scale)]
    rows = slice(int(0.3 * shown.shape[0]), int(0.6 * shown.shape[0]))
    columns = shown.shape[1]
    lungs = np.r_[shown[rows, int(0.2 * columns) : int(0.35 * columns)].ravel(),
                  shown[rows, int(0.65 * columns) : int(0.8 * columns)].ravel()].mean()  # fmt: skip
    mediastinum = shown[rows, int(0.46 * columns) : int(0.54 * columns)].mean()
    assert lungs + 30 < mediastinum  # MONOCHROME1 + INVERSE on screen: dark lungs
    assert screen[:, : left - 10].std() > 10  # the study browser with its thumbnails is drawn
    colour = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float32)
    chroma = colour.max(axis=2) - colour.min(axis=2)
    canvas_colour = chroma[y0 : y0 + round(height * scale), x0 : x0 + round(width * scale)]
    assert (canvas_colour > 80).mean() > 0.02  # the heatmap and zone overlay are drawn over the image
