"""The batching engine of `xraydesk predict`: image paths in, one CSV row per image out, in small
batches for throughput (one bad file never stops the batch), with each analysed image's heatmap
(`--heatmaps`) and DICOM result (`--dicom-out`) written as the batch goes. The image -> result steps
are xraydesk.jobs.pipeline's, which `xraydesk serve` takes too; this module adds the CSV rows and files."""

import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xraydesk.commands.common import Progress
from xraydesk.commands.predict_csv import error_row, join_keys, outcome_row
from xraydesk.jobs.pipeline import (
    BATCH_SIZE,
    Analysed,
    DicomSource,
    Prepared,
    Unreadable,
    analyse,
    dicom_source,
    prepare,
    result_datasets,
)


@dataclass(frozen=True)
class Kept:
    """What a CSV row and --dicom-out need of an image besides its model input."""
    keys: dict = field(default_factory=dict)  # JOIN_KEYS columns
    dicom: DicomSource | None = None  # for --dicom-out, a DICOM image's header and capture picture


def heatmap_file_name(path: Path) -> str:
    """A PNG name for the map of the image at `path`: readable, safe on any file system, and
    unique to the path (two `chest.png` in different folders get different names)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem)[:60].strip("_") or "image"
    digest = hashlib.sha1(os.fsencode(path.resolve())).hexdigest()[:12]
    return f"{stem}-{digest}.png"


class HeatmapWriter:
    """`--heatmaps DIR`: each analysed image's opacity map (the localisation head trained on the
    radiologists' boxes, the map the app shows; 255 = probability 1) as an 8-bit grayscale PNG at the
    image's own pixel size, stretched as the image was squashed for the model."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, analysed: list[Analysed]) -> list[str]:
        """The path written for each image, "" for those the model did not analyse (no map)."""
        from PIL import Image

        from xraydesk.ai.gradcam import upsample

        paths = [""] * len(analysed)
        for i, item in enumerate(analysed):
            if item.outcome.opacity_map is None:
                continue
            levels = np.round(np.clip(upsample(item.outcome.opacity_map, item.prepared.shape), 0.0, 1.0) * 255)
            target = self.folder / heatmap_file_name(item.prepared.path)
            Image.fromarray(levels.astype(np.uint8)).save(target)
            paths[i] = str(target)
        return paths


class DicomResultWriter:
    """`--dicom-out DIR`: each DICOM image's SR and (when analysed) secondary capture, written into
    DIR as the batch goes; counts what it wrote and what it could not, for the closing summary."""

    def __init__(self, model, folder: Path):
        self.model, self.folder = model, folder
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
            return dicom_source(image)
        except dicom_results.ResultsError as error:
            self.failures.append(str(error))
            return None

    def write(self, analysed: list[Analysed]) -> None:
        from xraydesk import dicom_results

        for item in analysed:
            if item.prepared.kept.dicom is None:
                continue
            try:
                datasets = result_datasets(self.model, item, item.prepared.kept.dicom)
                self.files += len(dicom_results.write_datasets(datasets, self.folder))
            except dicom_results.ResultsError as error:
                self.failures.append(str(error))

    def summary(self) -> list[str]:
        lines = [f"wrote {self.files} DICOM result files (SR and secondary captures) to {self.folder}"]
        if self.not_dicom:
            lines.append(f"{self.not_dicom} PNG/JPEG inputs got no DICOM result: they have no study to attach it to")
        return lines + [f"no DICOM result for {failure}" for failure in self.failures]


def _prepare(path: Path, dicom: DicomResultWriter | None = None) -> Prepared | dict:
    prepared = prepare(path, lambda image: Kept(join_keys(image.dataset), dicom.source(image) if dicom else None))
    if isinstance(prepared, Unreadable):
        return error_row(path, prepared.reason, prepared.seconds)
    return prepared


def _analyse(model, pending: list[Prepared], heatmaps: HeatmapWriter | None,
             dicom: DicomResultWriter | None = None) -> list[dict]:
    start = time.perf_counter()
    analysed = analyse(model, pending)  # the opacity map comes with each outcome: no Grad-CAM for the files
    written = heatmaps.write(analysed) if heatmaps else [""] * len(pending)
    if dicom:
        dicom.write(analysed)
    share = (time.perf_counter() - start) / len(pending)
    return [{**outcome_row(p.path, item.outcome, p.seconds + share, heatmap), **p.kept.keys}
            for p, item, heatmap in zip(pending, analysed, written)]


def predict_rows(model, paths: list[Path], progress: Progress | None = None,
                 heatmaps: HeatmapWriter | None = None, dicom: DicomResultWriter | None = None):
    """Yields one CSV row (dict) per image, in the order given. The model sees the readable images
    of each BATCH_SIZE consecutive paths together: fixed by position, so that a cluster worker given
    a multiple of BATCH_SIZE paths forms the same batches and gives the very same figures."""
    for start in range(0, len(paths), BATCH_SIZE):
        prepared = [_prepare(path, dicom) for path in paths[start:start + BATCH_SIZE]]
        pending = [item for item in prepared if isinstance(item, Prepared)]
        analysed = iter(_analyse(model, pending, heatmaps, dicom) if pending else [])
        yield from (next(analysed) if isinstance(item, Prepared) else item for item in prepared)
        progress and progress.advance(len(prepared))


def image_paths(arguments: list[str]) -> tuple[list[Path], list[dict], int]:
    """Expands files and folders: (images, error rows for the other files, DICOM non-image objects skipped)."""
    from xraydesk.imaging import IMAGE, NON_IMAGE, scan_paths

    entries = scan_paths([Path(argument) for argument in arguments])
    images = [entry.path for entry in entries if entry.kind == IMAGE]
    errors = [error_row(entry.path, entry.reason) for entry in entries if entry.kind not in (IMAGE, NON_IMAGE)]
    return images, errors, sum(entry.kind == NON_IMAGE for entry in entries)
