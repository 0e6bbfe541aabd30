"""ImageDisplay: windows, presets, lookup tables; ViewTransform: zoom and pan."""

import numpy as np
import pytest

from xraydesk.imaging import (
    ImageDisplay,
    ViewTransform,
    Window,
    XRayImage,
    drag_reduction,
    fit_transform,
)
from xraydesk.imaging.loading import load_image
from xraydesk.imaging.study_keys import StudyKeys


def bounds(window: Window) -> tuple[float, float]:
    return window.center - window.width / 2, window.center + window.width / 2


def image_of(pixels, **fields) -> XRayImage:
    return XRayImage(path=None, pixels=np.asarray(pixels, dtype=np.float32), source_format="DICOM",
                     bits_stored=fields.pop("bits_stored", 12), **fields)  # fmt: skip


RAMP = np.arange(4096, dtype=np.float32).reshape(64, 64)


def test_linear_window_follows_the_dicom_formula():
    display = ImageDisplay(image_of(RAMP))
    shown = display.render(Window(center=2048, width=1024))
    assert shown.ravel()[1535] == 0 and shown.ravel()[2560] == 255
    assert shown.ravel()[2048] == 128
    assert np.all(np.diff(shown.ravel().astype(int)) >= 0)


def test_user_invert_and_presentation_inversion_cancel():
    plain = ImageDisplay(image_of(RAMP)).render(Window(2048, 4096))
    mono1 = ImageDisplay(image_of(RAMP, presentation_inverted=True))
    np.testing.assert_array_equal(mono1.render(Window(2048, 4096)), 255 - plain)
    np.testing.assert_array_equal(mono1.render(Window(2048, 4096), invert=True), plain)


def test_sigmoid_function_differs_from_linear():
    display = ImageDisplay(image_of(RAMP))
    linear = display.render(Window(2048, 1024))
    sigmoid = display.render(Window(2048, 1024, "SIGMOID"))
    lower_edge = 2048 - 512
    assert linear.ravel()[lower_edge] == 0 and 20 < sigmoid.ravel()[lower_edge] < 40  # 255 / (1 + e^2)


def test_voi_lut_sequence_is_applied(make_dicom):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.LUTData = np.arange(4095, -1, -1, dtype="<u2").tobytes()  # an inverting LUT
    item.LUTExplanation = "REVERSED"
    path = make_dicom("voilut.dcm", RAMP.astype(np.uint16), bits_stored=12, VOILUTSequence=[item])
    image = load_image(path)
    assert image.header_windows[0].label == "REVERSED"
    display = ImageDisplay(image)
    shown = display.render(display.default_window()).ravel()
    assert shown[0] == 255 and shown[-1] == 0


def test_default_window_is_header_then_identity_for_8_bit_then_auto():
    header = Window(1000, 200, label="Header")
    assert ImageDisplay(image_of(RAMP, header_windows=[header])).default_window() == header
    eight_bit = ImageDisplay(image_of(RAMP % 256, bits_stored=8))
    np.testing.assert_array_equal(eight_bit.render(eight_bit.default_window()), RAMP % 256)
    assert ImageDisplay(image_of(RAMP)).default_window().label == "Auto"


def test_presets_cover_the_expected_ranges():
    pixels = np.random.default_rng(0).permutation(RAMP.ravel()).reshape(RAMP.shape)
    display = ImageDisplay(image_of(pixels))
    full = display.full_range_window()
    assert display.render(full).min() == 0 and display.render(full).max() == 255
    auto_lower, auto_upper = bounds(display.auto_window())
    assert 0 < auto_lower < 100 and 3995 < auto_upper < 4096
    assert bounds(display.lung_window())[1] < 2600  # air is dark: the lower part of the histogram
    inverted_lung = ImageDisplay(image_of(pixels, presentation_inverted=True)).lung_window()
    assert bounds(inverted_lung)[0] > 1500  # MONOCHROME1 stores air bright
    assert ImageDisplay(image_of(pixels - 1024, keys=StudyKeys(modality="CT"))).lung_window() == Window(-600, 1500, label="Lung")


def test_dragging_right_widens_and_down_raises_level():
    display = ImageDisplay(image_of(RAMP))
    start = Window(2048, 1000)
    dragged = display.dragged_window(start, dx=60, dy=-30)
    assert dragged.width > start.width and dragged.center < start.center
    assert display.dragged_window(start, dx=-10_000, dy=0).width == 1.0


def test_non_integer_values_are_quantised_finely():
    pixels = np.linspace(0, 1, 128 * 128, dtype=np.float32).reshape(128, 128)
    display = ImageDisplay(image_of(pixels))
    assert display.step < 1e-4
    shown = display.render(display.full_range_window())
    assert shown.min() == 0 and shown.max() == 255 and len(np.unique(shown)) == 256


def test_reduced_render_shows_the_mean_level_of_each_block():
    """While window/level is dragged: each pixel the rounded mean of a 2 x 2 block, odd edges repeated."""
    pixels = np.arange(35, dtype=np.float32).reshape(5, 7) * 10
    display = ImageDisplay(image_of(pixels))
    window = Window(170, 341, "LINEAR_EXACT")  # 0..340 onto 0..255
    full = display.render(window)
    halved = display.render(window, reduction=2)
    assert halved.shape == (3, 4)
    padded = np.pad(pixels, ((0, 1), (0, 1)), mode="edge")
    block_means = padded.reshape(3, 2, 4, 2).mean(axis=(1, 3))
    np.testing.assert_array_equal(halved, ImageDisplay(image_of(np.floor(block_means + 0.5))).render(window))
    assert display.render(window, reduction=4).shape == (2, 2)
    np.testing.assert_array_equal(display.render(window), full)  # the full render is untouched


def test_drag_reduction_keeps_at_least_a_pixel_per_screen_pixel():
    assert [drag_reduction(scale) for scale in (2.0, 1.0, 0.6, 0.5, 0.44, 0.25, 0.2)] == [1, 1, 1, 2, 2, 4, 4]


def test_zoom_keeps_the_point_under_the_cursor():
    transform = ViewTransform(scale=0.5, offset_x=10, offset_y=20)
    before = transform.screen_to_image(300, 200)
    zoomed = transform.zoomed_at(2.0, 300, 200)
    assert zoomed.scale == 1.0
    assert zoomed.screen_to_image(300, 200) == pytest.approx(before)


def test_fit_centres_the_whole_image_and_pan_moves_it():
    transform = fit_transform(2000, 1000, 800, 800)
    assert transform.scale == 0.4
    assert transform.image_to_screen(0, 0) == (0, 200)
    assert transform.image_to_screen(2000, 1000) == (800, 600)
    assert transform.panned(5, -5).image_to_screen(0, 0) == (5, 195)
