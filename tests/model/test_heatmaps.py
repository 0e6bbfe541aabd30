"""Heatmaps on a handcrafted classifier whose answer is known: its feature maps are the image
average-pooled to 28x28, 14x14 and 7x7, and its pneumonia logit is the mean of the 7x7 map over
one region, so the logit depends on the image inside that region only. Of the cause logits,
"bacterial" reads the whole 7x7 map; "viral" and "covid" read nothing."""

import numpy as np
import pytest

from xraydesk.ai.gradcam import TARGETS, GradCam, upsample
from xraydesk.ai.model import ModelUnavailableError
from xraydesk.ai.outputs import CAUSE_OUTPUT, FEATURES_LAYER, PNEUMONIA_OUTPUT
from xraydesk.ai.severity import stage_feature_layers

REGION = (slice(2, 4), slice(1, 3))  # rows, columns of the 7x7 grid that the pneumonia logit reads
CELL = 32  # input pixels per 7x7 cell


@pytest.fixture(scope="module")
def region_classifier():
    return _region_classifier(REGION)


def _region_classifier(region_cells, stage_prefix: str = ""):
    import keras

    image = keras.Input((224, 224, 1))
    stage28 = keras.layers.ReLU(name=f"{stage_prefix}stage28")(keras.layers.AveragePooling2D(8)(image))
    stage14 = keras.layers.ReLU(name=f"{stage_prefix}stage14")(keras.layers.AveragePooling2D(2)(stage28))
    stage7 = keras.layers.ReLU(name=FEATURES_LAYER)(keras.layers.AveragePooling2D(2)(stage14))
    flat = keras.layers.Flatten()(stage7)
    pneumonia = keras.layers.Dense(1, name=PNEUMONIA_OUTPUT)(flat)
    cause = keras.layers.Dense(3, name=CAUSE_OUTPUT)(flat)
    model = keras.Model(image, [pneumonia, cause])
    region = np.zeros((7, 7), np.float32)
    region[region_cells] = 1.0
    model.get_layer(PNEUMONIA_OUTPUT).set_weights([region.reshape(49, 1) / region.sum(), np.zeros(1, np.float32)])
    cause_weights = np.zeros((49, 3), np.float32)
    cause_weights[:, 0] = 1 / 49
    model.get_layer(CAUSE_OUTPUT).set_weights([cause_weights, np.zeros(3, np.float32)])
    return model


def _image_with_squares(*squares: tuple[int, int, float]) -> np.ndarray:
    """A dim image with bright squares, each (row, column) of a 7x7 cell and its brightness."""
    image = np.full((1, 224, 224, 1), 0.1, np.float32)
    for row, column, brightness in squares:
        image[0, row * CELL:(row + 1) * CELL, column * CELL:(column + 1) * CELL] = brightness
    return image


