"""The batching engine of `xraydesk predict`: image paths in, one CSV row per image out, in small
batches for throughput (one bad file never stops the batch), with each analysed image's heatmap
(`--heatmaps`) and DICOM result (`--dicom-out`) written as the batch goes."""

import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xraydesk.ai.gate import InputCheck
from xraydesk.commands.common import Progress
from xraydesk.commands.predict_csv import error_row, join_keys, outcome_row

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

BATCH_SIZE = 16


@dataclass(frozen=True)
class DicomSource:
    header: "Dataset"  # the source's header without its pixels
    display: np.ndarray  # the image at its default window, reduced for the secondary capture


@dataclass
class Pending:
    path: Path
    model_input: np.ndarray
    prior_check: InputCheck
    seconds: float
    shape: tuple[int, int]  # (height, width) of the image as loaded
    keys: dict = field(default_factory=dict)  # JOIN_KEYS columns
    dicom: DicomSource | None = None  # what --dicom-out needs of a DICOM image, kept instead of its pixels


def heatmap_file_name(path: Path) -> str:
    """A PNG name for the map of the image at `path`: readable, safe on any file system, and
    unique to the path (two `chest.png` in different folders get different names)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem)[:60].strip("_") or "image"
    digest = hashlib.sha1(os.fsencode(path.resolve())).hexdigest()[:12]
    return f"{stem}-{digest}.png"


def pneumonia_maps(gradcam, inputs: np.ndarray, outcomes) -> dict[int, np.ndarray]:
    """The pneumonia Grad-CAM of each analysed image of the batch, by its index in the batch."""
    analysed = [i for i, outcome in enumerate(outcomes) if outcome.prediction is not None]
    return dict(zip(analysed, gradcam.heatmaps(inputs[analysed], "pneumonia"))) if analysed else {}


class HeatmapWriter:
    """`--heatmaps DIR`: each analysed image's pneumonia map as an 8-bit grayscale PNG at the
    image's own pixel size, stretched as the image was squashed for the model."""

    def __init__(self, gradcam, folder: Path):
        self.gradcam, self.folder = gradcam, folder
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, pending: list[Pending], maps: dict[int, np.ndarray]) -> list[str]:
        """The path written for each image, "" for those the model did not analyse (no map)."""
        from PIL import Image

        from xraydesk.ai.gradcam import upsample

        paths = [""] * len(pending)
        for i, heatmap in maps.items():
            levels = np.round(np.clip(upsample(heatmap, pending[i].shape), 0.0, 1.0) * 255).astype(np.uint8)
            target = self.folder / heatmap_file_name(pending[i].path)
            Image.fromarray(levels).save(target)
            paths[i] = str(target)
        return paths


class DicomResultWriter:
    """`--dicom-out DIR`: each DICOM image's SR and (when analysed) secondary capture, written into
    DIR as the batch goes; counts what it wrote and what it could not, for the closing summary."""

    def __init__(self, model, gradcam, folder: Path):
        self.model, self.gradcam, self.folder = model, gradcam, folder  # gradcam: for pneumonia_maps
        folder.mkdir(parents=True, exist_ok=True)
        self.files = self.not_dicom = 0
        self.failures: list[str] = []

    def source(self, image) -> DicomSource | None:
        """What the results need of `image`; None for PNG/JPEG (counted) or a header without its UIDs."""
        from xraydesk import dicom_results

        if image.source_format != "DICOM":
            self.not_dicom += 1
            return None
        try:
            return DicomSource(dicom_results.source_header(image), dicom_results.capture_display(image))
        except dicom_results.ResultsError as error:
            self.failures.append(str(error))
            return None

    def write(self, pending: list[Pending], outcomes, maps: dict[int, np.ndarray]) -> None:
        from xraydesk import dicom_results
        from xraydesk.ai.analysis import ImageAnalysis, StudyIdentity

        for index, (item, outcome) in enumerate(zip(pending, outcomes)):
            if item.dicom is None:
                continue
            heatmaps = {"pneumonia": maps[index]} if index in maps else {}
            analysis = ImageAnalysis.of_outcome(StudyIdentity(item.path), self.model, outcome, heatmaps)
            try:
                datasets = dicom_results.result_datasets(analysis, item.dicom.header, item.dicom.display)
                self.files += len(dicom_results.write_datasets(datasets, self.folder))
            except dicom_results.ResultsError as error:
                self.failures.append(str(error))

    def summary(self) -> list[str]:
        lines = [f"wrote {self.files} DICOM result files (SR and secondary captures) to {self.folder}"]
        if self.not_dicom:
            lines.append(f"{self.not_dicom} PNG/JPEG inputs got no DICOM result: they have no study to attach it to")
        return lines + [f"no DICOM result for {failure}" for failure in self.failures]


def _prepare(path: Path, dicom: DicomResultWriter | None = None) -> Pending | dict:
    from xraydesk.ai.inputs import prepare_image
    from xraydesk.imaging import failure_reason, load_image

    start = time.perf_counter()
    try:
        image = load_image(path)
        model_input, check = prepare_image(image)
    except Exception as error:  # an unforeseen decoder failure stays one row, not the whole batch
        return error_row(path, failure_reason(error), time.perf_counter() - start)
    return Pending(path, model_input, check, time.perf_counter() - start, (image.height, image.width),
                   join_keys(image.dataset), dicom.source(image) if dicom else None)


def _analyse(model, pending: list[Pending], heatmaps: HeatmapWriter | None,
             dicom: DicomResultWriter | None = None) -> list[dict]:
    start = time.perf_counter()
    inputs = np.stack([p.model_input for p in pending])
    outcomes = model.analyse_inputs(inputs, [p.prior_check for p in pending])
    writer = heatmaps or dicom
    maps = pneumonia_maps(writer.gradcam, inputs, outcomes) if writer else {}  # once for both outputs
    written = heatmaps.write(pending, maps) if heatmaps else [""] * len(pending)
    if dicom:
        dicom.write(pending, outcomes, maps)
    share = (time.perf_counter() - start) / len(pending)
    return [{**outcome_row(p.path, outcome, p.seconds + share, heatmap), **p.keys}
            for p, outcome, heatmap in zip(pending, outcomes, written)]


def predict_rows(model, paths: list[Path], progress: Progress | None = None,
                 heatmaps: HeatmapWriter | None = None, dicom: DicomResultWriter | None = None):
    """Yields one CSV row (dict) per image, in the order given. The model sees the readable images
    of each BATCH_SIZE consecutive paths together: fixed by position, so that a cluster worker given
    a multiple of BATCH_SIZE paths forms the same batches and gives the very same figures."""
    for start in range(0, len(paths), BATCH_SIZE):
        prepared = [_prepare(path, dicom) for path in paths[start:start + BATCH_SIZE]]
        pending = [item for item in prepared if isinstance(item, Pending)]
        analysed = iter(_analyse(model, pending, heatmaps, dicom) if pending else [])
        yield from (next(analysed) if isinstance(item, Pending) else item for item in prepared)
        progress and progress.advance(len(prepared))


def image_paths(arguments: list[str]) -> tuple[list[Path], list[dict], int]:
    """Expands files and folders: (images, error rows for the other files, DICOM non-image objects skipped)."""
    from xraydesk.imaging import IMAGE, NON_IMAGE, scan_paths

    entries = scan_paths([Path(argument) for argument in arguments])
    images = [entry.path for entry in entries if entry.kind == IMAGE]
    errors = [error_row(entry.path, entry.reason) for entry in entries if entry.kind not in (IMAGE, NON_IMAGE)]
    return images, errors, sum(entry.kind == NON_IMAGE for entry in entries)
