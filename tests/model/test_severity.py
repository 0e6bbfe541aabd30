"""The zone severity model's plumbing: zone weights average within a zone, and a zone's logit
reads only that zone's features."""

import numpy as np

from xraydesk.ai.outputs import FEATURES_LAYER
from xraydesk.ai.severity import STAGE_RESOLUTIONS, stage_feature_layers, zone_pooling_weights
from xraydesk.ai.zones import zone_labels
from xraydesk.training import architecture


def _two_lungs(size: int = 224) -> np.ndarray:
    mask = np.zeros((size, size), np.float32)
    mask[20:200, 20:100] = 1.0
    mask[40:190, 124:204] = 1.0
    return mask


def test_zone_weights_cover_each_zone_once():
    weights = zone_pooling_weights(_two_lungs())
    assert [w.shape for w in weights] == [(r, r, 6) for r in STAGE_RESOLUTIONS]
    for w in weights:
        assert np.allclose(w.sum(axis=(0, 1)), 1.0) and (w >= 0).all()


def test_an_empty_mask_gives_zero_weights():
    assert all(not w.any() for w in zone_pooling_weights(np.zeros((224, 224), np.float32)))


def test_pooling_is_the_average_within_each_zone():
    labels = zone_labels(_two_lungs() >= 0.5)
    rng = np.random.default_rng(0)
    maps = [rng.normal(size=(1, r, r, 2)).astype(np.float32) for r in STAGE_RESOLUTIONS]
    pooling = architecture.build_zone_pooling([m.shape[1:] for m in maps])
    pooled = pooling.predict_on_batch([*maps, *[w[None] for w in zone_pooling_weights(_two_lungs())]])[0]
    # At 28x28 every cell is 8x8 pixels: the pooled value is the pixel-weighted mean of the cells.
    cell = 224 // 28
    for zone in range(6):
        share = (labels == zone + 1).reshape(28, cell, 28, cell).mean(axis=(1, 3))
        expected = (maps[0][0] * share[..., None]).sum(axis=(0, 1)) / share.sum()
        assert np.allclose(pooled[zone, :2], expected, atol=1e-5)


def test_a_zone_logit_reads_only_its_own_zone():
    head = architecture.build_severity_head(8)
    rng = np.random.default_rng(1)
    features = rng.normal(size=(1, 6, 8)).astype(np.float32)
    changed = features.copy()
    changed[0, 2] = rng.normal(size=8)
    before, after = head.predict_on_batch(features)[0], head.predict_on_batch(changed)[0]
    moved = ~np.isclose(before, after)
    assert moved.tolist() == [[False, False, True, False, False, False]]



def test_the_zones_read_each_stages_last_block_whatever_the_depth():
    classifier = architecture.build_classifier(widths=(8, 16, 16, 32), blocks=(1, 2, 3, 2))
    names = stage_feature_layers(classifier)
    assert names[-1] == FEATURES_LAYER
    for name, resolution in zip(names, STAGE_RESOLUTIONS):
        layer = classifier.get_layer(name)
        block_sum = layer.input._keras_history.operation
        assert layer.output.shape[1] == resolution and type(block_sum).__name__ == "Add"
        later_sums = [other for other in classifier.layers[classifier.layers.index(block_sum) + 1:]
                      if type(other).__name__ == "Add" and other.output.shape[1] == resolution]
        assert not later_sums
