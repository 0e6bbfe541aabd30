"""Network definitions. Trained from scratch (no pretrained weights may be downloaded), small
enough to train on two CPU cores, and flat graphs so Grad-CAM reaches the last convolution."""

import keras
import tensorflow as tf
from keras import layers

from xraydesk.ai.outputs import (
    ABNORMAL_OUTPUT,
    CAUSE_OUTPUT,
    EMBEDDING_LAYER,
    EXTENT_OUTPUT,
    FEATURES_LAYER,
    LUNG_EXTENT_OUTPUT,
    LUNG_OPACITY_OUTPUT,
    OPACITY_MAP_OUTPUT,
    PNEUMONIA_OUTPUT,
    ZONES,
    ZONES_OUTPUT,
)
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE

INPUT_SHAPE = (MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 1)


def _conv_bn_relu(x, filters: int, strides: int = 1, name: str | None = None):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU(name=name)(x)


def _residual_block(x, filters: int, strides: int, name: str | None = None):
    """Two 3x3 convolutions with a shortcut, projected when the block downsamples."""
    shortcut = x
    if strides > 1:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False)(x)
        shortcut = layers.BatchNormalization()(shortcut)
    x = _conv_bn_relu(x, filters, strides=strides)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU(name=name)(layers.Add()([x, shortcut]))


def _residual_stage(x, filters: int, blocks: int, name: str | None = None):
    """Downsample by 2, then `blocks - 1` more blocks at that resolution; `name` marks the output."""
    for block in range(blocks):
        x = _residual_block(x, filters, strides=2 if block == 0 else 1,
                            name=name if block == blocks - 1 else None)
    return x


