"""The lung-mask check: synthetic masks with one fault each (on a film without air around the body, or
on a synthetic film with air), and real films through the shipped segmenter, among them masks that leak
below the diaphragm and outside the chest wall."""

import numpy as np
import pytest

from xraydesk.ai.lung_check import PLAUSIBLE, check_lung_mask
from xraydesk.ai.zones import lung_mask, zone_labels

SIZE = 224
FLAT_FILM = np.full((SIZE, SIZE), 0.5)  # no air to tell apart: the body is the whole film


def _ellipse(centre_row: float, centre_column: float, half_height: float, half_width: float) -> np.ndarray:
    rows, columns = np.ogrid[:SIZE, :SIZE]
    return ((rows - centre_row) / half_height) ** 2 + ((columns - centre_column) / half_width) ** 2 <= 1


def _two_lungs(row: float = 105, half_height: float = 70) -> np.ndarray:
    """Upright ellipses either side of the midline, about 30% of the image: a plausible mask."""
    return _ellipse(row, 70, half_height, 38) | _ellipse(row, 154, half_height, 38)


def test_two_lungs_are_plausible():
    assert check_lung_mask(_two_lungs(), FLAT_FILM) == PLAUSIBLE


def test_specks_are_ignored():
    mask = _two_lungs()
    for row, column in [(5, 5), (215, 30), (200, 112), (10, 200), (190, 210)]:
        mask[row:row + 6, column:column + 6] = True
    assert check_lung_mask(mask, FLAT_FILM) == PLAUSIBLE


def test_a_small_mask_is_implausible_and_the_reason_gives_its_share():
    mask = np.zeros((SIZE, SIZE), bool)
    mask[60:95, 60:100] = True  # two blobs of 35 x 40 pixels: 5.6% of the image, as on the rotated film
    mask[60:95, 124:164] = True
    check = check_lung_mask(mask, FLAT_FILM)
    assert not check.plausible
    assert check.reason == "lung mask implausible: 5.6% of the image is lung (expected 8%–70%)"


def test_one_blob_across_the_midline_is_implausible():
    check = check_lung_mask(_ellipse(105, 112, 75, 80), FLAT_FILM)
    assert not check.plausible and "joined across the midline" in check.reason


def test_a_third_large_blob_is_implausible():
    mask = _two_lungs(row=90, half_height=60)
    mask |= _ellipse(195, 40, 22, 60)  # a blob under the right lung, ~7% of the image
    check = check_lung_mask(mask, FLAT_FILM)
    assert not check.plausible and "besides the two lungs a blob covers" in check.reason


def test_unbalanced_lungs_are_implausible():
    mask = _ellipse(105, 70, 70, 38) | _ellipse(60, 154, 20, 12)
    check = check_lung_mask(mask, FLAT_FILM)
    assert not check.plausible and "one lung is 9% the size of the other" in check.reason


def test_lungs_too_low_are_implausible():
    check = check_lung_mask(_two_lungs(row=175, half_height=45), FLAT_FILM)
    assert not check.plausible and "centred 78% of the way down" in check.reason


def test_flat_lungs_are_implausible():
    check = check_lung_mask(_ellipse(110, 70, 24, 40) | _ellipse(110, 154, 24, 40), FLAT_FILM)
    assert not check.plausible and "as tall as it is wide" in check.reason


def test_an_empty_mask_is_implausible():
    assert not check_lung_mask(np.zeros((SIZE, SIZE), bool), FLAT_FILM).plausible


def test_specks_are_removed_before_zones_are_placed():
    mask = _two_lungs()
    specked = mask.copy()
    specked[215:218, 40:43] = True  # 9 pixels below the right lung
    assert np.array_equal(lung_mask(specked.astype(float)), mask)
    assert np.array_equal(zone_labels(lung_mask(specked.astype(float))), zone_labels(mask))


