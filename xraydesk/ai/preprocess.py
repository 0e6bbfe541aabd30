"""The one place that turns a displayed image into the model's input.

Every input is squashed to a square, because a large part of the training data (`kermany224`) was
squashed by its source: resizing everything the same way keeps the aspect ratio from becoming a cue.
The image is quantised to 8 bits first so that a DICOM and a PNG saved from its display give the
same input."""

import numpy as np
from PIL import Image

MODEL_INPUT_SIZE = 224


def to_model_input(display: np.ndarray, size: int = MODEL_INPUT_SIZE) -> np.ndarray:
    """uint8 (H, W) display image -> float32 (size, size, 1) in [0, 1]."""
    if display.dtype != np.uint8 or display.ndim != 2:
        raise ValueError(f"expected a 2-D uint8 display image, got {display.dtype} {display.shape}")
    resized = Image.fromarray(display).resize((size, size), Image.BILINEAR)
    return (np.asarray(resized, dtype=np.float32) / 255.0)[..., None]


def resize_mask(mask: np.ndarray, size: int = MODEL_INPUT_SIZE) -> np.ndarray:
    """Binary (H, W) mask -> float32 (size, size, 1) in {0, 1}, resized like the image."""
    resized = Image.fromarray((mask > 0).astype(np.uint8) * 255).resize((size, size), Image.BILINEAR)
    return (np.asarray(resized) >= 128).astype(np.float32)[..., None]
