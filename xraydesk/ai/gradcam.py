"""Class activation maps of the classifier's outputs, on any stage of its feature maps.

- "gradcam" (Selvaraju et al. 2017, after keras-io's recipe): weight each feature map by the mean
  gradient of the target's logit over the map, sum, keep the positive part.
- "hirescam" (Draper et al. 2020): multiply gradient and activation element-wise, then sum over
  channels. Each cell keeps its own gradient instead of the map's mean, which can put heat on cells
  the output does not depend on; when the head pools the features linearly, the map is each cell's
  own contribution to the logit.
An earlier stage (28x28 or 14x14, named by `severity.stage_feature_layers`) gives a finer map than
the 7x7 last stage. Maps cover the whole squashed input, border and text included: heat outside the
lungs is shown, never clipped. The shipped layer and method are chosen on val and stored in the
model metadata under "heatmap" (`GradCam.from_metadata`). For an ensemble, whose logit is the mean of its
members' logits, the map is taken over all members' feature maps at that layer: each member's weighted
sum is its share of the averaged logit, so the sum of the members' sums, then its positive part, is the
averaged logit's own map."""

import numpy as np
from PIL import Image

from xraydesk.ai.outputs import CAUSE_OUTPUT, CAUSES, FEATURES_LAYER, PNEUMONIA_OUTPUT
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE

TARGETS = ("pneumonia", *CAUSES)
METHODS = ("gradcam", "hirescam")


def weighted_sum(features, gradients, method: str):
    """(N, r, r, C) activations and gradients of the target's logit -> (N, r, r) channel sum of the
    activations weighted by `method`, before the positive part is taken."""
    import tensorflow as tf

    if method == "gradcam":
        gradients = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    return tf.reduce_sum(gradients * features, axis=-1)


def activation_map(summed):
    """The positive part of a weighted sum, normalised by its maximum (guarded: a flat map stays zero
    rather than dividing by zero)."""
    import tensorflow as tf

    cam = tf.nn.relu(summed)
    peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
    return cam / tf.maximum(peak, 1e-12)


class GradCam:
    def __init__(self, classifiers, layer_name: str = FEATURES_LAYER, method: str = "gradcam"):
        """`classifiers`: the ensemble's members (one or more), whose logits the model averages."""
        import keras
        import tensorflow as tf

        if method not in METHODS:
            raise ValueError(f"unknown heatmap method {method!r}; expected one of {METHODS}")
        self.layer_name, self.method = layer_name, method
        # members share one architecture, not its generated layer names: the layer is found by position
        position = [layer.name for layer in classifiers[0].layers].index(layer_name)
        grad_models = [keras.Model(classifier.inputs, [classifier.layers[position].output,
                                                       classifier.get_layer(PNEUMONIA_OUTPUT).output,
                                                       classifier.get_layer(CAUSE_OUTPUT).output])
                       for classifier in classifiers]
        spec = tf.TensorSpec([None, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 1], tf.float32)

        @tf.function(input_signature=[spec, tf.TensorSpec([], tf.int32)])
        def heatmaps(images, target_index):
            summed = 0.0
            for grad_model in grad_models:
                with tf.GradientTape() as tape:
                    tape.watch(images)  # the tape then reaches a layer even with no weights before it
                    features, pneumonia, cause = grad_model([images], training=False)
                    logits = tf.concat([pneumonia, cause], axis=1)[:, target_index]
                summed += weighted_sum(features, tape.gradient(logits, features), method)
            return activation_map(summed)

        self._heatmaps = heatmaps

    @classmethod
    def from_metadata(cls, classifiers, metadata: dict) -> "GradCam":
        """The shipped map: metadata["heatmap"] names its layer and method (no default: a model
        whose metadata does not say which map was validated is not usable)."""
        from xraydesk.ai.model import ModelUnavailableError

        try:
            layer, method = metadata["heatmap"]["layer"], metadata["heatmap"]["method"]
        except KeyError as error:
            raise ModelUnavailableError(f"the model metadata does not name the heatmap's layer and method "
                                        f"(missing {error})") from error
        return cls(classifiers, layer, method)

    def heatmaps(self, inputs: np.ndarray, target: str) -> np.ndarray:
        """(N, r, r) maps in [0, 1] for `target` in TARGETS, r the layer's resolution."""
        return self._heatmaps(inputs.astype(np.float32), TARGETS.index(target)).numpy()


def upsample(heatmap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A coarse heatmap stretched over an image of (height, width), as the input was squashed."""
    image = Image.fromarray(heatmap.astype(np.float32), mode="F")
    return np.asarray(image.resize((shape[1], shape[0]), Image.BILINEAR), dtype=np.float32)
