"""One image in, the whole second opinion out: input check, calibrated prediction, Grad-CAM for
every explainable output, lungs and zones, and the words for them. The logic behind the app's
worker thread, its dock and worklist, and the PDF, usable without Qt (like a 3D Slicer Logic class).
The words for an analysis live in `xraydesk.ai.words`."""

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from xraydesk.ai.gate import ACCEPTED, InputCheck
from xraydesk.ai.lung_check import PLAUSIBLE, LungMaskCheck
from xraydesk.ai.model import (
    ChestXRayModel,
    ModelUnavailableError,
    Prediction,
    installed_metadata,
    installed_model_version,
    outcome_flags,
)
from xraydesk.ai.outputs import CAUSES
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE
from xraydesk.ai.zones import lung_mask, zone_labels
from xraydesk.imaging import XRayImage
from xraydesk.imaging.study_keys import StudyKeys

GRADCAM_TARGETS = ("pneumonia", *CAUSES)  # explanations of the classifier's outputs
# "opacity": the localisation head trained on the radiologists' boxes, the map shown by default
HEATMAP_TARGETS = ("opacity", *GRADCAM_TARGETS)
DEFAULT_HEATMAP = HEATMAP_TARGETS[0]
TARGET_NAMES = {"opacity": "Opacity (box-trained)", "pneumonia": "Pneumonia (Grad-CAM)", "bacterial": "Bacterial",
                "viral": "Viral", "covid": "COVID-19"}


AGE_UNITS = {"Y": 1.0, "M": 1 / 12, "W": 7 / 365.25, "D": 1 / 365.25}


def patient_age_years(dataset) -> float | None:
    """Patient's Age (AS, e.g. "058Y", "006M"), else the birth date against the study date."""
    if dataset is None:
        return None
    age = str(dataset.get("PatientAge", "") or "").strip().upper()
    if len(age) >= 2 and age[:-1].isdigit() and age[-1] in AGE_UNITS:
        return int(age[:-1]) * AGE_UNITS[age[-1]]
    birth, study = (str(dataset.get(key, "") or "")[:8] for key in ("PatientBirthDate", "StudyDate"))
    if len(birth) == 8 and len(study) == 8 and birth.isdigit() and study.isdigit():
        return (int(study[:4]) - int(birth[:4])) - (study[4:] < birth[4:])
    return None


@dataclass(frozen=True)
class StudyIdentity:
    """Who and what the image is (its StudyKeys, as the scan read them): shown in the worklist, removed
    from de-identified reports; the severity trend has one point per `keys.study`."""
    path: Path
    keys: StudyKeys = StudyKeys()
    source_format: str = ""  # "DICOM", "PNG" or "JPEG"
    patient_age: float | None = None  # years, from the header; None where unknown (every PNG/JPEG)

    @classmethod
    def of(cls, image: XRayImage) -> "StudyIdentity":
        return cls(image.path, image.keys, image.source_format, patient_age_years(image.dataset))

    @property
    def modality(self) -> str:
        """The header's, or the file's format for PNG/JPEG."""
        return self.keys.modality or self.source_format


