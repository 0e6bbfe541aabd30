"""Six lung zones placed on a lung mask: each lung divided into thirds of its own craniocaudal
extent (upper, middle, lower; Toussie et al., Radiology 2020). On a standard frontal display the
patient's right lung is on the viewer's left."""

import numpy as np

from xraydesk.ai.outputs import ZONES


def midline_column(lung_mask: np.ndarray) -> int:
    """The column between the lungs: the one with the fewest lung pixels in the central third."""
    width = lung_mask.shape[1]
    start, stop = width // 3, 2 * width // 3
    return start + int(np.argmin(lung_mask[:, start:stop].sum(axis=0)))


def zone_labels(lung_mask: np.ndarray) -> np.ndarray:
    """(H, W) uint8: 0 outside the lungs, else 1 + the index of the zone in ZONES."""
    mask = np.asarray(lung_mask, bool)
    labels = np.zeros(mask.shape, np.uint8)
    middle = midline_column(mask)
    rows = np.arange(mask.shape[0])[:, None]
    for side, columns in enumerate((slice(0, middle), slice(middle, None))):
        lung = np.zeros_like(mask)
        lung[:, columns] = mask[:, columns]
        occupied = np.flatnonzero(lung.any(axis=1))
        if occupied.size == 0:
            continue
        top, height = occupied[0], occupied[-1] + 1 - occupied[0]
        third = np.clip((rows - top) * 3 // height, 0, 2)
        labels[lung] = (side * 3 + third + 1).repeat(mask.shape[1], axis=1)[lung]
    return labels


def zone_centroids(labels: np.ndarray) -> dict[str, tuple[float, float]]:
    """(row, column) centre of each zone present, for placing its label."""
    centres = {}
    for index, zone in enumerate(ZONES, start=1):
        rows, columns = np.nonzero(labels == index)
        if rows.size:
            centres[zone] = (float(rows.mean()), float(columns.mean()))
    return centres