def _peak_cell(heatmap: np.ndarray) -> tuple[int, int]:
    """The 7x7 cell holding the map's peak, whatever the map's resolution."""
    row, column = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    scale = heatmap.shape[0] // 7
    return int(row // scale), int(column // scale)


def _in_region(cell: tuple[int, int]) -> bool:
    return REGION[0].start <= cell[0] < REGION[0].stop and REGION[1].start <= cell[1] < REGION[1].stop


def test_stage_layers_give_maps_of_their_resolution(region_classifier):
    layers = stage_feature_layers(region_classifier)
    assert layers == ["stage28", "stage14", FEATURES_LAYER]
    inputs = np.random.default_rng(0).random((3, 224, 224, 1), np.float32)
    for layer, resolution in zip(layers, (28, 14, 7)):
        for method in ("gradcam", "hirescam"):
            gradcam = GradCam([region_classifier], layer, method)
            for target in TARGETS:
                maps = gradcam.heatmaps(inputs, target)
                assert maps.shape == (3, resolution, resolution)
                assert maps.min() >= 0.0 and maps.max() == (1.0 if target in ("pneumonia", "bacterial") else 0.0)


@pytest.mark.parametrize("method", ["gradcam", "hirescam"])
@pytest.mark.parametrize("layer", ["stage28", "stage14", FEATURES_LAYER])
def test_peak_falls_on_the_opacity_the_output_reads(region_classifier, layer, method):
    maps = GradCam([region_classifier], layer, method).heatmaps(_image_with_squares((3, 2, 0.9)), "pneumonia")
    assert _peak_cell(maps[0]) == (3, 2)


def test_hirescam_keeps_to_the_cells_the_output_reads_where_gradcam_follows_brightness(region_classifier):
    """Grad-CAM's channel-mean gradient spreads the region's weight over the whole map, so a
    brighter square the logit never reads takes the peak; HiResCAM's element-wise gradient does not."""
    image = _image_with_squares((6, 6, 1.0), (2, 1, 0.5))
    gradcam = GradCam([region_classifier], "stage28", "gradcam").heatmaps(image, "pneumonia")[0]
    hirescam = GradCam([region_classifier], "stage28", "hirescam").heatmaps(image, "pneumonia")[0]
    assert _peak_cell(gradcam) == (6, 6)
    assert _peak_cell(hirescam) == (2, 1)
    outside = np.ones((28, 28), bool)
    outside[REGION[0].start * 4:REGION[0].stop * 4, REGION[1].start * 4:REGION[1].stop * 4] = False
    assert hirescam[outside].max() == 0.0 and gradcam[outside].max() == 1.0


def test_a_flat_map_stays_zero(region_classifier):
    """The guarded division: an output that does not depend on the layer gives zeros, not NaN."""
    for method in ("gradcam", "hirescam"):
        maps = GradCam([region_classifier], "stage14", method).heatmaps(_image_with_squares((3, 2, 0.9)), "viral")
        assert np.all(maps == 0.0)


def test_from_metadata_uses_the_stored_layer_and_method(region_classifier):
    gradcam = GradCam.from_metadata([region_classifier], {"heatmap": {"layer": "stage14", "method": "hirescam"}})
    assert (gradcam.layer_name, gradcam.method) == ("stage14", "hirescam")
    assert gradcam.heatmaps(_image_with_squares((3, 2, 0.9)), "pneumonia").shape == (1, 14, 14)


@pytest.mark.parametrize("metadata", [{}, {"heatmap": {"layer": "stage14"}}, {"heatmap": {"method": "gradcam"}}])
def test_from_metadata_has_no_default(region_classifier, metadata):
    with pytest.raises(ModelUnavailableError, match="heatmap"):
        GradCam.from_metadata([region_classifier], metadata)


def test_an_ensembles_map_is_that_of_its_averaged_logit_over_every_members_features(region_classifier):
    other_region = (slice(5, 7), slice(4, 6))
    image = _image_with_squares((3, 2, 0.9), (5, 4, 0.9))
    members = [region_classifier, _region_classifier(other_region)]
    first, second, both = (GradCam(chosen, FEATURES_LAYER, "hirescam").heatmaps(image, "pneumonia")[0]
                           for chosen in ([members[0]], [members[1]], members))
    assert first[other_region].max() == 0.0 and second[REGION].max() == 0.0
    # each member's share of the averaged logit is its own region: both lit, nothing else
    assert both[REGION].max() > 0.5 and both[other_region].max() > 0.5
    outside = np.ones((7, 7), bool)
    outside[REGION] = outside[other_region] = False
    assert both[outside].max() == 0.0


def test_an_ensembles_members_are_matched_by_layer_position_not_generated_name(region_classifier):
    renamed = _region_classifier((slice(5, 7), slice(4, 6)), stage_prefix="member2_")
    both = GradCam([region_classifier, renamed], "stage14", "hirescam").heatmaps(
        _image_with_squares((3, 2, 0.9), (5, 4, 0.9)), "pneumonia")[0]
    assert both.shape == (14, 14)
    assert both[4:8, 2:6].max() > 0.5 and both[10:14, 8:12].max() > 0.5


def test_unknown_method_is_refused(region_classifier):
    with pytest.raises(ValueError, match="unknown heatmap method"):
        GradCam([region_classifier], "stage14", "scorecam")


def test_upsample_stretches_a_map_over_the_image_as_the_input_was_squashed():
    heatmap = np.zeros((14, 14), np.float32)
    heatmap[0, 13] = 1.0  # top right cell
    stretched = upsample(heatmap, (300, 500))
    assert stretched.shape == (300, 500)
    row, column = np.unravel_index(np.argmax(stretched), stretched.shape)
    assert row < 300 / 14 and column >= 500 * 13 / 14
