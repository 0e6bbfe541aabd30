"""Is the lung mask plausible enough to place six zones on?

The segmenter's mask (224x224, on the squashed model input, specks removed: `zones.lung_mask`) is
measured as the zones see it: split at `zones.midline_column` into the patient's right and left
lung. It is implausible when a figure lies outside its limit (LIMITS; the reason names the first that
fails, with its figure):
- lung_share: the share of the image that is lung, 8-70%;
- joined: the share of the lung's rows in which the mask crosses the midline column (one blob
  across the midline), at most 50%;
- third_blob: the largest blob besides the two lungs (8-connected, the mask cut at the midline),
  at most 6% of the image: three large blobs fail, specks never count;
- balance: the smaller lung's area over the larger's, at least 20%;
- centre_row, centre_column: the lungs' centroid, 20-70% of the way down and 33-67% across;
- tallness: each lung's bounding box, at least 0.75 times as tall as wide;
- stray_blob: a blob (not a speck) that lies below its side's lung (under the diaphragm: bowel or
  gastric gas), beyond its outer edge (outside the chest wall: the air by an arm, a marker) or above
  it (the neck), or a part of a lung joined to it by a neck narrower than 2 x STRAY_NECK pixels that
  lies below or beside it: none allowed. The lung of a side is its largest blob; a blob in a notch of the lung
  (by the heart) is not stray;
- outside_body: the share of the mask on the air around the body, at most 2%. The body is told
  from the film itself (body_outline): the air is what is much darker than the lungs and reaches
  the film's edge.

The first seven limits come from the shipped segmenter on the val split (1,623 films of data v2, 9
sources): each lies outside the 0.5th-99.5th percentile range of every source. The most extreme val
films that pass: lung share 10.1% (rsna) and 58.8% (kermany224), joined 42% (ralo), third blob 5.7%
(ralo), balance 0.22 (ralo), centroid 22-66% down (ralo, kermany224) and 37-66% across (ralo,
covidcxnet), tallness 0.79 (covidcxnet). The lung-share limits leave out the issue's small rotated
RSNA film (5.6%) and keep train's smallest plausible masks (8.8%) and tightest crops (64.5%).

The last two were set by looking at every film they reject (`python -m xraydesk.training.lung_check_report
--montage DIR`): on val and test each such mask holds gas under a diaphragm, the air or the arm beside
the chest, or a blob in the neck or a corner; the shared RSNA film 01b9e362 (its right lung takes in the
air outside the chest wall) is one. With them the check rejects 2.4% of val films (40 of 1,681 of data
v3; 0.36% before), 1.1% of normal val films (7 of 632; 0.32% before), and 4.4% of test films (48 of
1,093; 0.55% before; normal 2.4%): the segmenter leaks that often on adult films (RALO 6.7% of val,
RSNA 2.3%). Not caught: a lung that runs into the gastric bubble along a broad front (no neck to cut);
a lung cut in two across by a dense opacity would read as a blob below its upper part (no rejected val
film was one)."""

from dataclasses import dataclass

import numpy as np

from xraydesk.ai.zones import SPECK_SHARE, blob_labels, midline_column

# A part of a lung joined to it by a neck narrower than twice this radius (pixels of the 224 input)
# is measured as a blob of its own: a leak under a diaphragm often hangs from the lung by one.
STRAY_NECK = 5
# The air around the body: darker than AIR_DARKNESS of the way from the film's darkest (1st
# percentile) to the lungs' median. A film without LEAST_AIR_CONTRAST shows no air to tell apart.
AIR_DARKNESS = 0.3
LEAST_AIR_CONTRAST = 0.1
SIDE_NAMES = ("right", "left")  # the patient's; the right lung is left of the midline on a frontal view
STRAY_PLACES = {"below": "below the {side} lung (under the diaphragm)",
                "beside": "beside the {side} lung (outside the chest wall)",
                "above": "above the {side} lung"}


