"""The Structured Report is a TID 1500 Imaging Measurement Report in a Comprehensive SR, not a free
Comprehensive SR tree, because the result is what TID 1500 is made for (and what IHE AI Results
uses): numbers with units and coded calls in measurement groups, each with its finding, finding site
and the algorithm that produced it (TID 4019), referencing the image in the image library. A template
lets the archive, viewers and highdicom's own reader find the figures without knowing XRayDesk. The
words with no code (reasons, flag explanations, the reading, caveats) are TEXT qualitative
evaluations, which TID 1501 row 12 allows and highdicom models only as CODE (`TextEvaluation`).
Comprehensive SR rather than Comprehensive 3D SR: there are no coordinates, and more archives and
viewers display it. The measurement groups:

- "Analysis outcome": the input check (accepted / accepted but unfamiliar / refused) and its reason,
  each raised flag (model.FLAGS) with its explanation, and the research-use statement.
- "Abnormal": p(abnormal) (any abnormality), its call at the abnormal operating point, the normal
  rule-out (cleared or not), the answer in the app's words and the draft report.
- "Pneumonia": p(pneumonia-like opacity), the call at the stored operating point (positive, negative,
  or none in the borderline band) and the reading in words; "Normal" (1 - p(abnormal)), "Bacterial
  pneumonia", "Viral pneumonia" and "COVID-19": each output's probability (COVID-19 with its caveat).
- One group per lung zone (RU ... LL): the zone's probability of opacity and its call at the zone
  operating point; and "Severity": the six-zone score (0-6), geographic extent and degree of opacity
  (0-8, and 0-4 per lung). When the lung mask failed its check these are withheld, and "Severity"
  says so and why (the statement, and the failed figure as its REASON).
A refused image gets the "Analysis outcome" group alone.

Codes. Standard: DCM 126000 Imaging Measurement Report, 125007 Measurement Group, 121071 Finding,
122157 Probability, 112001 Opacity, 121106 Comment, 111001/111002/111003 Algorithm Name/Parameters/
Version; SCT 399208008 Plain chest X-ray (procedure reported), 233604007 Pneumonia, 53084003 Bacterial
pneumonia, 75570004 Viral pneumonia, 840539006 COVID-19, 17621005 Normal, 39607008 Lung, 281392002 /
281393007 / 281394001 Upper / Middle / Lower zone of lung, 24028007 Right, 7771000 Left; UCUM 1 (no
units). Private, scheme 99XRAYDESK (declared in the Coding Scheme Identification Sequence), where no
standard code says the same: INPUT-CHECK with ACCEPTED / UNFAMILIAR / REFUSED; REASON; FLAG with
FLAG-UNFAMILIAR / FLAG-LUNG-MASK / FLAG-BORDER-PNEU / FLAG-BORDER-COV / FLAG-NO-ZONES and
FLAG-TEXT; CALL with POSITIVE / NEGATIVE / BORDERLINE; READING; ANSWER; NORMAL-RULEOUT with CLEARED /
NOT-CLEARED; DRAFT-REPORT; SIX-ZONE-SCORE; GEO-EXTENT; OPACITY-SCORE; RESEARCH-USE; SCT 263654008
Abnormal."""

import copy

import highdicom as hd
from highdicom.sr.templates import Template
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from xraydesk import RESEARCH_USE_NOTICE
from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.ai.outputs import ZONES
from xraydesk.ai.words import COVID_CAVEAT, answer, draft_report, evidence_note, flag_statement, reading
from xraydesk.dicom_results.codes import (
    ACCEPTED,
    ANSWER,
    BORDERLINE,
    CALL,
    CLEARED,
    CODING_SCHEME,
    DRAFT_REPORT,
    FINDINGS,
    FLAG,
    FLAG_CODES,
    FLAG_TEXT,
    GEOGRAPHIC_EXTENT,
    INPUT_CHECK,
    LUNG_SITES,
    NEGATIVE,
    NO_UNITS,
    NORMAL_RULEOUT,
    NOT_CLEARED,
    OPACITY_SCORE,
    PLAIN_CHEST_XRAY,
    POSITIVE,
    READING,
    REASON,
    REFUSED,
    RESEARCH_USE,
    SIX_ZONE_SCORE,
    UNFAMILIAR,
    ZONE_SITES,
)
from xraydesk.dicom_results.source import (
    CHARACTER_SET,
    MANUFACTURER,
    building,
    header_of,
    model_name_and_version,
    result_uids,
    software_versions,
)

