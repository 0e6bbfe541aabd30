"""One image in, the whole second opinion out: input check, calibrated prediction, Grad-CAM for
every explainable output, lungs and zones. The logic behind the app's worker thread and the PDF,
usable without Qt (like a 3D Slicer Logic class)."""

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xraydesk.ai.gate import ACCEPTED, InputCheck
from xraydesk.ai.model import ChestXRayModel, ModelUnavailableError, Prediction
from xraydesk.ai.outputs import CAUSES
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE
from xraydesk.ai.severity import LUNG_THRESHOLD
from xraydesk.ai.zones import zone_labels
from xraydesk.imaging import XRayImage

HEATMAP_TARGETS = ("pneumonia", *CAUSES)
TARGET_NAMES = {"pneumonia": "Pneumonia", "bacterial": "Bacterial", "viral": "Viral", "covid": "COVID-19"}
CAUSE_WORDS = {"bacterial": "bacterial", "viral": "viral", "covid": "COVID-19"}
SIX_ZONE_EVIDENCE = ("Research evidence (Toussie et al., Radiology 2020; adults 21-50 years with COVID-19): "
                     "a six-zone score of 2 or more was associated with hospital admission, "
                     "3 or more with intubation.")


@dataclass(frozen=True)
class StudyIdentity:
    """Who and what the image is: shown in the worklist, removed from de-identified reports."""
    path: Path
    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    study_description: str = ""
    modality: str = ""

    @classmethod
    def of(cls, image: XRayImage) -> "StudyIdentity":
        return cls(image.path, image.patient_name, image.patient_id, image.study_date,
                   image.study_description, image.modality or image.source_format)


@dataclass(frozen=True)
class ImageAnalysis:
    """The model's answer for one image, carrying the image's identity (stale results are dropped
    by comparing it with the image on screen). Maps are on the model's 224x224 input grid, which
    covers the whole image (squashed), so they scale to any image size."""
    identity: StudyIdentity
    model_version: str
    operating_points: dict
    check: InputCheck
    prediction: Prediction | None = None
    heatmaps: dict[str, np.ndarray] = field(default_factory=dict)  # target -> (7, 7) in [0, 1]
    lung_probability: np.ndarray | None = None  # (224, 224) uint8, 0-255
    seconds: float = 0.0

    @property
    def path(self) -> Path:
        return self.identity.path

    @property
    def lung_mask(self) -> np.ndarray | None:
        return None if self.lung_probability is None else self.lung_probability >= LUNG_THRESHOLD * 255

    @property
    def zone_labels(self) -> np.ndarray | None:
        return None if self.lung_mask is None else zone_labels(self.lung_mask)

    @property
    def reading(self) -> str:
        return reading(self)


def most_likely_cause(prediction: Prediction) -> str:
    probabilities = {"bacterial": prediction.p_bacterial, "viral": prediction.p_viral, "covid": prediction.p_covid}
    return max(probabilities, key=probabilities.get)


def reading(analysis: ImageAnalysis) -> str:
    """The model's answer in one line of words."""
    prediction = analysis.prediction
    if prediction is None:
        return f"Not analysed: {analysis.check.reason}."
    if not prediction.pneumonia_positive:
        return "No pneumonia detected at the operating point."
    cause = most_likely_cause(prediction)
    words = f"Pneumonia likely — pattern most consistent with {CAUSE_WORDS[cause]} pneumonia"
    if prediction.covid_positive and cause != "covid":
        words += "; the COVID-19 output is also above its operating point"
    return words + "."


def probability_rows(analysis: ImageAnalysis) -> list[tuple[str, float, float | None]]:
    """(label, probability, operating point or None) in display order."""
    prediction, points = analysis.prediction, analysis.operating_points
    pneumonia_point = points["pneumonia"]["threshold"]
    return [("Normal", prediction.p_normal, 1.0 - pneumonia_point),
            ("Bacterial", prediction.p_bacterial, None),
            ("Viral", prediction.p_viral, None),
            ("COVID-19", prediction.p_covid, points["covid"]["threshold"]),
            ("Pneumonia (any cause)", prediction.p_pneumonia, pneumonia_point)]


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

    def model(self) -> ChestXRayModel:
        with self._lock:
            return self._load()

    def _load(self) -> ChestXRayModel:
        if self._load_error is not None:
            raise self._load_error
        if self._model is None:
            try:
                model = ChestXRayModel.load(self.model_dir)
            except ModelUnavailableError as error:
                self._load_error = error
                raise
            from xraydesk.ai.gradcam import GradCam

            self._gradcam = GradCam(model.classifier)
            self._warm_up(model)
            self._model = model
        return self._model

    def _warm_up(self, model: ChestXRayModel) -> None:
        """Traces the model's functions now (about 1.5 s), while loading, not in the first analysis."""
        blank = np.zeros((1, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 1), np.float32)
        model.analyse_inputs(blank, [ACCEPTED])
        self._gradcam.heatmaps(blank, HEATMAP_TARGETS[0])

    def analyse(self, image: XRayImage) -> ImageAnalysis:
        from xraydesk.ai.inputs import prepare_image

        start = time.perf_counter()
        model_input, prior_check = prepare_image(image)
        with self._lock:
            model = self._load()
            outcome = model.analyse_inputs(model_input[None], [prior_check])[0]
            heatmaps, lungs = {}, None
            if outcome.prediction is not None:
                heatmaps = {target: self._gradcam.heatmaps(model_input[None], target)[0] for target in HEATMAP_TARGETS}
                lungs = np.round(outcome.lung_probability * 255).astype(np.uint8)
        return ImageAnalysis(StudyIdentity.of(image), model.version, model.metadata["operating_points"],
                             outcome.check, outcome.prediction, heatmaps, lungs, time.perf_counter() - start)
