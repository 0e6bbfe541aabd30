"""Six lung zones placed on a lung mask: each lung divided into thirds of its own craniocaudal
extent (upper, middle, lower; Toussie et al., Radiology 2020). On a standard frontal display the
patient's right lung is on the viewer's left."""

import numpy as np

LUNG_THRESHOLD = 0.5
# Detached blobs under 1% of the image are segmentation specks (a bowel gas shadow, a marker), not
# lung: left in, one below a lung stretches that side's zones (seen on ~6% of val films).
SPECK_SHARE = 0.01


def blob_labels(mask: np.ndarray) -> np.ndarray:
    """The 8-connected blobs of a 2-D bool mask, numbered from 1 (0: background)."""
    # Imported here, not at the top: SciPy's ~0.25 s import stays out of the app's start-up.
    from scipy import ndimage

    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    return labels


def lung_mask(lung_probability: np.ndarray) -> np.ndarray:
    """(H, W) lung probability -> the bool mask zones are placed on: thresholded, specks removed
    (8-connected blobs)."""
    mask = np.asarray(lung_probability) >= LUNG_THRESHOLD
    labels = blob_labels(mask)
    keep = np.bincount(labels.ravel()) >= SPECK_SHARE * mask.size
    keep[0] = False
    return keep[labels]


def midline_column(lung_mask: np.ndarray) -> int:
    """The column between the lungs: the middle of the widest run of columns with the fewest lung
    pixels in the central third (the first such column can lie beside both lungs of an off-centre
    chest, which put all six zones on one side)."""
    width = lung_mask.shape[1]
    start, stop = width // 3, 2 * width // 3
    counts = lung_mask[:, start:stop].sum(axis=0)
    edges = np.diff(np.concatenate([[0], (counts == counts.min()).astype(int), [0]]))
    firsts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    widest = int(np.argmax(ends - firsts))
    return start + int((firsts[widest] + ends[widest] - 1) // 2)


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
