"""Masked losses: a target of MISSING (-1) contributes nothing, so each head learns only from the
images that carry its label (cause without `pneumonia_unspecified`, zones from Brixia readers)."""

import keras
from keras import ops


def _masked_mean(per_sample, mask):
    """Mean over the labelled samples; scaled so Keras' mean over the batch gives exactly that."""
    batch = ops.cast(ops.shape(mask)[0], "float32")
    labelled = ops.maximum(ops.sum(mask), 1.0)
    return per_sample * mask * batch / labelled


@keras.saving.register_keras_serializable("xraydesk")
def masked_binary_crossentropy(y_true, logits):
    mask = ops.cast(y_true >= 0, "float32")
    targets = ops.clip(y_true, 0.0, 1.0)
    per_value = ops.binary_crossentropy(targets, logits, from_logits=True) * mask
    per_sample = ops.sum(per_value, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)
    return _masked_mean(per_sample, ops.cast(ops.sum(mask, axis=-1) > 0, "float32"))


@keras.saving.register_keras_serializable("xraydesk")
def weighted_binary_crossentropy(y_true, logits):
    """y_true carries (label, weight) per sample: the weight balances groups the data confounds."""
    labels, weights = y_true[:, :1], y_true[:, 1]
    return ops.binary_crossentropy(labels, logits, from_logits=True)[:, 0] * weights


@keras.saving.register_keras_serializable("xraydesk")
def masked_sparse_categorical_crossentropy(y_true, logits):
    mask = ops.cast(y_true[:, 0] >= 0, "float32")
    labels = ops.cast(ops.maximum(y_true[:, 0], 0.0), "int32")
    per_sample = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return _masked_mean(per_sample, mask)


NOT_COVID = 3  # cause code of a pneumonia known not to be COVID-19 (bacterial or viral, unknown which)


@keras.saving.register_keras_serializable("xraydesk")
def cause_crossentropy_with_partial_labels(y_true, logits):
    """y_true carries (cause code, weight): 0-2 the cause's index, NOT_COVID for "bacterial or
    viral" (the loss is -log(p_bacterial + p_viral)), MISSING for no cause label."""
    codes, weights = y_true[:, 0], y_true[:, 1]
    log_p = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
    exact = ops.take_along_axis(log_p, ops.cast(ops.clip(codes, 0, 2), "int32")[:, None], axis=-1)[:, 0]
    not_covid = ops.logsumexp(log_p[:, :2], axis=-1)
    per_sample = -ops.where(codes == NOT_COVID, not_covid, exact) * weights
    return _masked_mean(per_sample, ops.cast(codes >= 0, "float32"))


@keras.saving.register_keras_serializable("xraydesk")
def lung_scores_squared_error(y_true, logits):
    """Per-lung scores (right, left) as fractions of their maximum, from two logits; y_true holds
    (right, left[, total]) fractions, MISSING where unknown, the total being the lungs' mean."""
    fractions = ops.sigmoid(logits)
    predicted = ops.concatenate([fractions, ops.mean(fractions, axis=-1, keepdims=True)], axis=-1)
    predicted = predicted[:, :ops.shape(y_true)[1]]
    mask = ops.cast(y_true >= 0, "float32")
    per_sample = ops.sum(ops.square(predicted - y_true) * mask, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)
    return _masked_mean(per_sample, ops.cast(ops.sum(mask, axis=-1) > 0, "float32"))


@keras.saving.register_keras_serializable("xraydesk")
def dice_and_binary_crossentropy(y_true, logits):
    probabilities = ops.sigmoid(logits)
    overlap = ops.sum(y_true * probabilities, axis=(1, 2, 3))
    total = ops.sum(y_true + probabilities, axis=(1, 2, 3))
    dice_loss = 1.0 - (2.0 * overlap + 1.0) / (total + 1.0)
    crossentropy = ops.mean(ops.binary_crossentropy(y_true, logits, from_logits=True), axis=(1, 2, 3))
    return dice_loss + crossentropy
