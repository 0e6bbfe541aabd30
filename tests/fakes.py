"""A stand-in for the model: known analyses on demand, so window tests control timing and content."""

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from xraydesk.ai.analysis import HEATMAP_TARGETS, Analyser, ImageAnalysis, StudyIdentity
from xraydesk.ai.gate import ACCEPTED, InputCheck
from xraydesk.ai.lung_check import PLAUSIBLE, LungMaskCheck
from xraydesk.ai.model import Prediction, in_band

OPERATING_POINTS = {"normal_ruleout": {"threshold": 0.1},
                    "abnormal": {"threshold": 0.6, "band": [0.55, 0.65]},
                    "pneumonia": {"threshold": 0.5, "band": [0.45, 0.55]},
                    "covid": {"threshold": 0.6, "band": [0.55, 0.65]},
                    "covid_atypical": {"threshold": 0.3},
                    "zone": {"threshold": 0.5}}
ZONES = (0.9, 0.8, 0.2, 0.1, 0.3, 0.6)  # three positive: RU, RM, LL
HOT_CELL = (2, 1)  # (row, column) of the 7x7 Grad-CAM grid: the patient's right upper-middle lung


def lungs_224() -> np.ndarray:
    """Two upright rectangles as lungs, 0-255 like the real lung probability."""
    lungs = np.zeros((224, 224), np.uint8)
    lungs[40:190, 30:100] = 255
    lungs[40:190, 124:194] = 255
    return lungs


def prediction(p_pneumonia: float = 0.9, causes: tuple[float, float, float] = (0.2, 0.7, 0.1),
               zones: tuple[float, ...] = ZONES, p_abnormal: float | None = None) -> Prediction:
    """Calls and borderline flags follow OPERATING_POINTS, as the model's would; `causes` are the
    bacterial, viral and COVID-19 shares of p_pneumonia; p_abnormal is at least p_pneumonia."""
    p_bacterial, p_viral, p_covid = (share * p_pneumonia for share in causes)
    points = OPERATING_POINTS
    p_abnormal = max(p_pneumonia, p_abnormal or 0.0)
    return Prediction(p_abnormal=p_abnormal, p_pneumonia=p_pneumonia,
                      p_bacterial=p_bacterial, p_viral=p_viral, p_covid=p_covid,
                      pneumonia_positive=p_pneumonia >= points["pneumonia"]["threshold"],
                      covid_positive=p_covid >= points["covid"]["threshold"],
                      zone_probabilities=zones, zone_positive=tuple(p >= points["zone"]["threshold"] for p in zones),
                      lung_extent=(1.8, 1.4), lung_opacity=(1.2, 0.9),
                      pneumonia_borderline=in_band(p_pneumonia, points["pneumonia"]),
                      covid_borderline=in_band(p_covid, points["covid"]),
                      abnormal_positive=p_abnormal >= points["abnormal"]["threshold"],
                      abnormal_borderline=in_band(p_abnormal, points["abnormal"]),
                      normal_ruleout=(p_abnormal < points["normal_ruleout"]["threshold"]
                                      and p_pneumonia < points["pneumonia"]["band"][0]))


def synthetic_analysis(path: Path, p_pneumonia: float = 0.9, check: InputCheck = ACCEPTED,
                       identity: StudyIdentity | None = None, answer: Prediction | None = None,
                       lung_check: LungMaskCheck = PLAUSIBLE) -> ImageAnalysis:
    """`answer` replaces the prediction made from `p_pneumonia`."""
    heatmap = np.zeros((7, 7), np.float32)
    heatmap[HOT_CELL] = 1.0
    accepted = check.accepted
    return ImageAnalysis(identity or StudyIdentity(Path(path)), "Fake CXR 0.0", OPERATING_POINTS, check,
                         (answer or prediction(p_pneumonia)) if accepted else None,
                         {target: heatmap for target in HEATMAP_TARGETS} if accepted else {},
                         lungs_224() if accepted else None, 0.01, lung_check)


class FakeAnalyser:
    """Analyses with a fixed positive answer per file (p(pneumonia) from its name); can hold every
    analysis until `release()`, wait `delay` seconds each, or raise a given error."""

    def __init__(self, delay: float = 0.0, hold: bool = False, error: Exception | None = None):
        self.is_loaded = True
        self.delay, self.error = delay, error
        self.released = threading.Event()
        if not hold:
            self.released.set()
        self.analysed: list[Path] = []

    def model(self):
        self.is_loaded = True
        return SimpleNamespace(version="Fake CXR 0.0")

    def model_version(self) -> str:
        return "Fake CXR 0.0"

    def release(self) -> None:
        self.released.set()

    with_maps = Analyser.with_maps  # by its own analyse, as the real one

    def analyse(self, image) -> ImageAnalysis:
        self.released.wait(30)
        time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        self.analysed.append(image.path)
        p_pneumonia = 0.56 + (sum(map(ord, image.path.name)) % 40) / 100  # positive above the band, distinct per file
        return synthetic_analysis(image.path, p_pneumonia, identity=StudyIdentity.of(image))


TREND_LIMITS = {"geographic_extent": 1.0, "six_zone_score": 1.0, "p_pneumonia": 0.5}


class TrendLimitsAnalyser(FakeAnalyser):
    """The fake model with "no clear change" limits (TREND_LIMITS) in its metadata, as the shipped model has them."""

    def model(self):
        return SimpleNamespace(version="Fake CXR 0.0", metadata={"trend": {"no_clear_change": TREND_LIMITS}})