SR_KIND = "SR"  # the report's kind in its derived UIDs (source.result_uids)
OUTCOME_GROUP, SEVERITY_GROUP, ZONE_GROUP = "Analysis outcome", "Severity", "Zone {}"  # tracking identifiers
SR_SERIES_NUMBER = 9001
SR_SERIES_DESCRIPTION = "XRayDesk AI result - research use only"


class TextEvaluation(hd.sr.QualitativeEvaluation):
    """A TEXT qualitative evaluation (TID 1501 row 12): highdicom builds only the CODE kind."""

    def __init__(self, name: hd.sr.CodedConcept, text: str):
        Template.__init__(self, [hd.sr.TextContentItem(
            name=name, value=text, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)])


def _algorithm(analysis: ImageAnalysis, *operating_points: str) -> hd.sr.AlgorithmIdentification:
    """The model, with the operating points (and borderline bands) behind the group's calls as parameters."""
    name, version = model_name_and_version(analysis)
    points = analysis.operating_points
    parameters = [f"{target} operating point {points[target]['threshold']:.3f}"
                  + (" (borderline band {:.3f}-{:.3f})".format(*points[target]["band"])
                     if "band" in points[target] else "")
                  for target in operating_points]
    return hd.sr.AlgorithmIdentification(name=name, version=version, parameters=parameters or None,
                                         manufacturer=MANUFACTURER)


def _group(tracking: str, algorithm: hd.sr.AlgorithmIdentification, finding=None, sites=None, measurements=None,
           evaluations=None) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=tracking),
        finding_type=finding, finding_sites=sites, algorithm_id=algorithm, measurements=measurements,
        qualitative_evaluations=evaluations)


def _probability(value: float) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=codes.DCM.Probability, value=round(value, 4), unit=NO_UNITS)


def _call(positive: bool, borderline: bool = False) -> hd.sr.QualitativeEvaluation:
    return hd.sr.QualitativeEvaluation(CALL, BORDERLINE if borderline else POSITIVE if positive else NEGATIVE)


def _outcome_group(analysis: ImageAnalysis):
    check = analysis.check
    evaluations = [hd.sr.QualitativeEvaluation(
        INPUT_CHECK, REFUSED if not check.accepted else UNFAMILIAR if check.unfamiliar else ACCEPTED)]
    reason = check.reason or check.unfamiliar
    if reason:
        evaluations.append(TextEvaluation(REASON, reason))
    for flag in analysis.flags:
        evaluations += [hd.sr.QualitativeEvaluation(FLAG, FLAG_CODES[flag]),
                        TextEvaluation(FLAG_TEXT, flag_statement(flag, analysis))]
    evaluations.append(TextEvaluation(RESEARCH_USE, RESEARCH_USE_NOTICE))
    return _group(OUTCOME_GROUP, _algorithm(analysis), evaluations=evaluations)


def _probability_groups(analysis: ImageAnalysis) -> list:
    prediction = analysis.prediction
    probabilities = {"abnormal": prediction.p_abnormal, "pneumonia": prediction.p_pneumonia,
                     "normal": prediction.p_normal,
                     "bacterial": prediction.p_bacterial, "viral": prediction.p_viral, "covid": prediction.p_covid}
    extra = {
        "abnormal": [_call(prediction.abnormal_positive, prediction.abnormal_borderline),
                     hd.sr.QualitativeEvaluation(NORMAL_RULEOUT, CLEARED if prediction.normal_ruleout else NOT_CLEARED),
                     TextEvaluation(ANSWER, answer(prediction)),
                     TextEvaluation(DRAFT_REPORT, draft_report(analysis))],
        "pneumonia": [_call(prediction.pneumonia_positive, prediction.pneumonia_borderline),
                      TextEvaluation(READING, reading(analysis))],
        "covid": [TextEvaluation(codes.DCM.Comment, COVID_CAVEAT)],  # the COVID-19 figure never goes alone
    }
    points = {"pneumonia": ("pneumonia",), "abnormal": ("abnormal", "normal_ruleout")}
    return [_group(tracking, _algorithm(analysis, *points.get(target, ())),
                   finding, [hd.sr.FindingSite(codes.SCT.Lung)], [_probability(probabilities[target])],
                   extra.get(target))
            for target, (tracking, finding) in FINDINGS.items()]


def _zone_groups(analysis: ImageAnalysis) -> list:
    prediction, algorithm = analysis.prediction, _algorithm(analysis, "zone")
    return [_group(ZONE_GROUP.format(zone), algorithm, codes.DCM.Opacity, [ZONE_SITES[zone]], [_probability(probability)],
                   [_call(positive)])
            for zone, probability, positive in zip(ZONES, prediction.zone_probabilities, prediction.zone_positive)]


