"""What the app and the PDF draw over an image, computed once and without Qt: the heatmap on
the model's grid, its colours, and outlines of the heatmap,
the lungs and the six zones in image pixel coordinates."""

from functools import cache

import contourpy
import numpy as np

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.ai.gradcam import upsample
from xraydesk.ai.outputs import ZONES
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE
from xraydesk.ai.zones import zone_centroids

COLORMAP = "turbo"
CONTOUR_LEVELS = (0.25, 0.5, 0.75)
GRID_SHAPE = (MODEL_INPUT_SIZE, MODEL_INPUT_SIZE)


def heatmap_grid(analysis: ImageAnalysis, target: str) -> np.ndarray:
    """(224, 224) heatmap in [0, 1] on the model's input grid, over the whole image: heat on the
    border, a marker or the shoulder must show (DeGrave et al. 2021), so it is never clipped."""
    return np.clip(upsample(analysis.heatmaps[target], GRID_SHAPE), 0.0, 1.0)


@cache
def colour_table() -> np.ndarray:
    import matplotlib

    return (matplotlib.colormaps[COLORMAP](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


def heatmap_rgba(values: np.ndarray, opacity: float) -> np.ndarray:
    """Colour-mapped heatmap whose alpha grows with the value, so cold regions leave the image visible."""
    index = np.round(values * 255).astype(np.uint8)
    alpha = np.round(values * opacity * 255).astype(np.uint8)
    return np.dstack([colour_table()[index], alpha])


def level_colour(level: float) -> tuple[int, int, int]:
    return tuple(int(c) for c in colour_table()[round(level * 255)])


def grid_to_image(points: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """(x, y) on the 224 grid (pixel centres at integers) -> image pixel coordinates (centres at +0.5)."""
    height, width = image_shape
    return (points + 0.5) * np.array([width / GRID_SHAPE[1], height / GRID_SHAPE[0]])


def contour_lines(values: np.ndarray, level: float, image_shape: tuple[int, int]) -> list[np.ndarray]:
    """Iso-lines of a grid map at `level`, each an (N, 2) array of image (x, y) points."""
    generator = contourpy.contour_generator(z=np.asarray(values, np.float64), line_type="Separate")
    return [grid_to_image(line, image_shape) for line in generator.lines(level) if len(line) > 1]


def lung_outline(analysis: ImageAnalysis, image_shape: tuple[int, int]) -> list[np.ndarray]:
    return contour_lines(analysis.lung_mask.astype(np.float64), 0.5, image_shape)


def zone_outlines(analysis: ImageAnalysis, image_shape: tuple[int, int]) -> dict[str, list[np.ndarray]]:
    labels = analysis.zone_labels
    return {zone: contour_lines((labels == index).astype(np.float64), 0.5, image_shape)
            for index, zone in enumerate(ZONES, start=1)}


def zone_label_positions(analysis: ImageAnalysis, image_shape: tuple[int, int]) -> dict[str, tuple[float, float]]:
    """(x, y) in image pixels where each zone's probability is written."""
    return {zone: tuple(grid_to_image(np.array([column, row]), image_shape))
            for zone, (row, column) in zone_centroids(analysis.zone_labels).items()}
