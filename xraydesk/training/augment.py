"""Training-time augmentation. Never flipped left-right: zones and the heart's side are sided."""

import keras
import tensorflow as tf


def geometric_augmenter(seed: int) -> keras.Sequential:
    return keras.Sequential([
        keras.layers.RandomRotation(0.02, fill_mode="constant", seed=seed),
        keras.layers.RandomZoom((-0.1, 0.1), fill_mode="constant", seed=seed + 1),
        keras.layers.RandomTranslation(0.05, 0.05, fill_mode="constant", seed=seed + 2),
    ], name="geometric_augmenter")


def jitter_intensity(images: tf.Tensor) -> tf.Tensor:
    """Exposure and contrast vary between hospitals; make the model indifferent to them."""
    batch = tf.shape(images)[0]
    gamma = tf.exp(tf.random.uniform([batch, 1, 1, 1], -0.25, 0.25))
    contrast = tf.random.uniform([batch, 1, 1, 1], 0.8, 1.2)
    brightness = tf.random.uniform([batch, 1, 1, 1], -0.08, 0.08)
    images = tf.pow(tf.clip_by_value(images, 0.0, 1.0), gamma)
    mean = tf.reduce_mean(images, axis=(1, 2, 3), keepdims=True)
    return tf.clip_by_value((images - mean) * contrast + mean + brightness, 0.0, 1.0)
