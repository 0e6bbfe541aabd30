"""The image -> result pipeline that `xraydesk predict` and `xraydesk serve` share: each image loaded
and prepared for the model, the model called once per batch, each outcome as an ImageAnalysis, and its
DICOM result (an SR, and a secondary capture unless the input check refused the image). The app's Analyser takes the
same steps one image at a time (prepare_image, analyse_inputs, ImageAnalysis.of_outcome). No Grad-CAM:
the map every result shows, the box-trained opacity map, comes with the outcome.

Only what the results need is kept of an image (its model input, and for a DICOM result its header
without pixels and the small picture the capture shows): a batch holds no decoded image."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xraydesk.ai.gate import InputCheck

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from xraydesk.ai.analysis import ImageAnalysis
    from xraydesk.ai.model import ChestXRayModel, Outcome
    from xraydesk.imaging import XRayImage

BATCH_SIZE = 16


@dataclass(frozen=True)
class DicomSource:
    """What a DICOM result needs of its source image."""
    header: "Dataset"  # the source's header without its pixels
    display: np.ndarray  # the image at its default window, reduced for the secondary capture


@dataclass
class Prepared:
    path: Path
    model_input: np.ndarray
    prior_check: InputCheck
    seconds: float
    shape: tuple[int, int]  # (height, width) of the image as loaded
    kept: Any = None  # what the caller's `keep` took of the loaded image (the image itself is let go)


@dataclass(frozen=True)
class Unreadable:
    path: Path
    reason: str
    seconds: float


@dataclass(frozen=True)
class Analysed:
    prepared: Prepared
    outcome: "Outcome"


def prepare(path: Path, keep: Callable[["XRayImage"], Any] | None = None) -> Prepared | Unreadable:
    """The image at `path` ready for the model, or why it cannot be read (one bad file never stops a batch)."""
    from xraydesk.ai.inputs import prepare_image
    from xraydesk.imaging import failure_reason, load_image

    start = time.perf_counter()
    try:
        image = load_image(path)
        model_input, check = prepare_image(image)
    except Exception as error:  # noqa: BLE001 - an unforeseen decoder failure stays one image's failure
        return Unreadable(path, failure_reason(error), time.perf_counter() - start)
    return Prepared(path, model_input, check, time.perf_counter() - start, (image.height, image.width),
                    keep(image) if keep else None)


def analyse(model: "ChestXRayModel", prepared: list[Prepared]) -> list[Analysed]:
    """One model call for the batch."""
    inputs = np.stack([item.model_input for item in prepared])
    outcomes = model.analyse_inputs(inputs, [item.prior_check for item in prepared])
    return [Analysed(item, outcome) for item, outcome in zip(prepared, outcomes)]


def image_analysis(model: "ChestXRayModel", analysed: Analysed) -> "ImageAnalysis":
    from xraydesk.ai.analysis import ImageAnalysis, StudyIdentity

    return ImageAnalysis.of_outcome(StudyIdentity(analysed.prepared.path), model, analysed.outcome, {})


def dicom_source(image: "XRayImage") -> DicomSource:
    """What the DICOM result of `image` needs; ResultsError for a PNG/JPEG or a header without its UIDs."""
    from xraydesk import dicom_results

    return DicomSource(dicom_results.source_header(image), dicom_results.capture_display(image))


def result_datasets(model: "ChestXRayModel", analysed: Analysed, source: DicomSource) -> list["Dataset"]:
    """The SR and, unless refused, the secondary capture; ResultsError when highdicom cannot make them."""
    from xraydesk import dicom_results

    return dicom_results.result_datasets(image_analysis(model, analysed), source.header, source.display)


def refusal_datasets(model: "ChestXRayModel", path: Path, reason: str) -> list["Dataset"]:
    """The SR saying why the DICOM object at `path` was not analysed (no image in it, pixels that cannot
    be decoded): the sender of an object learns what became of it, never nothing."""
    from xraydesk import dicom_results
    from xraydesk.ai.analysis import ImageAnalysis, StudyIdentity
    from xraydesk.imaging.loading import read_dicom

    header, _ = read_dicom(path, stop_before_pixels=True)
    refusal = ImageAnalysis(StudyIdentity(path), model.version, model.metadata["operating_points"],
                            InputCheck(False, reason))
    return dicom_results.result_datasets(refusal, dicom_results.header_of(header, path), None)
