"""One image in, the whole second opinion out: input check, calibrated prediction, Grad-CAM for
every explainable output, lungs and zones, and the words for them. The logic behind the app's
worker thread, its dock and worklist, and the PDF, usable without Qt (like a 3D Slicer Logic class):
each wording rule lives here once, so the dock, the worklist and the PDF cannot disagree."""

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xraydesk.ai.gate import ACCEPTED, InputCheck
from xraydesk.ai.lung_check import PLAUSIBLE, LungMaskCheck
from xraydesk.ai.model import (
    ChestXRayModel,
    ModelUnavailableError,
    Prediction,
    installed_model_version,
    outcome_flags,
)
from xraydesk.ai.outputs import CAUSES, EXTENT_MAX, LUNG_SCORE_MAX
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE
from xraydesk.ai.zones import lung_mask, zone_labels
from xraydesk.imaging import XRayImage
from xraydesk.imaging.study_order import header_time

HEATMAP_TARGETS = ("pneumonia", *CAUSES)
TARGET_NAMES = {"pneumonia": "Pneumonia", "bacterial": "Bacterial", "viral": "Viral", "covid": "COVID-19"}
SIX_ZONE_EVIDENCE = ("Published evidence, not a prediction for this patient (Toussie et al., Radiology 2020; "
                     "adults 21-50 years with COVID-19): a six-zone score of 2 or more was associated with "
                     "hospital admission, 3 or more with intubation.")
COVID_CAVEAT = ("Caveat: the COVID-19 output was trained on collections in which the COVID-19 films come from "
                "other hospitals than the non-COVID films, so it partly recognises the collection. "
                "It is not a test for COVID-19.")
POSITIVE_NO_ZONES = ("Pneumonia likely, yet no zone reaches the zone operating point: the opacity may be faint or "
                     "diffuse, or the pneumonia call may be wrong. Check the film.")

# The RSNA consensus categories for COVID-19 on chest radiographs (Simpson et al., Radiology:
# Cardiothoracic Imaging 2020), worded as published.
TYPICAL = "Typical appearance for COVID-19 pneumonia"
INDETERMINATE_APPEARANCE = "Indeterminate appearance for COVID-19 pneumonia"
ATYPICAL = "Atypical appearance for COVID-19 pneumonia"
NEGATIVE_FOR_PNEUMONIA = "Negative for pneumonia"
COVID_CATEGORY_SOURCE = "COVID-19, RSNA consensus category (Simpson et al. 2020)"

PNEUMONIA_LIKELY = "Pneumonia likely"
PNEUMONIA_UNLIKELY = "Pneumonia unlikely"
PNEUMONIA_INDETERMINATE = "Indeterminate for pneumonia"
FLAG_WORDS = {  # short forms for the worklist; the dock and PDF explain each flag in full (flag_statements)
    "unfamiliar": "unfamiliar image",
    "lung_mask_failed": "lung mask implausible",
    "borderline_pneumonia": "in the borderline band",
    "borderline_covid": "COVID-19 borderline",
    "positive_no_zones": "no zone positive",
}


@dataclass(frozen=True)
class StudyIdentity:
    """Who and what the image is: shown in the worklist, removed from de-identified reports."""
    path: Path
    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    study_description: str = ""
    modality: str = ""
    study_uid: str = ""  # the study the image belongs to (the severity trend has one point per study)
    series_uid: str = ""
    study_time: str = ""  # DICOM TM (xraydesk.imaging.study_order.header_time), orders two studies of one day

    @classmethod
    def of(cls, image: XRayImage) -> "StudyIdentity":
        study_time = header_time(image.dataset) if image.dataset is not None else ""
        return cls(image.path, image.patient_name, image.patient_id, image.study_date,
                   image.study_description, image.modality or image.source_format, image.study_uid,
                   image.series_uid, study_time)


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

    @classmethod
    def of_outcome(cls, identity: StudyIdentity, model: ChestXRayModel, outcome, heatmaps: dict[str, np.ndarray],
                   seconds: float = 0.0) -> "ImageAnalysis":
        """A model outcome (ChestXRayModel.analyse_inputs) with its heatmaps, for one image."""
        analysed = outcome.prediction is not None
        return cls(identity, model.version, model.metadata["operating_points"], outcome.check, outcome.prediction,
                   heatmaps if analysed else {},
                   np.round(outcome.lung_probability * 255).astype(np.uint8) if analysed else None, seconds,
                   outcome.lung_check)

    @property
    def path(self) -> Path:
        return self.identity.path

    @property
    def lung_mask(self) -> np.ndarray | None:
        return None if self.lung_probability is None else lung_mask(self.lung_probability / 255.0)

    @property
    def zone_labels(self) -> np.ndarray | None:
        return None if self.lung_mask is None else zone_labels(self.lung_mask)

    @property
    def severity_withheld(self) -> bool:
        """Zones, six-zone score, extent and opacity are not shown: the lung mask they rest on is implausible."""
        return not self.lung_check.plausible

    @property
    def flags(self) -> tuple[str, ...]:
        return outcome_flags(self.check, self.prediction, self.lung_check)

    @property
    def reading(self) -> str:
        return reading(self)


def most_likely_cause(prediction: Prediction) -> str:
    """Bacterial or viral: COVID-19 is spoken of only through its RSNA category (covid_category)."""
    return "bacterial" if prediction.p_bacterial > prediction.p_viral else "viral"


def pneumonia_call(prediction: Prediction) -> str:
    """Likely / unlikely only outside the borderline band around the operating point."""
    if prediction.pneumonia_borderline:
        return PNEUMONIA_INDETERMINATE
    return PNEUMONIA_LIKELY if prediction.pneumonia_positive else PNEUMONIA_UNLIKELY


