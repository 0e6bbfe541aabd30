"""Training-time augmentation. Never flipped left-right: zones and the heart's side are sided.

Two augmentations target the known shortcuts of this data (DeGrave et al. 2021): every RALO film
(all COVID-19) is a portable film with burnt-in text, markers, leads and tubes, and collections
differ in how their copies were downsampled. Synthetic marks and lines are drawn on films of every
class, and resolution is degraded at random, so neither is a cue for any class."""

import keras
import tensorflow as tf

from xraydesk.ai.preprocess import MODEL_INPUT_SIZE

MARK_PROBABILITY = 0.5
RESAMPLE_PROBABILITY = 0.5


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


def _text_blocks(batch, rows, columns, count: int = 3):
    """Masks of a few text-like blocks (bright vertical strokes in a small box) per image."""
    marks = tf.zeros([batch, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE], tf.bool)
    strokes = tf.equal(tf.math.floormod(columns, 3), 0) | tf.equal(tf.math.floormod(rows, 5), 0)
    for _ in range(count):
        top = tf.random.uniform([batch, 1, 1], 0, MODEL_INPUT_SIZE - 12)
        left = tf.random.uniform([batch, 1, 1], 0, MODEL_INPUT_SIZE - 40)
        height = tf.random.uniform([batch, 1, 1], 4, 12)
        width = tf.random.uniform([batch, 1, 1], 6, 40)
        inside = (rows >= top) & (rows < top + height) & (columns >= left) & (columns < left + width)
        marks |= inside & strokes
    return marks


def _lines(batch, rows, columns, count: int = 2):
    """Masks of thin straight lines (leads, tubes, lines) at random positions and angles."""
    marks = tf.zeros([batch, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE], tf.bool)
    for _ in range(count):
        angle = tf.random.uniform([batch, 1, 1], 0.0, 3.1416)
        row0 = tf.random.uniform([batch, 1, 1], 0, MODEL_INPUT_SIZE)
        column0 = tf.random.uniform([batch, 1, 1], 0, MODEL_INPUT_SIZE)
        distance = tf.abs((rows - row0) * tf.cos(angle) - (columns - column0) * tf.sin(angle))
        marks |= distance < tf.random.uniform([batch, 1, 1], 0.5, 1.5)
    return marks


def burn_in_marks(images: tf.Tensor) -> tf.Tensor:
    """Draws synthetic burnt-in text and lines, bright or dark, on about half of the images."""
    batch = tf.shape(images)[0]
    grid = tf.range(MODEL_INPUT_SIZE, dtype=tf.float32)
    rows, columns = grid[None, :, None], grid[None, None, :]
    marks = _text_blocks(batch, rows, columns) | _lines(batch, rows, columns)
    chosen = tf.random.uniform([batch, 1, 1]) < MARK_PROBABILITY
    value = tf.where(tf.random.uniform([batch, 1, 1]) < 0.8, 1.0, 0.0) * tf.ones_like(images[..., 0])
    return tf.where((marks & chosen)[..., None], value[..., None], images)


def degrade_resolution(images: tf.Tensor) -> tf.Tensor:
    """Downsamples about half the batch to 50-100% of the input size and back."""
    side = tf.cast(tf.random.uniform([], 0.5, 1.0) * MODEL_INPUT_SIZE, tf.int32)
    resampled = tf.image.resize(tf.image.resize(images, [side, side], antialias=True),
                                [MODEL_INPUT_SIZE, MODEL_INPUT_SIZE])
    chosen = tf.random.uniform([tf.shape(images)[0], 1, 1, 1]) < RESAMPLE_PROBABILITY
    return tf.where(chosen, resampled, images)
