"""The lung-mask check: synthetic masks with one fault each, the blob counter against scipy, and
real films through the shipped segmenter."""

import numpy as np
import pytest

from xraydesk.ai.lung_check import PLAUSIBLE, check_lung_mask
from xraydesk.ai.zones import lung_mask, zone_labels

SIZE = 224


def _ellipse(centre_row: float, centre_column: float, half_height: float, half_width: float) -> np.ndarray:
    rows, columns = np.ogrid[:SIZE, :SIZE]
    return ((rows - centre_row) / half_height) ** 2 + ((columns - centre_column) / half_width) ** 2 <= 1


def _two_lungs(row: float = 105, half_height: float = 70) -> np.ndarray:
    """Upright ellipses either side of the midline, about 30% of the image: a plausible mask."""
    return _ellipse(row, 70, half_height, 38) | _ellipse(row, 154, half_height, 38)


def test_two_lungs_are_plausible():
    assert check_lung_mask(_two_lungs()) == PLAUSIBLE


def test_specks_are_ignored():
    mask = _two_lungs()
    for row, column in [(5, 5), (215, 30), (200, 112), (10, 200), (190, 210)]:
        mask[row:row + 6, column:column + 6] = True
    assert check_lung_mask(mask) == PLAUSIBLE


def test_a_small_mask_is_implausible_and_the_reason_gives_its_share():
    mask = np.zeros((SIZE, SIZE), bool)
    mask[60:95, 60:100] = True  # two blobs of 35 x 40 pixels: 5.6% of the image, as on the rotated film
    mask[60:95, 124:164] = True
    check = check_lung_mask(mask)
    assert not check.plausible
    assert check.reason == "lung mask implausible: 5.6% of the image is lung (expected 8%–70%)"


def test_one_blob_across_the_midline_is_implausible():
    check = check_lung_mask(_ellipse(105, 112, 75, 80))
    assert not check.plausible and "joined across the midline" in check.reason


def test_a_third_large_blob_is_implausible():
    mask = _two_lungs(row=90, half_height=60)
    mask |= _ellipse(195, 40, 22, 60)  # a blob under the right lung, ~7% of the image
    check = check_lung_mask(mask)
    assert not check.plausible and "besides the two lungs a blob covers" in check.reason


def test_unbalanced_lungs_are_implausible():
    mask = _ellipse(105, 70, 70, 38) | _ellipse(60, 154, 20, 12)
    check = check_lung_mask(mask)
    assert not check.plausible and "one lung is 9% the size of the other" in check.reason


def test_lungs_too_low_are_implausible():
    check = check_lung_mask(_two_lungs(row=175, half_height=45))
    assert not check.plausible and "centred 78% of the way down" in check.reason


def test_flat_lungs_are_implausible():
    check = check_lung_mask(_ellipse(110, 70, 24, 40) | _ellipse(110, 154, 24, 40))
    assert not check.plausible and "as tall as it is wide" in check.reason


def test_an_empty_mask_is_implausible():
    assert not check_lung_mask(np.zeros((SIZE, SIZE), bool)).plausible


def test_specks_are_removed_before_zones_are_placed():
    mask = _two_lungs()
    specked = mask.copy()
    specked[215:218, 40:43] = True  # 9 pixels below the right lung
    assert np.array_equal(lung_mask(specked.astype(float)), mask)
    assert np.array_equal(zone_labels(lung_mask(specked.astype(float))), zone_labels(mask))


@pytest.fixture(scope="module")
def segmented(shipped_model, data_root):
    """The shipped segmenter's mask of a film of the shared RSNA DICOM folder."""
    from xraydesk.ai.inputs import prepare_image
    from xraydesk.imaging import load_image

    def mask(name: str) -> np.ndarray:
        model_input, _ = prepare_image(load_image(data_root / "dicom" / "rsna" / f"{name}.dcm"))
        return lung_mask(shipped_model.lung_probabilities(model_input[None])[0])

    return mask


def test_real_films_through_the_segmenter(segmented):
    assert check_lung_mask(segmented("0004cfab-14fd-4e49-80ba-63a80b6bddd6")) == PLAUSIBLE
    # the small rotated film: two small blobs
    small = check_lung_mask(segmented("00aecb01-a116-45a2-956c-08d2fa55433f"))
    assert small.reason == "lung mask implausible: 5.6% of the image is lung (expected 8%–70%)"
