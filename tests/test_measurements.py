"""Measurements: lengths, angles and the cardiothoracic ratio in the file's own units, the CTR pre-filled
from the lung mask, and making, moving, keeping and deleting them on the canvas (pytest-qt, offscreen)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fakes import lungs_224, synthetic_analysis
from PyQt5.QtCore import QPoint, Qt
from ui_helpers import canvas_pixels, click, drag, screen_point

from xraydesk.ai import overlays
from xraydesk.ai.analysis import StudyIdentity
from xraydesk.ai.gate import InputCheck
from xraydesk.ai.lung_check import LungMaskCheck
from xraydesk.imaging import load_image
from xraydesk.imaging.measurements import (
    Angle,
    CardiothoracicRatio,
    MeasurementStore,
    Ruler,
)
from xraydesk.ui.canvas import ImageCanvas
from xraydesk.ui.measurements import NAVIGATE, MeasurementLayer, MeasurementPanel

DETECTOR = "at the detector (Imager Pixel Spacing: not corrected for magnification)"
BLACK = np.zeros((200, 300), np.uint16)


@pytest.fixture
def image_with(make_dicom):
    """A 300 x 200 black DICOM image with the given header attributes, loaded."""
    def make(**attributes):
        return load_image(make_dicom("m.dcm", BLACK, **attributes))

    return make


def test_ruler_length_follows_pixel_spacing_then_imager_pixel_spacing_then_pixels(image_with):
    ruler = Ruler(((10.0, 10.0), (50.0, 40.0)))  # 40 columns and 30 rows
    # Pixel Spacing is (row, column): rows 0.5 mm apart, columns 0.25 mm -> hypot(10, 15) mm
    assert ruler.describe(image_with(PixelSpacing=[0.5, 0.25])) == "Ruler 18.0 mm"
    assert ruler.describe(image_with(ImagerPixelSpacing=[0.5, 0.25])) == f"Ruler 18.0 mm {DETECTOR}"
    copied = image_with(PixelSpacing=[0.5, 0.25], ImagerPixelSpacing=[0.5, 0.25])  # a copy, not a calibration
    assert ruler.describe(copied) == f"Ruler 18.0 mm {DETECTOR}"
    calibrated = image_with(PixelSpacing=[0.4, 0.2], ImagerPixelSpacing=[0.5, 0.25])
    assert ruler.describe(calibrated) == "Ruler 14.4 mm"
    assert ruler.describe(image_with()) == "Ruler 50 px (no pixel spacing in the file)"
    assert ruler.caption(image_with(ImagerPixelSpacing=[0.5, 0.25])) == "18.0 mm (detector)"


def test_angle_in_degrees_in_the_patient_plane(image_with):
    angle = Angle(((10.0, 0.0), (0.0, 0.0), (10.0, 10.0)))
    assert angle.describe(image_with()) == "Angle 45.0°"
    assert angle.describe(image_with(PixelSpacing=[2.0, 1.0])) == "Angle 63.4°"  # rows twice as far apart


def test_cardiothoracic_ratio_takes_the_heart_width_along_the_thorax_line(image_with):
    ctr = CardiothoracicRatio(((40.0, 50.0), (60.0, 58.0), (20.0, 80.0), (100.0, 80.0)))
    assert ctr.describe(image_with(PixelSpacing=[4.0, 4.0])) == "CTR 0.25 (heart 8.0 cm / thorax 32.0 cm)"
    assert ctr.describe(image_with(PixelSpacing=[4.0, 4.0], ViewPosition="AP")) == (
        "CTR 0.25 (heart 8.0 cm / thorax 32.0 cm; AP film: the heart is magnified)")
    assert ctr.describe(image_with()) == "CTR 0.25 (heart 20 px / thorax 80 px; no pixel spacing in the file)"
    estimated = replace(ctr, estimated=True)
    assert "estimated from the AI lung mask" in estimated.describe(image_with())
    assert not estimated.moved(0, (41, 50)).estimated  # a reader's correction is no longer an estimate


def test_a_thorax_no_chest_can_have_says_the_pixel_spacing_is_probably_wrong(image_with):
    ctr = CardiothoracicRatio(((100.0, 50.0), (150.0, 50.0), (20.0, 80.0), (280.0, 80.0)))  # thorax 260 px
    assert ctr.describe(image_with(PixelSpacing=[1.0, 1.0])) == "CTR 0.19 (heart 5.0 cm / thorax 26.0 cm)"
    assert ctr.describe(image_with(PixelSpacing=[0.143, 0.143])) == (
        "CTR 0.19 (heart 0.7 cm / thorax 3.7 cm — impossible for a chest (15–50 cm): the pixel spacing is "
        "probably wrong)")
    assert "thorax 52.0 cm — impossible for a chest (15–50 cm)" in ctr.describe(image_with(PixelSpacing=[2.0, 2.0]))
    # a child's chest can be narrow; none is that wide
    assert "impossible" not in ctr.describe(image_with(PixelSpacing=[0.143, 0.143], PatientAge="004Y"))
    assert "thorax 52.0 cm — impossible for a chest (at most 50 cm)" in ctr.describe(
        image_with(PixelSpacing=[2.0, 2.0], PatientAge="004Y"))
    assert "impossible" not in ctr.describe(image_with())  # pixels: no length to judge


def test_the_rsna_films_spacing_of_the_original_size_is_called_wrong_in_the_panel_and_the_pdf(
        qtbot, dicom_dir, tmp_path):
    from test_report_and_overlays import page_words

    from xraydesk.report import ReportPage, write_summary

    image = load_image(dicom_dir / "rsna" / "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm")  # 1024 px, 0.143 mm
    ctr = CardiothoracicRatio(((400.0, 600.0), (700.0, 600.0), (130.0, 600.0), (890.0, 600.0)))
    wrong = "thorax 10.9 cm — impossible for a chest (15–50 cm): the pixel spacing is probably wrong"
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.set_image(image)
    layer = MeasurementLayer(canvas, MeasurementStore())
    panel = MeasurementPanel(layer)
    qtbot.addWidget(panel)
    layer.add(ctr)
    assert wrong in panel.descriptions()[0]
    page = ReportPage.of(image, synthetic_analysis(image.path), measurements=[ctr])
    [words] = page_words(write_summary(tmp_path / "m.pdf", [page]))
    assert wrong in words


def with_lungs(lungs: np.ndarray, **changes):
    return replace(synthetic_analysis(Path("m.dcm")), lung_probability=lungs, **changes)


def test_ctr_prefill_gives_the_thorax_from_the_lungs_outer_edges_and_says_why_the_heart_is_missing():
    shape = (448, 672)  # the 224 grid twice over in rows, three times in columns
    estimate = overlays.estimate_ctr(with_lungs(lungs_224()), shape)
    # lungs_224: columns 30-99 and 124-193 -> outer edges at grid 29.5 and 193.5 -> image x 90 and 582
    (left, left_y), (right, right_y) = estimate.thorax
    assert (left, right) == pytest.approx((90, 582)) and left_y == right_y
    assert estimate.heart is None and estimate.measurement() is None
    assert "runs behind the heart" in estimate.reason  # the rectangles are as close low down as high up


def test_ctr_prefill_gives_the_heart_where_the_lungs_outline_it():
    lungs = lungs_224()
    lungs[150:190, 80:100] = 0  # a heart between the lower lungs: the gap widens from 24 to 64 columns
    lungs[150:190, 124:144] = 0
    ctr = overlays.estimate_ctr(with_lungs(lungs), (224, 224)).measurement()
    heart_left, heart_right, *_ = ctr.points
    assert (heart_left[0], heart_right[0]) == pytest.approx((80, 144))
    assert ctr.estimated and ctr.ratio(None) == pytest.approx(64 / 164)


def test_ctr_prefill_is_refused_without_a_trustworthy_lung_mask():
    refused = synthetic_analysis(Path("m.dcm"), check=InputCheck(False, "not a chest"))
    assert "no AI lung mask" in overlays.estimate_ctr(refused, (224, 224)).reason
    implausible = with_lungs(lungs_224(), lung_check=LungMaskCheck(False, "too small"))
    assert overlays.estimate_ctr(implausible, (224, 224)).reason == "the AI lung mask is implausible"


# ------------------------------------------------------------ on the canvas


@pytest.fixture
def measuring(qtbot, make_dicom):
    """A canvas showing a black 300 x 200 image with Pixel Spacing 0.5 mm, its measurement layer and panel."""
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(600, 400)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.set_image(load_image(make_dicom("m.dcm", BLACK, PixelSpacing=[0.5, 0.5])))
    layer = MeasurementLayer(canvas, MeasurementStore())
    panel = MeasurementPanel(layer)
    qtbot.addWidget(panel)
    return canvas, layer, panel


def shows_measurement_colour(canvas, x: float, y: float) -> bool:
    """The measurement colour within a pixel of image point (x, y) as drawn now."""
    column, row = (round(v) for v in canvas.view.transform.image_to_screen(x, y))
    around = canvas_pixels(canvas)[row - 1 : row + 2, column - 1 : column + 2].reshape(-1, 3)
    return any(tuple(pixel) == overlays.MEASUREMENT_COLOUR for pixel in around)


def test_a_dragged_ruler_measures_in_mm_is_listed_and_stays_on_the_image_under_zoom_and_pan(measuring):
    canvas, layer, panel = measuring
    layer.set_mode("ruler")
    drag(canvas, Qt.LeftButton, screen_point(canvas, 50, 100), screen_point(canvas, 250, 100))
    (ruler,) = layer.measurements()
    assert ruler.points[0] == pytest.approx((50, 100), abs=0.5) and ruler.points[1] == pytest.approx((250, 100), abs=0.5)
    assert panel.descriptions() == [ruler.describe(canvas.image)] and ruler.describe(canvas.image) == "Ruler 100.0 mm"
    assert layer.mode == NAVIGATE
    canvas.zoom_by(1.6, 100, 120)
    drag(canvas, Qt.MiddleButton, QPoint(300, 200), QPoint(260, 230))
    assert layer.measurements()[0] == ruler  # kept in image coordinates
    assert shows_measurement_colour(canvas, 150, 100)  # and drawn where that image point now is
    assert not shows_measurement_colour(canvas, 150, 130)


def test_an_angle_by_clicks_and_esc_cancels_the_next_one(measuring, qtbot):
    canvas, layer, panel = measuring
    layer.set_mode("angle")
    for x, y in ((150, 50), (100, 100), (150, 100)):
        click(canvas, screen_point(canvas, x, y))
    assert panel.descriptions() == ["Angle 45.0°"]
    layer.set_mode("angle")
    click(canvas, screen_point(canvas, 20, 20))
    qtbot.keyClick(canvas, Qt.Key_Escape)
    assert layer.mode == NAVIGATE and len(layer.measurements()) == 1
    drag(canvas, Qt.LeftButton, QPoint(300, 200), QPoint(340, 200))  # the left button pans again
    assert len(layer.measurements()) == 1


def test_a_point_dragged_in_any_mode_moves_and_delete_in_the_panel_removes(measuring):
    canvas, layer, panel = measuring
    layer.add(Ruler(((50.0, 100.0), (250.0, 100.0))))
    layer.add(Angle(((150.0, 50.0), (100.0, 100.0), (150.0, 100.0))))
    offset_x = canvas.view.transform.offset_x
    drag(canvas, Qt.LeftButton, screen_point(canvas, 250, 100), screen_point(canvas, 150, 100))
    assert canvas.view.transform.offset_x == offset_x  # the press took the ruler's end, not the image
    assert panel.descriptions() == ["Ruler 50.0 mm", "Angle 45.0°"]
    panel.list.setCurrentRow(0)
    panel.delete_button.click()
    assert panel.descriptions() == ["Angle 45.0°"] and [m.kind for m in layer.measurements()] == ["angle"]


def test_the_ctr_tool_starts_from_the_lung_mask_and_keeps_its_widths_parallel(measuring):
    canvas, layer, panel = measuring
    messages = []
    layer.message.connect(messages.append)
    layer.set_analysis(with_lungs(lungs_224(), identity=StudyIdentity(canvas.image.path)))
    layer.set_mode("ctr")
    assert "runs behind the heart" in messages[-1] and not len(layer.measurements())
    click(canvas, screen_point(canvas, 120, 150))
    click(canvas, screen_point(canvas, 170, 140))  # a little off the row: kept on the first point's row
    (ctr,) = layer.measurements()
    (heart_left, heart_right, thorax_left, thorax_right) = ctr.points
    assert heart_right[1] == pytest.approx(heart_left[1], abs=0.5)
    assert (thorax_left[0], thorax_right[0]) == pytest.approx((30 / 224 * 300, 194 / 224 * 300))
    assert panel.descriptions()[0].startswith(f"CTR {50 / (164 / 224 * 300):.2f} (heart 2.5 cm / thorax")
    drag(canvas, Qt.LeftButton, screen_point(canvas, *thorax_right), screen_point(canvas, 250, 120))
    assert layer.measurements()[0].points[3] == pytest.approx((250, thorax_right[1]), abs=0.5)  # still parallel