def _film(lungs: np.ndarray, air_columns: int = 12) -> np.ndarray:
    """A frontal film: black air at both sides of a grey body, the lungs darker than the body."""
    film = np.full((SIZE, SIZE), 0.7)
    film[lungs] = 0.45
    film[:, :air_columns] = film[:, SIZE - air_columns:] = 0.0
    return film


def test_a_blob_below_a_lung_is_not_lung():
    lungs = _two_lungs(row=95, half_height=60)
    check = check_lung_mask(lungs | _ellipse(185, 160, 12, 22), _film(lungs))  # gas under the left diaphragm
    assert check.reason == ("lung mask implausible: a blob of 1.6% of the image lies below the left lung "
                            "(under the diaphragm), which is not lung")


def test_a_blob_beyond_the_chest_wall_or_hanging_by_a_neck_is_not_lung():
    lungs = _two_lungs()
    beside = check_lung_mask(lungs | _ellipse(110, 18, 22, 9), FLAT_FILM)
    assert "lies beside the right lung (outside the chest wall), which is not lung" in beside.reason
    hanging = lungs | _ellipse(200, 160, 14, 24)
    hanging[170:190, 158:162] = True  # a neck 4 pixels wide joins it to the left lung
    assert "lies below the left lung (under the diaphragm)" in check_lung_mask(hanging, FLAT_FILM).reason


def test_a_mask_on_the_air_around_the_body_is_implausible():
    lungs = _two_lungs()
    leaking = lungs.copy()
    leaking[120:160, 2:40] = True  # the right lung runs out through the chest wall into the air
    check = check_lung_mask(leaking, _film(lungs))
    assert not check.plausible and "of the mask lies on the air around the body (expected at most 2%)" in check.reason


def test_dark_lung_reaching_the_edge_of_a_tight_crop_is_not_air():
    lungs = _ellipse(90, 70, 90, 38) | _ellipse(90, 154, 90, 38)  # the apices reach the film's top edge
    film = _film(lungs)
    film[:25][lungs[:25]] = 0.02  # and are as dark as the air beside the body
    assert check_lung_mask(lungs, film) == PLAUSIBLE


@pytest.fixture(scope="module")
def segmented(shipped_model, data_root):
    """The shipped segmenter's mask of a film of the shared data (a DICOM of the RSNA folder, or a
    file of the cxr set), and the model input it was made from."""
    from xraydesk.ai.inputs import prepare_image
    from xraydesk.ai.preprocess import to_model_input
    from xraydesk.imaging import load_image
    from xraydesk.training.data import read_display

    def mask_and_film(name: str) -> tuple[np.ndarray, np.ndarray]:
        if name.startswith("images/"):
            model_input = to_model_input(read_display(data_root / "cxr" / name))
        else:
            model_input, _ = prepare_image(load_image(data_root / "dicom" / "rsna" / f"{name}.dcm"))
        return lung_mask(shipped_model.lung_probabilities(model_input[None])[0]), model_input[..., 0]

    return mask_and_film


def test_real_films_through_the_segmenter(segmented):
    assert check_lung_mask(*segmented("0004cfab-14fd-4e49-80ba-63a80b6bddd6")) == PLAUSIBLE
    # the small rotated film: two small blobs
    small = check_lung_mask(*segmented("00aecb01-a116-45a2-956c-08d2fa55433f"))
    assert small.reason == "lung mask implausible: 5.6% of the image is lung (expected 8%–70%)"


def test_real_masks_that_leak_out_of_the_chest_are_implausible(segmented):
    # the right lung takes in the air outside the chest wall, joined at its base
    air = check_lung_mask(*segmented("01b9e362-4950-40f5-88fa-7557ac2a45bb"))
    assert "lies beside the right lung (outside the chest wall)" in air.reason
    gas = check_lung_mask(*segmented("images/normal/rsna__Normal-32.jpeg"))  # bowel gas under the left diaphragm
    assert "lies below the left lung (under the diaphragm)" in gas.reason
