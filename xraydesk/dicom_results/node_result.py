"""The AI node's result read back (no Qt): the TID 1500 SR that `xraydesk serve` wrote into an image's
study (structured_report) as the ImageAnalysis the app's dock and worklist show, so that a study
retrieved or received with its results is not analysed again.

Only XRayDesk's own SR of the image by the model version the app has loaded counts: it is found by its
SOP Instance UID, made from the image's and the version's (source.result_uid), and its Manufacturer and
Device Observer Model Name are checked too. A result of another version is not read: the image is
analysed afresh.

Read back: the input check and its reason, each probability (to the SR's four decimals), the calls of
the abnormal and pneumonia outputs and of each zone (a borderline call is told positive or negative by
its probability at the model's operating point, as the model tells it), the normal rule-out, extent and
opacity per lung (two decimals), the lung mask's refusal and its reason, and the content date and time
(ImageAnalysis.from_node_at). The words in the SR (answer, reading, draft) are not parsed: the app makes
them again from these figures, as the node did (xraydesk.ai.words). The COVID-19 calls, which the SR
states only in words, are made again from p(COVID-19) at the model's operating points. Where severity
was withheld, the zones, extent and opacity are not in the SR: the zones are empty and extent and
opacity NaN (nothing shows them). Heatmaps and the lung mask are not in the SR either: the app computes
them when an overlay shows them (ImageAnalysis.lacks_maps)."""

import math
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.valuerep import DA, TM

from xraydesk.ai.analysis import ImageAnalysis, StudyIdentity
from xraydesk.ai.gate import InputCheck
from xraydesk.ai.lung_check import PLAUSIBLE, LungMaskCheck
from xraydesk.ai.model import Prediction, in_band
from xraydesk.ai.outputs import ZONES
from xraydesk.dicom_results.codes import (
    ACCEPTED,
    BORDERLINE,
    CALL,
    CLEARED,
    FINDINGS,
    GEOGRAPHIC_EXTENT,
    INPUT_CHECK,
    NORMAL_RULEOUT,
    OPACITY_SCORE,
    POSITIVE,
    REASON,
    REFUSED,
    SIX_ZONE_SCORE,
    code_key,
    concept_key,
)
from xraydesk.dicom_results.source import ResultsError, result_uid
from xraydesk.dicom_results.structured_report import OUTCOME_GROUP, SEVERITY_GROUP, SR_KIND, ZONE_GROUP
from xraydesk.imaging import ScanEntry
from xraydesk.imaging.header import made_by_xraydesk

WITHHELD = (math.nan, math.nan)  # extent or opacity per lung that the SR withheld


def node_report(image_uid: str, objects: Iterable[ScanEntry], model_version: str) -> Path | None:
    """The file among `objects` (the pixel-less objects of the image's study, as scanned) that holds the
    SR of the image `image_uid` by `model_version`, found by its SOP Instance UID alone."""
    uid = result_uid(image_uid, model_version, SR_KIND)
    return next((entry.path for entry in objects if entry.keys.sop_instance_uid == uid), None)


def is_node_result_of(report: Dataset, image_uid: str, model_version: str) -> bool:
    return (made_by_xraydesk(report) and report.get("SOPInstanceUID") == result_uid(image_uid, model_version, SR_KIND)
            and _observer_model(report) == model_version)


def read_node_result(report: Dataset, identity: StudyIdentity, image_uid: str, model_version: str,
                     operating_points: dict) -> ImageAnalysis | None:
    """The analysis the SR `report` holds of the image `image_uid` (whose identity is `identity`), or None
    when it is not XRayDesk's SR of that image by `model_version`; `operating_points`: that model's.
    Raises ResultsError for one whose content is not as structured_report writes it."""
    if not is_node_result_of(report, image_uid, model_version):
        return None
    try:
        groups = _groups(report)
        check = _input_check(groups[OUTCOME_GROUP])
        prediction, lung_check = _prediction(groups, operating_points) if check.accepted else (None, PLAUSIBLE)
        made = datetime.combine(DA(report.ContentDate), TM(report.ContentTime))
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as error:
        raise ResultsError(f"AI result {report.get('SOPInstanceUID', '')}",
                           f"not readable as XRayDesk's AI result ({type(error).__name__}: {error})") from error
    return ImageAnalysis(identity, model_version, operating_points, check, prediction, lung_check=lung_check,
                         from_node_at=made)