def build_classifier(widths=(32, 64, 128, 256), blocks=(1, 1, 1, 1),
                     dropout: float = 0.3) -> keras.Model:
    """One backbone, six heads (logits): abnormal (anything not normal), pneumonia-like opacity,
    its cause, six zones, geographic extent, and a 14x14 opacity map.

    The zone and extent heads read a flattened low-resolution map rather than a global average,
    because where the opacity lies is the whole point of a zone score. The opacity map, trained on
    the RSNA radiologists' boxes (and empty on normal and other-abnormal films), is the opacity map
    the app shows; a 3x3 layer lets each cell see its neighbours (a box's edge is a local decision)."""
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = _conv_bn_relu(inputs, widths[0] // 2, strides=2)  # 224 -> 112; four stages -> 7x7
    for width, count in zip(widths[:-1], blocks[:-1]):
        x = _residual_stage(x, width, count)
    opacity = layers.Conv2D(32, 3, padding="same", activation="relu")(x)  # x: the 14x14 stage
    opacity = layers.Reshape((x.shape[1] * x.shape[2],), name=OPACITY_MAP_OUTPUT)(layers.Conv2D(1, 1)(opacity))
    features = _residual_stage(x, widths[-1], blocks[-1], name=FEATURES_LAYER)

    pooled = layers.GlobalAveragePooling2D(name=EMBEDDING_LAYER)(features)
    pooled = layers.Dropout(dropout)(pooled)
    abnormal = layers.Dense(1, name=ABNORMAL_OUTPUT)(pooled)
    pneumonia = layers.Dense(1, name=PNEUMONIA_OUTPUT)(pooled)
    cause = layers.Dense(3, name=CAUSE_OUTPUT)(pooled)

    spatial = layers.Conv2D(16, 1, activation="relu")(features)
    spatial = layers.Dropout(dropout)(layers.Flatten()(spatial))
    zones = layers.Dense(6, name=ZONES_OUTPUT)(spatial)
    extent = layers.Dense(1, name=EXTENT_OUTPUT)(spatial)
    return keras.Model(inputs, [abnormal, pneumonia, cause, zones, extent, opacity], name="xraydesk_cxr")


VIEW_ADVERSARY_OUTPUT = "view_adversary_logit"


class GradientReversal(layers.Layer):
    """Identity forward; backward, the gradient times -strength: what helps the head after it
    tell the view is taken out of the features before it."""

    def __init__(self, strength: float, **kwargs):
        super().__init__(**kwargs)
        self.strength = strength

    def call(self, inputs):
        @tf.custom_gradient
        def reverse(x):
            return tf.identity(x), lambda upstream: -self.strength * upstream
        return reverse(inputs)


def with_view_adversary(classifier: keras.Model, strength: float) -> keras.Model:
    """The classifier plus a head that predicts AP vs PA from its embedding through a gradient
    reversal: the head learns the view, the backbone learns to hide it (training only)."""
    embedding = GradientReversal(strength)(classifier.get_layer(EMBEDDING_LAYER).output)
    hidden = layers.Dense(64, activation="relu")(embedding)
    view = layers.Dense(1, name=VIEW_ADVERSARY_OUTPUT)(hidden)
    return keras.Model(classifier.inputs, [*classifier.outputs, view], name="xraydesk_cxr_training")


def build_lung_segmenter(widths=(8, 16, 32, 64, 128)) -> keras.Model:
    """A small U-Net; outputs per-pixel lung logits at the input size."""
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x, skips = inputs, []
    for width in widths[:-1]:
        x = _conv_bn_relu(_conv_bn_relu(x, width), width)
        skips.append(x)
        x = layers.MaxPooling2D()(x)
    x = _conv_bn_relu(_conv_bn_relu(x, widths[-1]), widths[-1])
    for width, skip in zip(reversed(widths[:-1]), reversed(skips)):
        x = layers.Conv2DTranspose(width, 2, strides=2, padding="same")(x)
        x = layers.Concatenate()([x, skip])
        x = _conv_bn_relu(_conv_bn_relu(x, width), width)
    return keras.Model(inputs, layers.Conv2D(1, 1, name="lung_logits")(x), name="xraydesk_lungs")


AUTOENCODER_SIZE = 56


def build_gate_autoencoder() -> keras.Model:
    """Reconstructs a 56x56 thumbnail of a chest X-ray (Chester's out-of-distribution gate):
    what it cannot reconstruct is not what it was trained on."""
    inputs = keras.Input(INPUT_SHAPE, name="image")
    thumbnail = layers.AveragePooling2D(MODEL_INPUT_SIZE // AUTOENCODER_SIZE, name="thumbnail")(inputs)
    x = thumbnail
    for width in (16, 32, 64):
        x = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu", name="code")(x)
    x = layers.Dense(7 * 7 * 64, activation="relu")(x)
    x = layers.Reshape((7, 7, 64))(x)
    for width in (32, 16, 8):
        x = layers.Conv2DTranspose(width, 3, strides=2, padding="same", activation="relu")(x)
    reconstruction = layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="reconstruction")(x)
    return keras.Model(inputs, reconstruction, name="xraydesk_gate_ae")


def build_zone_pooling(feature_shapes) -> keras.Model:
    """Feature maps plus per-zone weights (xraydesk.ai.severity) -> (6, sum of channels): each
    zone's weighted average of every map, as a dot product (no trainable weights)."""
    maps = [keras.Input(shape, name=f"features_{shape[0]}") for shape in feature_shapes]
    weights = [keras.Input((shape[0], shape[1], len(ZONES)), name=f"zone_weights_{shape[0]}")
               for shape in feature_shapes]
    pooled = []
    for feature_map, weight in zip(maps, weights):
        cells = feature_map.shape[1] * feature_map.shape[2]
        flat_map = layers.Reshape((cells, feature_map.shape[3]))(feature_map)
        flat_weight = layers.Reshape((cells, len(ZONES)))(weight)
        pooled.append(layers.Dot(axes=1)([flat_weight, flat_map]))
    return keras.Model([*maps, *weights], layers.Concatenate()(pooled), name="zone_pooling")


def build_severity_head(feature_dim: int, hidden: int = 32, dropout: float = 0.3) -> keras.Model:
    """(6, feature_dim) zone features -> six zone logits, and per lung (patient's right, left) an
    extent and an opacity logit (each 0-4 as a fraction of 4).

    One small network is shared by the six zones, so a zone's logit sees only that zone's features
    and every zone's labels train it; a lung's scores read its own three zone codes (one network
    shared by both lungs), so the two lungs are scored alike and the totals are their sums."""
    zone_features = keras.Input((len(ZONES), feature_dim), name="zone_features")
    x = layers.LayerNormalization()(zone_features)
    x = layers.Dropout(dropout)(x)
    codes = layers.Dropout(dropout)(layers.Dense(hidden, activation="relu")(x))
    zones = layers.Reshape((len(ZONES),), name=ZONES_OUTPUT)(layers.Dense(1)(codes))
    per_lung = layers.Reshape((2, 3 * hidden))(codes)  # ZONES lists the right lung's three first
    lung_codes = layers.Dense(hidden, activation="relu")(per_lung)
    extent = layers.Reshape((2,), name=LUNG_EXTENT_OUTPUT)(layers.Dense(1)(lung_codes))
    opacity = layers.Reshape((2,), name=LUNG_OPACITY_OUTPUT)(layers.Dense(1)(lung_codes))
    return keras.Model(zone_features, [zones, extent, opacity], name="severity_head")


def build_severity_model(pooling: keras.Model, head: keras.Model) -> keras.Model:
    """The shipped file: feature maps and zone weights in; zone, lung extent and opacity logits out."""
    outputs = head(pooling(pooling.inputs))
    names = (ZONES_OUTPUT, LUNG_EXTENT_OUTPUT, LUNG_OPACITY_OUTPUT)
    return keras.Model(pooling.inputs, [layers.Identity(name=name)(output) for name, output in zip(names, outputs)],
                       name="xraydesk_severity")