@dataclass(frozen=True)
class LungMaskCheck:
    plausible: bool
    reason: str = ""  # why zones and the six-zone score are withheld


PLAUSIBLE = LungMaskCheck(True)

# (figure, lowest plausible, highest plausible, what failing it means)
LIMITS = (
    ("lung_share", 0.08, 0.70, "{value:.1%} of the image is lung (expected {low:.0%}–{high:.0%})"),
    ("joined", 0.0, 0.50, "the lungs are joined across the midline over {value:.0%} of their height "
                          "(expected two lungs, joined over at most {high:.0%})"),
    ("third_blob", 0.0, 0.06, "besides the two lungs a blob covers {value:.1%} of the image "
                              "(expected at most {high:.0%})"),
    ("balance", 0.20, 1.0, "one lung is {value:.0%} the size of the other (expected at least {low:.0%})"),
    ("centre_row", 0.20, 0.70, "the lungs are centred {value:.0%} of the way down the image "
                               "(expected {low:.0%}–{high:.0%})"),
    ("centre_column", 0.33, 0.67, "the lungs are centred {value:.0%} of the way across the image "
                                  "(expected {low:.0%}–{high:.0%})"),
    ("tallness", 0.75, np.inf, "a lung is {value:.2f} times as tall as it is wide (expected at least {low:.2f})"),
    ("stray_blob", 0.0, 0.0, "a blob of {value:.1%} of the image lies {place}, which is not lung"),
    ("outside_body", 0.0, 0.02, "{value:.1%} of the mask lies on the air around the body "
                                "(expected at most {high:.0%})"),
)


def check_lung_mask(mask: np.ndarray, image: np.ndarray) -> LungMaskCheck:
    """mask: (224, 224) bool, the segmenter's lungs on `image`, the model input ((224, 224) in [0, 1])."""
    figures = lung_figures(mask, image)
    for name, low, high, meaning in LIMITS:
        if not low <= figures[name] <= high:
            words = meaning.format(value=figures[name], low=low, high=high, place=figures["stray_place"])
            return LungMaskCheck(False, f"lung mask implausible: {words}")
    return PLAUSIBLE


def lung_figures(mask: np.ndarray, image: np.ndarray) -> dict:
    """The figures LIMITS names for one mask, and where its largest stray blob lies (stray_place)."""
    mask = np.asarray(mask, bool)
    middle = midline_column(mask)
    sides = (mask[:, :middle], mask[:, middle:])
    areas = [int(side.sum()) for side in sides]
    rows, columns = np.nonzero(mask)
    cut = mask.copy()
    cut[:, middle] = False
    blobs = np.concatenate([blob_areas(cut), [0, 0, 0]])
    stray_share, stray_place = max(stray_blobs(mask, middle), default=(0.0, ""))
    return {
        "lung_share": float(mask.mean()),
        "joined": float(mask[:, middle].sum() / max(int(mask.any(axis=1).sum()), 1)),
        "third_blob": float(blobs[2] / mask.size),
        "balance": min(areas) / max(max(areas), 1),
        "centre_row": float(rows.mean() / mask.shape[0]) if rows.size else 0.0,
        "centre_column": float(columns.mean() / mask.shape[1]) if rows.size else 0.0,
        "tallness": min(_tallness(side) for side in sides),
        "stray_blob": stray_share,
        "stray_place": stray_place,
        "outside_body": float((mask & ~body_outline(image, mask)).sum() / max(int(mask.sum()), 1)),
    }


def _tallness(side: np.ndarray) -> float:
    """Height over width of the bounding box of one side's lung (0 when it has none)."""
    rows, columns = np.flatnonzero(side.any(axis=1)), np.flatnonzero(side.any(axis=0))
    if rows.size == 0:
        return 0.0
    return float((rows[-1] + 1 - rows[0]) / (columns[-1] + 1 - columns[0]))