def _severity_group(analysis: ImageAnalysis) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    lungs, algorithm = [hd.sr.FindingSite(codes.SCT.Lung)], _algorithm(analysis)
    if analysis.severity_withheld:
        withheld = [TextEvaluation(codes.DCM.Comment, flag_statement("lung_mask_failed", analysis))]
        if analysis.lung_check.reason:  # the figure that failed, for whoever reads the result back
            withheld.append(TextEvaluation(REASON, analysis.lung_check.reason))
        return _group(SEVERITY_GROUP, algorithm, codes.DCM.Opacity, lungs, evaluations=withheld)
    prediction = analysis.prediction
    measurements = [hd.sr.Measurement(SIX_ZONE_SCORE, prediction.six_zone_score, NO_UNITS)]
    for name, total, per_lung in ((GEOGRAPHIC_EXTENT, prediction.geographic_extent, prediction.lung_extent),
                                  (OPACITY_SCORE, prediction.opacity_score, prediction.lung_opacity)):
        measurements.append(hd.sr.Measurement(name, round(total, 2), NO_UNITS))
        measurements += [hd.sr.Measurement(name, round(value, 2), NO_UNITS, finding_sites=[site])
                         for value, site in zip(per_lung, LUNG_SITES)]
    note = evidence_note(analysis)
    return _group(SEVERITY_GROUP, algorithm, codes.DCM.Opacity, lungs, measurements,
                  [TextEvaluation(codes.DCM.Comment, note)] if note else None)


def measurement_groups(analysis: ImageAnalysis) -> list[hd.sr.MeasurementsAndQualitativeEvaluations]:
    groups = [_outcome_group(analysis)]
    if analysis.prediction is not None:
        groups += _probability_groups(analysis)
        if not analysis.severity_withheld:
            groups += _zone_groups(analysis)
        groups.append(_severity_group(analysis))
    return groups


def device_observer(model_name: str) -> hd.sr.ObserverContext:
    """XRayDesk as the observing device, one Device Observer UID per `model_name` (a model version, or the
    viewer recording a reader's measurements)."""
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=generate_uid(entropy_srcs=[MANUFACTURER, model_name]), name=MANUFACTURER,
        manufacturer_name=MANUFACTURER, model_name=model_name)
    return hd.sr.ObserverContext(observer_type=codes.DCM.Device, observer_identifying_attributes=device)


def _image_library(header: Dataset) -> list[Dataset] | None:
    """The source in the report's image library when it is an image; a non-image object (a report, a
    key object selection) the node was sent is in the evidence only, with the refusal that says why."""
    return [library_entry(header)] if "Rows" in header and "Columns" in header else None


def library_entry(header: Dataset) -> Dataset:
    """The source as highdicom's image library reads it. It describes a projection radiograph by its
    Patient Orientation and Imager Pixel Spacing and fails on the many films that lack them: those
    are listed by SOP class, rows and columns alone."""
    if len(header.get("PatientOrientation") or ()) == 2 and "ImagerPixelSpacing" in header:
        return header
    entry = copy.deepcopy(header)
    entry.Modality = ""  # only what chooses the projection descriptors; the SR's attributes come from `header`
    return entry


def structured_report(analysis: ImageAnalysis, source: Dataset) -> hd.sr.ComprehensiveSR:
    """The TID 1500 report of `analysis` for the image whose header is `source` (see the module
    docstring); highdicom validates it as it builds it."""
    header = header_of(source, analysis.path)
    with building("structured report", analysis.path):
        return _structured_report(analysis, header)


def _structured_report(analysis: ImageAnalysis, header: Dataset) -> hd.sr.ComprehensiveSR:
    series_uid, sop_uid = result_uids(header, analysis, SR_KIND)
    context = hd.sr.ObservationContext(observer_device_context=device_observer(analysis.model_version))
    report = hd.sr.MeasurementReport(
        observation_context=context, procedure_reported=PLAIN_CHEST_XRAY,
        imaging_measurements=measurement_groups(analysis), referenced_images=_image_library(header))
    return hd.sr.ComprehensiveSR(
        evidence=[header], content=report[0], series_instance_uid=series_uid, series_number=SR_SERIES_NUMBER,
        sop_instance_uid=sop_uid, instance_number=1, manufacturer=MANUFACTURER, is_complete=True,
        series_description=SR_SERIES_DESCRIPTION, manufacturer_model_name=MANUFACTURER,
        software_versions=software_versions(analysis), coding_schemes=[CODING_SCHEME],
        specific_character_set=CHARACTER_SET)
