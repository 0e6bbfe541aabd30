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

from xraydesk.ai.outputs import BRIXIA_ZONE_COLUMNS, CAUSES, EXTENT_MAX
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE, resize_mask, to_model_input

MISSING = -1.0
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

    @property
    def is_pneumonia(self) -> bool:
        return self.label != "normal"


def _float_or_none(text: str) -> float | None:
    return float(text) if text else None


def _severity_by_image(cxr_root: Path) -> dict[str, dict[str, str]]:
    with open(cxr_root / "severity.csv", newline="") as handle:
        return {row["image"]: row for row in csv.DictReader(handle)}


def _zones_from_brixia(row: dict[str, str]) -> tuple[float, ...] | None:
    """A zone counts as opacity when the senior reader scored it >= 1 (Brixia 0-3)."""
    scores = [row.get(f"brixia_S_{zone}", "") for zone in BRIXIA_ZONE_COLUMNS]
    if not all(scores):
        return None
    return tuple(float(float(score) >= 1) for score in scores)


def load_examples(data_root: Path | str | None = None) -> list[Example]:
    cxr_root = Path(data_root or default_data_root()) / "cxr"
    severity = _severity_by_image(cxr_root)
    examples = []
    with open(cxr_root / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            scores = severity.get(row["image"], {})
            normal = row["label"] == "normal"
            examples.append(Example(
                image=row["image"], label=row["label"], split=row["split"],
                patient_id=row["patient_id"], age_group=row["age_group"], source=row["source"],
                lung_mask=row["lung_mask"],
                # A normal radiograph has no opacity in any zone: free, reliable negatives.
                zones=(0.0,) * 6 if normal else _zones_from_brixia(scores),
                extent=0.0 if normal else _float_or_none(scores.get("geographic_extent_0_8", "")),
            ))
    return examples


def targets(examples: list[Example]) -> dict[str, np.ndarray]:
    """Training targets; MISSING marks what a head must not learn from (masked in the loss)."""
    cause_index = {cause: index for index, cause in enumerate(CAUSES)}
    return {
        "pneumonia": np.array([float(e.is_pneumonia) for e in examples], np.float32)[:, None],
        "cause": np.array([cause_index.get(e.label, MISSING) for e in examples], np.float32)[:, None],
        "zones": np.array([e.zones or (MISSING,) * 6 for e in examples], np.float32),
        "extent": np.array(
            [MISSING if e.extent is None else e.extent / EXTENT_MAX for e in examples], np.float32
        )[:, None],
    }


def age_balanced_weights(examples: list[Example]) -> np.ndarray:
    """Weights that give each (age group, normal/pneumonia) cell the same total weight, mean 1.

    Adult normals are outnumbered three to one by adult pneumonias here (and children the other
    way round in no cell), so an unweighted model learns "adult" as a sign of disease."""
    cells = [(e.age_group, e.is_pneumonia) for e in examples]
    counts = {cell: cells.count(cell) for cell in set(cells)}
    return np.array([len(cells) / (len(counts) * counts[cell]) for cell in cells], np.float32)


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