def blob_areas(mask: np.ndarray) -> np.ndarray:
    """Pixel counts of the 8-connected blobs of a 2-D bool mask, largest first."""
    areas = np.bincount(blob_labels(mask).ravel())[1:]
    return np.sort(areas)[::-1]


# ------------------------------------------------------------ what is not lung


def stray_blobs(mask: np.ndarray, middle: int) -> list[tuple[float, str]]:
    """(share of the image, where in words) of each blob, not a speck, that lies below, beside or above
    its side's lung (the largest blob on that side of the midline); and of each part of a lung joined to
    it by a neck narrower than STRAY_NECK that lies below or beside it (an apex can hang by a neck where
    the clavicle crosses it: a part above is lung)."""
    from scipy import ndimage  # imported here, as in zones.blob_labels: out of the app's start-up

    offsets = np.arange(-STRAY_NECK, STRAY_NECK + 1)
    disk = np.hypot(*np.meshgrid(offsets, offsets)) <= STRAY_NECK
    return (_strays(mask, middle, ("below", "beside", "above"))
            + _strays(ndimage.binary_opening(mask, disk), middle, ("below", "beside")))


def _strays(mask: np.ndarray, middle: int, places: tuple[str, ...]) -> list[tuple[float, str]]:
    cut = mask.copy()
    cut[:, middle] = False
    labels = blob_labels(cut)
    areas = np.bincount(labels.ravel())
    areas[0] = 0
    column_sums = np.bincount(labels.ravel(), weights=np.indices(labels.shape)[1].ravel())
    centre_columns = column_sums / np.maximum(areas, 1)
    strays = []
    for side, name in enumerate(SIDE_NAMES):
        on_side = [blob for blob in np.flatnonzero(areas) if (centre_columns[blob] < middle) == (side == 0)]
        if not on_side:
            continue
        lung = max(on_side, key=lambda blob: areas[blob])
        for blob in on_side:
            place = None if blob == lung else _place(labels == blob, labels == lung, outer_is_left=side == 0)
            if place in places and areas[blob] >= SPECK_SHARE * labels.size:
                strays.append((float(areas[blob] / labels.size), STRAY_PLACES[place].format(side=name)))
    return strays


def _place(blob: np.ndarray, lung: np.ndarray, outer_is_left: bool) -> str | None:
    """Where most of the blob lies, column by column: below or above the lung, or beyond its outer
    edge ("beside"); None within the lung's span (in a notch of the lung, by the heart)."""
    has_lung = lung.any(axis=0)
    lung_columns = np.flatnonzero(has_lung)
    top = np.argmax(lung, axis=0)
    bottom = lung.shape[0] - 1 - np.argmax(lung[::-1], axis=0)
    rows, columns = np.nonzero(blob)
    outer = columns < lung_columns[0] if outer_is_left else columns > lung_columns[-1]
    beside_lung = has_lung[columns]
    places = np.select([outer, beside_lung & (rows > bottom[columns]), beside_lung & (rows < top[columns])],
                       ["beside", "below", "above"], "within")
    values, counts = np.unique(places, return_counts=True)
    place = str(values[np.argmax(counts)])
    return None if place == "within" else place


def body_outline(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The patient on the film: all but the air around the body, which is much darker than the lungs
    (AIR_DARKNESS) and reaches the film's edge. A dark region that is mostly lung mask is not air but
    lung reaching the edge of a tight crop."""
    image = np.asarray(image, np.float32)
    body = np.ones(image.shape, bool)
    if not mask.any():
        return body
    darkest, lungs = float(np.percentile(image, 1)), float(np.median(image[mask]))
    if lungs - darkest < LEAST_AIR_CONTRAST:
        return body
    labels = blob_labels(image <= darkest + AIR_DARKNESS * (lungs - darkest))
    sizes = np.bincount(labels.ravel())
    in_mask = np.bincount(labels[mask], minlength=sizes.size)
    at_edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    air = [region for region in at_edge if region and in_mask[region] <= sizes[region] / 2]
    return ~np.isin(labels, air)
