"""What the zone severity model reads: the frozen classifier's residual-stage feature maps and, for
each of the six lung zones placed on the segmenter's mask, the share of each feature cell that lies
in that zone. Pooling features within a zone (rather than reading the whole map) makes each zone's
output depend on where the opacity is, not on how much pneumonia the image shows overall."""

import numpy as np

from xraydesk.ai.outputs import FEATURES_LAYER, ZONES
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE
from xraydesk.ai.zones import lung_mask, zone_labels

# The 28x28 and 14x14 stages keep enough resolution to place a zone (a lung third spans only one
# or two cells of the 7x7 map); the 7x7 stage adds the most abstract features.
STAGE_RESOLUTIONS = (28, 14, 7)


def stage_feature_layers(classifier) -> list[str]:
    """Names of the residual-stage outputs at STAGE_RESOLUTIONS: the last ReLU at each resolution
    (a stage ends in Add -> ReLU; the next stage starts by downsampling), FEATURES_LAYER for 7x7."""
    names = []
    for resolution in STAGE_RESOLUTIONS:
        if resolution == classifier.get_layer(FEATURES_LAYER).output.shape[1]:
            names.append(FEATURES_LAYER)
            continue
        names.append([layer.name for layer in classifier.layers
                      if type(layer).__name__ == "ReLU" and layer.output.shape[1] == resolution][-1])
    return names


def zone_pooling_weights(lung_probability: np.ndarray) -> list[np.ndarray]:
    """(224, 224) lung probability -> for each of STAGE_RESOLUTIONS a float32 (r, r, 6) map: the
    fraction of each cell inside each zone, scaled so every zone's weights sum to 1 (all zero for
    a zone the mask does not contain), so a dot product with a feature map is a zone average."""
    labels = zone_labels(lung_mask(lung_probability))
    one_hot = (labels[..., None] == np.arange(1, len(ZONES) + 1)).astype(np.float32)
    weights = []
    for resolution in STAGE_RESOLUTIONS:
        cell = MODEL_INPUT_SIZE // resolution
        share = one_hot.reshape(resolution, cell, resolution, cell, len(ZONES)).mean(axis=(1, 3))
        weights.append(share / np.maximum(share.sum(axis=(0, 1), keepdims=True), 1e-12))
    return weights


def batch_pooling_weights(lung_probabilities: np.ndarray) -> list[np.ndarray]:
    """(N, 224, 224) -> one (N, r, r, 6) array per resolution."""
    per_image = [zone_pooling_weights(p) for p in lung_probabilities]
    return [np.stack([w[level] for w in per_image]) for level in range(len(STAGE_RESOLUTIONS))]


def stage_maps_model(classifier):
    """The classifier truncated to its stage feature maps (shares its weights)."""
    import keras

    return keras.Model(classifier.inputs,
                       [classifier.get_layer(name).output for name in stage_feature_layers(classifier)])


def stage_map_shapes(classifier) -> list[tuple[int, int, int]]:
    return [tuple(classifier.get_layer(name).output.shape[1:]) for name in stage_feature_layers(classifier)]