def _observer_model(report: Dataset) -> str | None:
    return next((str(item.TextValue) for item in report.get("ContentSequence", [])
                 if concept_key(item) == code_key(codes.DCM.DeviceObserverModelName)), None)


def _groups(report: Dataset) -> dict[str, Dataset]:
    """The measurement groups by tracking identifier."""
    measurements = next((item for item in report.ContentSequence
                         if concept_key(item) == code_key(codes.DCM.ImagingMeasurements)), None)
    if measurements is None:
        raise ValueError("no Imaging Measurements in its content")
    return {_text(group, codes.DCM.TrackingIdentifier): group for group in measurements.ContentSequence}


def _items(group: Dataset, name) -> list[Dataset]:
    return [item for item in group.ContentSequence if concept_key(item) == code_key(name)]


def _text(group: Dataset, name) -> str | None:
    return next((str(item.TextValue) for item in _items(group, name)), None)


def _numbers(group: Dataset, name=codes.DCM.Probability) -> list[float]:
    return [float(item.MeasuredValueSequence[0].NumericValue) for item in _items(group, name)]


def _is(group: Dataset, name, value) -> bool:
    """Whether the group's coded evaluation `name` is `value`."""
    return any(_value_key(item) == code_key(value) for item in _items(group, name))


def _value_key(item: Dataset) -> tuple[str, str]:
    code = item.ConceptCodeSequence[0]
    return str(code.CodingSchemeDesignator), str(code.CodeValue)


def _input_check(outcome: Dataset) -> InputCheck:
    reason = _text(outcome, REASON) or ""
    if _is(outcome, INPUT_CHECK, REFUSED):
        return InputCheck(False, reason)
    return InputCheck(True, unfamiliar="" if _is(outcome, INPUT_CHECK, ACCEPTED) else reason)


def _call(group: Dataset, probability: float, point: dict) -> tuple[bool, bool]:
    """(positive, borderline) as the model calls them: the SR's call, or inside the band by the probability."""
    borderline = _is(group, CALL, BORDERLINE)
    return (probability >= point["threshold"] if borderline else _is(group, CALL, POSITIVE)), borderline


def _prediction(groups: dict[str, Dataset], points: dict) -> tuple[Prediction, LungMaskCheck]:
    p = {target: _numbers(groups[tracking])[0] for target, (tracking, _) in FINDINGS.items()}
    abnormal, pneumonia = (groups[FINDINGS[target][0]] for target in ("abnormal", "pneumonia"))
    severity = groups[SEVERITY_GROUP]
    pneumonia_positive, pneumonia_borderline = _call(pneumonia, p["pneumonia"], points["pneumonia"])
    abnormal_positive, abnormal_borderline = _call(abnormal, p["abnormal"], points["abnormal"])
    withheld = not _items(severity, SIX_ZONE_SCORE)
    zones = [] if withheld else [groups[ZONE_GROUP.format(zone)] for zone in ZONES]
    per_lung = {name: WITHHELD if withheld else tuple(_numbers(severity, name)[1:3])  # after the total: right, left
                for name in (GEOGRAPHIC_EXTENT, OPACITY_SCORE)}
    prediction = Prediction(
        p_abnormal=p["abnormal"], p_pneumonia=p["pneumonia"], p_bacterial=p["bacterial"], p_viral=p["viral"],
        p_covid=p["covid"], pneumonia_positive=pneumonia_positive,
        covid_positive=p["covid"] >= points["covid"]["threshold"],
        zone_probabilities=tuple(_numbers(zone)[0] for zone in zones),
        zone_positive=tuple(_is(zone, CALL, POSITIVE) for zone in zones),
        lung_extent=per_lung[GEOGRAPHIC_EXTENT], lung_opacity=per_lung[OPACITY_SCORE],
        pneumonia_borderline=pneumonia_borderline, covid_borderline=in_band(p["covid"], points["covid"]),
        abnormal_positive=abnormal_positive, abnormal_borderline=abnormal_borderline,
        normal_ruleout=_is(abnormal, NORMAL_RULEOUT, CLEARED))
    return prediction, LungMaskCheck(False, _text(severity, REASON) or "") if withheld else PLAUSIBLE
