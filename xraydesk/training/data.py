"""The shared chest X-ray set (`../shared/data/cxr`): records, targets and cached model inputs.

Splits come from `labels.csv`, assigned by patient by the data's curators; this module never
re-splits. Images are read once into a uint8 cache of model inputs (not into the repo)."""

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from xraydesk.ai.outputs import (
    BRIXIA_ZONE_COLUMNS,
    CAUSES,
    EXTENT_MAX,
    LUNG_SCORE_MAX,
    NORMAL_LABEL,
    OTHER_ABNORMAL_LABEL,
    PNEUMONIA_LABELS,
)
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE, resize_mask, to_model_input

MISSING = -1.0
# NIH ChestX-ray14 (2017) and the RSNA challenge built on it (2018) predate COVID-19: their
# pneumonias of unknown cause are known not to be COVID-19, a partial cause label.
PRE_COVID_SOURCES = ("nih", "rsna")
OPACITY_GRID = 14  # the localisation target: the classifier's 14x14 stage
MAX_SAMPLING_WEIGHT = 4.0
REPO_ROOT = Path(__file__).resolve().parents[2]


def default_data_root() -> Path:
    return Path(os.environ.get("XRAYDESK_DATA", REPO_ROOT.parent / "shared" / "data"))


def default_cache_dir() -> Path:
    return Path(os.environ.get("XRAYDESK_CACHE", REPO_ROOT / ".cache"))


@dataclass(frozen=True)
class Example:
    image: str
    label: str
    split: str
    patient_id: str
    age_group: str
    source: str
    lung_mask: str
    zones: tuple[float, ...] | None
    extent: float | None
    view: str = ""
    lung_extent: tuple[float, float] | None = None  # patient's right, left, 0-4 (RALO readers' mean)
    lung_opacity: tuple[float, float] | None = None
    # radiologists' opacity boxes (x, y, width, height in the stored image's pixels); () = none on a
    # normal film; None = not known
    boxes: tuple[tuple[float, float, float, float], ...] | None = None
    image_size: tuple[int, int] = (0, 0)  # stored width, height

    @property
    def is_pneumonia(self) -> bool:
        """A pneumonia-like opacity (any cause); `other_abnormal` is not one."""
        return self.label in PNEUMONIA_LABELS

    @property
    def is_abnormal(self) -> bool:
        return self.label != NORMAL_LABEL

    @property
    def view_group(self) -> str:
        """AP (supine, erect, portable included), PA, or "" where the source gave none or both."""
        view = self.view.upper()
        if view.startswith("AP"):
            return "AP"
        return "PA" if view == "PA" else ""

    @property
    def known_not_covid(self) -> bool:
        return self.label == "pneumonia_unspecified" and self.source in PRE_COVID_SOURCES


def _float_or_none(text: str) -> float | None:
    return float(text) if text else None


def severity_by_image(cxr_root: Path) -> dict[str, dict[str, str]]:
    """severity.csv's rows by image (every reading, both RALO readers included)."""
    with open(cxr_root / "severity.csv", newline="") as handle:
        return {row["image"]: row for row in csv.DictReader(handle)}


def _zones_from_brixia(row: dict[str, str]) -> tuple[float, ...] | None:
    """A zone counts as opacity when the senior reader scored it >= 1 (Brixia 0-3)."""
    scores = [row.get(f"brixia_S_{zone}", "") for zone in BRIXIA_ZONE_COLUMNS]
    if not all(scores):
        return None
    return tuple(float(float(score) >= 1) for score in scores)


def _readers_mean(row: dict[str, str], measure: str) -> tuple[float, float] | None:
    """(right, left) mean of the RALO readers who scored both lungs, or None."""
    readings = []
    for reader in ("ralo_r1", "ralo_r2"):
        right, left = row.get(f"{reader}_right_{measure}", ""), row.get(f"{reader}_left_{measure}", "")
        if right and left:
            readings.append((float(right), float(left)))
    return tuple(float(v) for v in np.mean(readings, axis=0)) if readings else None


