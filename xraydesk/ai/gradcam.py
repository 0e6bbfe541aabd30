"""Grad-CAM (Selvaraju et al. 2017) on the classifier's last convolution, after keras-io's recipe:
weight each feature map by the mean gradient of the target's logit, keep the positive part,
normalise by the maximum (guarded: a flat map stays zero rather than dividing by zero)."""

import numpy as np
from PIL import Image

from xraydesk.ai.outputs import CAUSE_OUTPUT, CAUSES, FEATURES_LAYER, PNEUMONIA_OUTPUT
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE

TARGETS = ("pneumonia", *CAUSES)


class GradCam:
    def __init__(self, classifier):
        import keras
        import tensorflow as tf

        grad_model = keras.Model(classifier.inputs, [classifier.get_layer(FEATURES_LAYER).output,
                                                     classifier.get_layer(PNEUMONIA_OUTPUT).output,
                                                     classifier.get_layer(CAUSE_OUTPUT).output])
        spec = tf.TensorSpec([None, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 1], tf.float32)

        @tf.function(input_signature=[spec, tf.TensorSpec([], tf.int32)])
        def heatmaps(images, target_index):
            with tf.GradientTape() as tape:
                features, pneumonia, cause = grad_model([images], training=False)
                logits = tf.concat([pneumonia, cause], axis=1)[:, target_index]
            weights = tf.reduce_mean(tape.gradient(logits, features), axis=(1, 2), keepdims=True)
            cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))
            peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
            return cam / tf.maximum(peak, 1e-12)

        self._heatmaps = heatmaps

    def heatmaps(self, inputs: np.ndarray, target: str) -> np.ndarray:
        """(N, 7, 7) maps in [0, 1] for `target` in TARGETS."""
        return self._heatmaps(inputs.astype(np.float32), TARGETS.index(target)).numpy()


def upsample(heatmap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A coarse heatmap stretched over an image of (height, width), as the input was squashed."""
    image = Image.fromarray(heatmap.astype(np.float32), mode="F")
    return np.asarray(image.resize((shape[1], shape[0]), Image.BILINEAR), dtype=np.float32)
