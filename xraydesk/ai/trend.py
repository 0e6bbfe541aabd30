"""A patient's course over time (no Qt): one point per study, and the change since the prior in words.

Studies belong to one patient when their Patient ID is the same (images without one join no trend) and
are ordered, and their prior found, by the rule of xraydesk.imaging.study_order (date, then time), the
compare view's; a study without a readable date is left out (it cannot be placed). A study is one
StudyKeys.study (its Study Instance UID, its folder where the file has none).

One image stands for a study (STUDY_SUMMARY): of its analysed images (accepted by the input check, so
frontal: laterals are refused), those with a plausible lung mask come first, and of those the one with
the highest p(pneumonia). A second opinion should not understate a study, and a film whose severity
is withheld cannot carry the extent; when every film of a study has its severity withheld, the point
keeps p(pneumonia) and says so.

A change is "worse" or "improving" (p(pneumonia): "higher" or "lower") only when it is at least the
measured error on repeated readings (ChangeLimits, stored in the model's metadata by
xraydesk.training.trend_report); smaller changes are "no clear change"."""

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.ai.model import ModelUnavailableError, sigmoid
from xraydesk.ai.outputs import EXTENT_MAX
from xraydesk.ai.words import probability
from xraydesk.imaging import study_order
from xraydesk.imaging.study_order import StudyMoment

MEASURES = ("geographic_extent", "six_zone_score", "p_pneumonia")
MEASURE_NAMES = {"geographic_extent": "extent", "six_zone_score": "six-zone score", "p_pneumonia": "p(pneumonia)"}
VALUE_FORMATS = {"geographic_extent": "{:.1f}", "six_zone_score": "{:.0f}", "p_pneumonia": "{:.2f}"}
SEVERITY_MEASURES = ("geographic_extent", "six_zone_score")  # withheld with an implausible lung mask
# The trend chart, in the dock and on the PDF page: a panel per measure (MEASURES order), its title,
# highest value and colour; the current study is marked in CURRENT_STUDY_COLOUR.
CHART_PANELS = {"geographic_extent": (f"Extent (0-{EXTENT_MAX:g})", EXTENT_MAX, "#4e79a7"),
                "six_zone_score": ("Six-zone score (0-6)", 6.0, "#e15759"),
                "p_pneumonia": ("p(pneumonia)", 1.0, "#59a14f")}
CURRENT_STUDY_COLOUR = "#f28e2b"
WORSE, IMPROVING, NO_CLEAR_CHANGE = "worse", "improving", "no clear change"
# p(pneumonia) says how likely pneumonia is, not how severe it is: it goes higher or lower
DIRECTION_WORDS = {"geographic_extent": (WORSE, IMPROVING), "six_zone_score": (WORSE, IMPROVING),
                   "p_pneumonia": ("higher", "lower")}
PROBABILITY_RESOLVED = (0.01, 0.99)  # beyond these the calibrated probability says no more (see judged_scale)
NOT_JUDGED = "not judged (severity withheld: lung mask implausible)"
STUDY_SUMMARY = ("Each study is shown by one image: of its analysed films, one with a plausible lung mask, "
                 "and of those the highest p(pneumonia).")


@dataclass(frozen=True)
class ChangeLimits:
    """The smallest change of each measure called a change, on judged_scale."""
    geographic_extent: float
    six_zone_score: float
    p_pneumonia: float

    @classmethod
    def from_metadata(cls, metadata: dict) -> "ChangeLimits":
        try:
            limits = metadata["trend"]["no_clear_change"]
            return cls(**{measure: float(limits[measure]) for measure in MEASURES})
        except (KeyError, TypeError, ValueError) as error:
            raise ModelUnavailableError(
                f"the model's metadata has no trend limits (missing {error}); run "
                "`python -m xraydesk.training.trend_report --write-metadata --models DIR` to measure them") from error

    def meaning(self) -> str:
        return (f"\"No clear change\": a change smaller than the measured error on repeated readings of one film: "
                f"extent {self.geographic_extent:.2f}, six-zone score {self.six_zone_score:.2f}, p(pneumonia) "
                f"{self.p_pneumonia:.2f} in logit (e.g. 0.50 to {float(sigmoid(self.p_pneumonia)):.2f}). Each is the "
                f"larger of the spread between two radiologists and between the model's readings of a film and of a "
                f"slightly moved, re-exposed view of it, measured on validation films (see the model card).")


def judged_scale(measure: str, value):
    """The scale a change is judged (and its limit measured) on: the scores as they are; p(pneumonia) as a
    logit, on which the model's repeat error is about the same over the range (in probability it shrinks
    towards 0 and 1, so one limit in probability would be too strict near 0.5 or too loose near 1), held
    within PROBABILITY_RESOLVED: calibration is fitted and checked in tenths, and 0.995 against 0.9995 is a
    large step in logit that no figure supports. Takes floats or NumPy arrays."""
    if measure != "p_pneumonia":
        return value
    p = np.clip(value, *PROBABILITY_RESOLVED)
    return np.log(p / (1 - p))


def verdict(measure: str, before: float, after: float, limits: "ChangeLimits") -> str:
    change = float(judged_scale(measure, after) - judged_scale(measure, before))
    if abs(change) < getattr(limits, measure):
        return NO_CLEAR_CHANGE
    higher, lower = DIRECTION_WORDS[measure]
    return higher if change > 0 else lower