@dataclass(frozen=True)
class ImageAnalysis:
    """The model's answer for one image, carrying the image's identity (stale results are dropped
    by comparing it with the image on screen). Maps are on the model's 224x224 input grid, which
    covers the whole image (squashed), so they scale to any image size. `lung_check` is the lung
    mask's quality check: when implausible, zones and severity are withheld (severity_withheld)."""
    identity: StudyIdentity
    model_version: str
    operating_points: dict
    check: InputCheck
    prediction: Prediction | None = None
    heatmaps: dict[str, np.ndarray] = field(default_factory=dict)  # target -> (r, r) in [0, 1], r = the map layer's
    lung_probability: np.ndarray | None = None  # (224, 224) uint8, 0-255
    seconds: float = 0.0
    lung_check: LungMaskCheck = PLAUSIBLE
    # when the AI node made it (its SR's content date and time: xraydesk.dicom_results.node_result);
    # None: analysed here
    from_node_at: datetime | None = None

    @classmethod
    def of_outcome(cls, identity: StudyIdentity, model: ChestXRayModel, outcome, heatmaps: dict[str, np.ndarray],
                   seconds: float = 0.0) -> "ImageAnalysis":
        """A model outcome (ChestXRayModel.analyse_inputs) with its Grad-CAM heatmaps, for one image;
        the box-trained opacity map comes with the outcome."""
        analysed = outcome.prediction is not None
        maps = {"opacity": outcome.opacity_map, **heatmaps} if analysed else {}
        return cls(identity, model.version, model.metadata["operating_points"], outcome.check, outcome.prediction,
                   maps,
                   np.round(outcome.lung_probability * 255).astype(np.uint8) if analysed else None, seconds,
                   outcome.lung_check)

    @property
    def path(self) -> Path:
        return self.identity.path

    # Cached: an overlay asks for them once per line, label and zone (read-only, so no caller can
    # change another's).
    @cached_property
    def lung_mask(self) -> np.ndarray | None:
        return None if self.lung_probability is None else _read_only(lung_mask(self.lung_probability / 255.0))

    @cached_property
    def zone_labels(self) -> np.ndarray | None:
        return None if self.lung_mask is None else _read_only(zone_labels(self.lung_mask))

    @property
    def severity_withheld(self) -> bool:
        """Zones, six-zone score, extent and opacity are not shown: the lung mask they rest on is implausible."""
        return not self.lung_check.plausible

    @property
    def flags(self) -> tuple[str, ...]:
        return outcome_flags(self.check, self.prediction, self.lung_check)

    @property
    def lacks_maps(self) -> bool:
        """An answer without its heatmaps and lung mask (the AI node's, read back from its SR): they are
        computed when an overlay shows them."""
        return self.prediction is not None and self.lung_probability is None

    def with_maps_of(self, computed: "ImageAnalysis") -> "ImageAnalysis":
        """This answer (the AI node's, lacking its maps) with the heatmaps and lung mask of `computed`, an
        analysis of the same image here: the answer stays the one the node gave. As it is when `computed`
        has no maps (refused here)."""
        if computed.lung_probability is None:
            return self
        return replace(self, heatmaps=computed.heatmaps, lung_probability=computed.lung_probability)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def warm_up(model: ChestXRayModel, gradcam=None) -> None:
    """Traces the model's functions (and the Grad-CAM's, if given) now (about 1.5 s), while loading, not in
    the first analysis."""
    blank = np.zeros((1, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 1), np.float32)
    model.analyse_inputs(blank, [ACCEPTED])
    if gradcam is not None:
        gradcam.heatmaps(blank, GRADCAM_TARGETS[0])


class Analyser:
    """Loads the model on first use (in whatever thread calls it first) and analyses images one at
    a time; a lock serialises callers, so a worklist and the image on screen can share one model.
    A model that failed to load keeps failing with the same message rather than retrying per image."""

    def __init__(self, model_dir: Path | str | None = None):
        self.model_dir = model_dir
        self._model: ChestXRayModel | None = None
        self._gradcam = None
        self._load_error: ModelUnavailableError | None = None
        self._lock = threading.Lock()

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    def model_version(self) -> str:
        """Without waiting for a load or an analysis: the loaded model's, else its metadata file's."""
        model = self._model
        return model.version if model is not None else installed_model_version(self.model_dir)

    def model(self) -> ChestXRayModel:
        with self._lock:
            return self._load()

    def metadata(self) -> dict:
        """Without loading the model: the loaded model's metadata, else its metadata file's
        (ModelUnavailableError when unreadable)."""
        model = self._model
        return model.metadata if model is not None else installed_metadata(self.model_dir)

    def _load(self) -> ChestXRayModel:
        if self._load_error is not None:
            raise self._load_error
        if self._model is None:
            from xraydesk.ai.gradcam import GradCam

            try:
                model = ChestXRayModel.load(self.model_dir)
                self._gradcam = GradCam.from_metadata(model.classifiers, model.metadata)
            except ModelUnavailableError as error:
                self._load_error = error
                raise
            warm_up(model, self._gradcam)
            self._model = model
        return self._model

    def analyse(self, image: XRayImage) -> ImageAnalysis:
        from xraydesk.ai.inputs import prepare_image

        start = time.perf_counter()
        model_input, prior_check = prepare_image(image)
        with self._lock:
            model = self._load()
            outcome = model.analyse_inputs(model_input[None], [prior_check])[0]
            heatmaps = {}
            if outcome.prediction is not None:
                heatmaps = {target: self._gradcam.heatmaps(model_input[None], target)[0] for target in GRADCAM_TARGETS}
        return ImageAnalysis.of_outcome(StudyIdentity.of(image), model, outcome, heatmaps, time.perf_counter() - start)

    def with_maps(self, analysis: ImageAnalysis, image: XRayImage) -> ImageAnalysis:
        """`analysis` of `image` with its heatmaps and lung mask: computed now where it lacks them (the AI
        node's answer, before a PDF or a send draws them), by analysing the image (slow: on a worker)."""
        return analysis.with_maps_of(self.analyse(image)) if analysis.lacks_maps else analysis