def _zones_from_clear_lungs(lung_extent: tuple[float, float] | None) -> tuple[float, ...] | None:
    """A lung the readers scored 0 for extent has no opacity in any of its three zones; the zones of
    a lung with opacity stay unknown (the readers did not say which third)."""
    if lung_extent is None or min(lung_extent) > 0:
        return None
    return tuple(value for extent in lung_extent for value in ((0.0,) * 3 if extent == 0 else (MISSING,) * 3))


def _boxes_by_image(cxr_root: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    boxes: dict[str, list] = {}
    with open(cxr_root / "boxes.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            boxes.setdefault(row["image"], []).append(
                tuple(float(row[key]) for key in ("x_img", "y_img", "width_img", "height_img")))
    return boxes


def load_examples(data_root: Path | str | None = None) -> list[Example]:
    cxr_root = Path(data_root or default_data_root()) / "cxr"
    severity = severity_by_image(cxr_root)
    boxes = _boxes_by_image(cxr_root)
    examples = []
    with open(cxr_root / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            scores = severity.get(row["image"], {})
            normal = row["label"] == NORMAL_LABEL
            # RSNA readers found no lung opacity on these films: no boxes; their zones stay unknown
            # (an effusion or atelectasis is not what the six-zone score counts, but it is not "clear").
            no_opacity_boxes = normal or row["label"] == OTHER_ABNORMAL_LABEL
            lung_extent = (0.0, 0.0) if normal else _readers_mean(scores, "geographic")
            examples.append(Example(
                image=row["image"], label=row["label"], split=row["split"],
                patient_id=row["patient_id"], age_group=row["age_group"], source=row["source"],
                lung_mask=row["lung_mask"],
                # A normal radiograph has no opacity in any zone: free, reliable negatives.
                zones=(0.0,) * 6 if normal else (_zones_from_brixia(scores) or _zones_from_clear_lungs(lung_extent)),
                extent=0.0 if normal else _float_or_none(scores.get("geographic_extent_0_8", "")),
                view=row["view"], lung_extent=lung_extent,
                lung_opacity=(0.0, 0.0) if normal else _readers_mean(scores, "opacity"),
                boxes=() if no_opacity_boxes else (tuple(boxes[row["image"]]) if row["image"] in boxes else None),
                image_size=(int(row["w"]), int(row["h"])),
            ))
    return examples


def _scaled_pair(pair: tuple[float, float] | None) -> tuple[float, float]:
    return (MISSING, MISSING) if pair is None else tuple(v / LUNG_SCORE_MAX for v in pair)


def opacity_map(example: Example, grid: int = OPACITY_GRID) -> np.ndarray:
    """(grid * grid,) share of each cell of the squashed image covered by an opacity box; all zero
    for a normal film; MISSING where no boxes are known."""
    if example.boxes is None:
        return np.full(grid * grid, MISSING, np.float32)
    width, height = example.image_size
    fine = np.zeros((grid * 8, grid * 8), np.float32)
    for x, y, w, h in example.boxes:
        columns = slice(int(x / width * fine.shape[1]), int(np.ceil((x + w) / width * fine.shape[1])))
        rows = slice(int(y / height * fine.shape[0]), int(np.ceil((y + h) / height * fine.shape[0])))
        fine[rows, columns] = 1.0
    return fine.reshape(grid, 8, grid, 8).mean(axis=(1, 3)).ravel()


def targets(examples: list[Example]) -> dict[str, np.ndarray]:
    """Training targets; MISSING marks what a head must not learn from (masked in the loss)."""
    cause_index = {cause: index for index, cause in enumerate(CAUSES)}
    return {
        "abnormal": np.array([float(e.is_abnormal) for e in examples], np.float32)[:, None],
        "pneumonia": np.array([float(e.is_pneumonia) for e in examples], np.float32)[:, None],
        "cause": np.array([cause_index.get(e.label, MISSING) for e in examples], np.float32)[:, None],
        "not_covid": np.array([e.known_not_covid for e in examples], bool),
        "zones": np.array([e.zones or (MISSING,) * 6 for e in examples], np.float32),
        "extent": np.array(
            [MISSING if e.extent is None else e.extent / EXTENT_MAX for e in examples], np.float32
        )[:, None],
        # right/4, left/4, total/8: a lung's own reading where known, else only the total
        "lung_extent": np.array([(*_scaled_pair(e.lung_extent),
                                  MISSING if e.extent is None else e.extent / EXTENT_MAX) for e in examples],
                                np.float32),
        "lung_opacity": np.array([_scaled_pair(e.lung_opacity) for e in examples], np.float32),
        "opacity_map": np.stack([opacity_map(e) for e in examples]) if examples else np.zeros((0, 196), np.float32),
    }


def sampling_weights(examples: list[Example], power: float) -> np.ndarray:
    """Per-image loss weights, mean 1, so that no collection teaches a class by sheer numbers and
    no projection teaches a class at all.

    Each (source, label) cell gets a total weight proportional to its size ** power (power 1 =
    unweighted, 0 = every cell equal). Within a cell, the films of known view keep their share of
    the cell but split it equally between AP and PA where the cell has both, so that within a
    source the view says nothing about the label (RSNA's opacities are 80% AP, its normals 80% PA).
    A view group's weight is shared among its patients so that each patient counts the square root
    of their film count (RALO patients have up to 29 serial films)."""
    films_of = {}
    for e in examples:
        films_of[e.patient_id] = films_of.get(e.patient_id, 0) + 1
    per_patient = np.array([1.0 / np.sqrt(films_of[e.patient_id]) for e in examples])
    cells = [(e.source, e.label) for e in examples]
    views = np.array([e.view_group for e in examples])
    weights = np.empty(len(examples))
    for cell in set(cells):
        members = np.array([c == cell for c in cells])
        for view, share in _view_shares(views[members]).items():
            group = members & (views == view)
            weights[group] = per_patient[group] / per_patient[group].sum() * share * members.sum() ** power
    # a cell of two films must not weigh as much as a hundred: cap, then restore mean 1
    weights = np.minimum(weights / weights.mean(), MAX_SAMPLING_WEIGHT)
    return (weights / weights.mean()).astype(np.float32)


def _view_shares(views: np.ndarray) -> dict[str, float]:
    """Each view group's share of a cell's weight: unknown views keep their share of films, the
    known ones split the rest equally."""
    known = [view for view in ("AP", "PA") if (views == view).any()]
    unknown = float((views == "").mean())
    shares = {view: (1.0 - unknown) / len(known) for view in known}
    return shares | ({"": unknown} if unknown else {})


def read_display(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def _cached(name: str, build, cache_dir: Path) -> np.ndarray:
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{name}.npy"
    if path.exists():
        return np.load(path)
    array = build()
    np.save(path.with_suffix(".tmp.npy"), array)
    os.replace(path.with_suffix(".tmp.npy"), path)
    return array


def model_inputs(examples: list[Example], data_root: Path | str | None = None,
                 cache_dir: Path | None = None) -> np.ndarray:
    """uint8 (N, 224, 224, 1) model inputs, times 255 (lossless: inputs are k/255)."""
    cxr_root = Path(data_root or default_data_root()) / "cxr"

    def build() -> np.ndarray:
        return np.stack([
            np.round(to_model_input(read_display(cxr_root / e.image)) * 255).astype(np.uint8)
            for e in examples
        ])

    return _cached(f"inputs{MODEL_INPUT_SIZE}-{_fingerprint(examples)}", build,
                   cache_dir or default_cache_dir())


def lung_masks(examples: list[Example], data_root: Path | str | None = None,
               cache_dir: Path | None = None) -> np.ndarray:
    """uint8 (N, 224, 224, 1) lung masks for examples that have one."""
    cxr_root = Path(data_root or default_data_root()) / "cxr"

    def build() -> np.ndarray:
        return np.stack([
            resize_mask(read_display(cxr_root / e.lung_mask)).astype(np.uint8) for e in examples
        ])

    return _cached(f"masks{MODEL_INPUT_SIZE}-{_fingerprint(examples)}", build,
                   cache_dir or default_cache_dir())


def _fingerprint(examples: list[Example]) -> str:
    return hashlib.sha1("\n".join(e.image for e in examples).encode()).hexdigest()[:12]