def reading(analysis: ImageAnalysis) -> str:
    """The model's answer in one line of words."""
    prediction = analysis.prediction
    if prediction is None:
        return f"Not analysed: {analysis.check.reason}."
    call = pneumonia_call(prediction)
    words = (f"{call} — p = {prediction.p_pneumonia:.2f}, "
             f"threshold {analysis.operating_points['pneumonia']['threshold']:.2f}")
    if call == PNEUMONIA_LIKELY:
        cause = most_likely_cause(prediction)
        other = "viral" if cause == "bacterial" else "bacterial"
        words += f"; pattern more like {cause} than {other} pneumonia"
    return words + "."


def covid_category(prediction: Prediction, operating_points: dict) -> str:
    """The RSNA consensus category the COVID-19 output falls in (Simpson et al. 2020)."""
    if prediction.pneumonia_borderline:
        return INDETERMINATE_APPEARANCE
    if not prediction.pneumonia_positive:
        return NEGATIVE_FOR_PNEUMONIA
    if prediction.p_covid >= operating_points["covid"]["threshold"] and not prediction.covid_borderline:
        return TYPICAL
    if prediction.covid_borderline or prediction.p_covid >= operating_points["covid_atypical"]["threshold"]:
        return INDETERMINATE_APPEARANCE
    return ATYPICAL


def covid_category_line(analysis: ImageAnalysis) -> str:
    """Shown, like the COVID-19 number, only with COVID_CAVEAT beside it."""
    return f"{COVID_CATEGORY_SOURCE}: {covid_category(analysis.prediction, analysis.operating_points)}."


def _band_words(name: str, probability: float, point: dict) -> str:
    low, high = point["band"]
    return (f"{name} {probability:.2f} lies in the borderline band {low:.2f}-{high:.2f} around the operating "
            f"point {point['threshold']:.2f}: no call is made on it.")


def flag_statements(analysis: ImageAnalysis) -> list[str]:
    """Each raised flag (model.outcome_flags) explained in a sentence, in FLAGS order."""
    return [flag_statement(flag, analysis) for flag in analysis.flags]


def flag_statement(flag: str, analysis: ImageAnalysis) -> str:
    prediction, points = analysis.prediction, analysis.operating_points
    match flag:
        case "unfamiliar":
            return analysis.check.unfamiliar[:1].upper() + analysis.check.unfamiliar[1:] + "."
        case "lung_mask_failed":
            reason = analysis.lung_check.reason or "it failed the quality check"
            return f"Lung mask implausible ({reason}): zones, six-zone score, extent and opacity are withheld."
        case "borderline_pneumonia":
            return _band_words("p(pneumonia)", prediction.p_pneumonia, points["pneumonia"])
        case "borderline_covid":
            return _band_words("p(COVID-19)", prediction.p_covid, points["covid"])
        case "positive_no_zones":
            return POSITIVE_NO_ZONES
    raise ValueError(f"unknown flag {flag!r}")


def six_zone_words(analysis: ImageAnalysis) -> str:
    if analysis.severity_withheld:
        return "Six-zone score: withheld (lung mask implausible)"
    return f"Six-zone score: {analysis.prediction.six_zone_score} / 6"


def severity_lines(analysis: ImageAnalysis) -> list[str]:
    """Extent and opacity, per lung (patient's right, left; 0-4 each) and summed (0-8); none when withheld."""
    if analysis.severity_withheld:
        return []
    prediction = analysis.prediction
    return [f"{name}: {total:.1f} / {EXTENT_MAX:.0f}   (right {right:.1f}, left {left:.1f}; "
            f"0-{LUNG_SCORE_MAX:.0f} each)"
            for name, total, (right, left) in (
                ("Geographic extent", prediction.geographic_extent, prediction.lung_extent),
                ("Degree of opacity", prediction.opacity_score, prediction.lung_opacity))]


def evidence_note(analysis: ImageAnalysis) -> str | None:
    """The Toussie note, only where it applies: a six-zone score of 2 or more on a plausible lung mask."""
    if analysis.severity_withheld or analysis.prediction.six_zone_score < 2:
        return None
    return SIX_ZONE_EVIDENCE


def worklist_status(analysis: ImageAnalysis) -> str:
    """The call and the raised flags in short words (the worklist's status column)."""
    return "; ".join([pneumonia_call(analysis.prediction), *(FLAG_WORDS[flag] for flag in analysis.flags)])


def is_flagged(analysis: ImageAnalysis) -> bool:
    """Worth the reader's eyes first (`N`: the next unread flagged image): pneumonia likely or in the
    borderline band, or any caveat raised; refused images are not flagged (nothing to read)."""
    return analysis.prediction is not None and (
        pneumonia_call(analysis.prediction) != PNEUMONIA_UNLIKELY or bool(analysis.flags))


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

    def model_version(self) -> str:
        """Without waiting for a load or an analysis: the loaded model's, else its metadata file's."""
        model = self._model
        return model.version if model is not None else installed_model_version(self.model_dir)

    def model(self) -> ChestXRayModel:
        with self._lock:
            return self._load()

    def _load(self) -> ChestXRayModel:
        if self._load_error is not None:
            raise self._load_error
        if self._model is None:
            from xraydesk.ai.gradcam import GradCam

            try:
                model = ChestXRayModel.load(self.model_dir)
                self._gradcam = GradCam.from_metadata(model.classifier, model.metadata)
            except ModelUnavailableError as error:
                self._load_error = error
                raise
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
            heatmaps = {}
            if outcome.prediction is not None:
                heatmaps = {target: self._gradcam.heatmaps(model_input[None], target)[0] for target in HEATMAP_TARGETS}
        return ImageAnalysis.of_outcome(StudyIdentity.of(image), model, outcome, heatmaps, time.perf_counter() - start)
