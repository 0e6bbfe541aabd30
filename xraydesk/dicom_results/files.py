"""The SR and the secondary capture of an analysed image, as files."""

import os
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.dicom_results.secondary_capture import capture_display, secondary_capture
from xraydesk.dicom_results.source import ResultsError, source_header
from xraydesk.dicom_results.structured_report import structured_report
from xraydesk.imaging import XRayImage


def result_datasets(analysis: ImageAnalysis, source: Dataset, display: np.ndarray | None) -> list[Dataset]:
    """The SR, and the secondary capture of `display` unless the input check refused the image."""
    datasets = [structured_report(analysis, source)]
    if analysis.prediction is not None:
        datasets.append(secondary_capture(analysis, source, display))
    return datasets


def write_results(analysis: ImageAnalysis, image: XRayImage, out_dir: Path | str) -> list[Path]:
    """The SR and, for an analysed image, the secondary capture of `image` at its default window, written
    into `out_dir` (write_datasets). Raises ResultsError for an image with no DICOM study (PNG, JPEG)."""
    header = source_header(image)
    display = capture_display(image) if analysis.prediction is not None else None
    return write_datasets(result_datasets(analysis, header, display), Path(out_dir))


def write_datasets(datasets: list[Dataset], out_dir: Path) -> list[Path]:
    """Each dataset as <SOP Instance UID>.dcm in `out_dir`, complete or not at all; an existing file
    is never overwritten. Returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_dataset(dataset, out_dir) for dataset in datasets]


def write_dataset(dataset: Dataset, out_dir: Path) -> Path:
    target = out_dir / f"{dataset.SOPInstanceUID}.dcm"
    temporary = out_dir / f".{target.name}.{os.getpid()}.part"
    try:
        with open(temporary, "xb") as handle:
            dataset.save_as(handle, enforce_file_format=True)
        try:
            os.link(temporary, target)  # unlike a rename, fails rather than replace a file already there
        except FileExistsError as error:
            raise ResultsError(target, "a file of that name exists already; it is left as it is") from error
    finally:
        temporary.unlink(missing_ok=True)
    return target