@dataclass(frozen=True)
class StudyPoint:
    when: StudyMoment
    study_key: str  # StudyKeys.study: the Study Instance UID, or the folder where the file has none
    analysis: ImageAnalysis  # the image that stands for the study (STUDY_SUMMARY)
    paths: tuple[Path, ...]  # every analysed image of the study

    @property
    def moment(self) -> datetime.datetime:
        """On the chart's time axis."""
        return self.when.as_datetime()

    @property
    def date(self) -> datetime.date:
        return self.when.date

    @property
    def severity_withheld(self) -> bool:
        return self.analysis.severity_withheld

    def value(self, measure: str) -> float | None:
        """None where the severity is withheld."""
        if measure in SEVERITY_MEASURES and self.severity_withheld:
            return None
        return float(getattr(self.analysis.prediction, measure))


@dataclass(frozen=True)
class Trend:
    patient_id: str
    studies: tuple[StudyPoint, ...]  # oldest first

    def study_index(self, path: Path) -> int | None:
        """The study holding the image at `path` (the current study when that image is on screen)."""
        return next((index for index, study in enumerate(self.studies) if path in study.paths), None)

    def prior_index(self, current: int) -> int | None:
        """The prior of studies[current] (xraydesk.imaging.study_order), None without one."""
        return study_order.prior_index([study.when for study in self.studies], current)

    def date_label(self, study: StudyPoint, deidentify: bool = False) -> str:
        """The study's date, or in de-identified output its day counted from the first study."""
        if deidentify:
            return f"day {(study.date - self.studies[0].date).days}"
        return study.date.isoformat()


def _representative(analyses: list[ImageAnalysis]) -> ImageAnalysis:
    return max(analyses, key=lambda a: (not a.severity_withheld, a.prediction.p_pneumonia))


def _study_points(analyses: list[ImageAnalysis]) -> list[StudyPoint]:
    by_study: dict[str, list[ImageAnalysis]] = {}
    for analysis in analyses:
        by_study.setdefault(analysis.identity.keys.study, []).append(analysis)
    points = []
    for study_key, members in by_study.items():
        when = StudyMoment.of_study((member.identity.keys.study_date, member.identity.keys.time_of_study)
                                    for member in members)
        if when is not None:
            points.append(StudyPoint(when, study_key, _representative(members), tuple(a.path for a in members)))
    return sorted(points, key=lambda point: (point.when.sort_key, point.study_key))


def patient_trends(analyses: list[ImageAnalysis]) -> dict[str, Trend]:
    """Patient ID -> the course of each patient with two or more analysed, dated studies (in the order
    the patients first appear in `analyses`)."""
    by_patient: dict[str, list[ImageAnalysis]] = {}
    for analysis in analyses:
        patient_id = analysis.identity.keys.patient_id
        if analysis.prediction is not None and patient_id:
            by_patient.setdefault(patient_id, []).append(analysis)
    trends = {patient: Trend(patient, tuple(_study_points(members))) for patient, members in by_patient.items()}
    return {patient: trend for patient, trend in trends.items() if len(trend.studies) >= 2}


def value_words(measure: str, value: float | None) -> str:
    """As shown in the trend; p(pneumonia) as every surface shows a probability (words.probability)."""
    if value is None:
        return "withheld"
    if measure == "p_pneumonia":
        return probability(value)
    return VALUE_FORMATS[measure].format(value)


def change_lines(trend: Trend, limits: ChangeLimits, current: int = -1, deidentify: bool = False) -> list[str]:
    """The change of each measure from the prior of `current` (an index into trend.studies) to it, e.g.
    "extent 5.2 → 3.1 since 2020-04-02, 6 days earlier: improving"; the first line names the prior."""
    current %= len(trend.studies)
    if current == 0:
        return [f"First study of {len(trend.studies)}: no prior to compare with."]
    prior_index = trend.prior_index(current)
    if prior_index is None:
        day = trend.date_label(trend.studies[current], deidentify)
        return [f"No prior to compare with: the headers do not say which study of {day} came first."]
    prior, study = trend.studies[prior_index], trend.studies[current]
    lines = []
    for measure in MEASURES:
        before, after = prior.value(measure), study.value(measure)
        judged = NOT_JUDGED if before is None or after is None else verdict(measure, before, after, limits)
        interval = study_order.interval_words(prior.when, study.when)
        since = f" since {trend.date_label(prior, deidentify)}, {interval}" if not lines else ""
        lines.append(f"{MEASURE_NAMES[measure]} {value_words(measure, before)} → {value_words(measure, after)}"
                     f"{since}: {judged}")
    return lines


def comparison_lines(analyses: Iterable[ImageAnalysis], path: Path,
                     limits: Callable[[], "ChangeLimits | None"]) -> list[str]:
    """The change since the prior study of the image at `path`'s patient (change_lines), or none when
    that study is the patient's first, the patient has one study, or limits() has none to judge by
    (asked only when there is a prior)."""
    for trend in patient_trends(list(analyses)).values():
        index = trend.study_index(path)
        if index:
            known = limits()
            return change_lines(trend, known, index) if known is not None else []
    return []
