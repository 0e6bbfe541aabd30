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
    LUNG_SITE,
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
from xraydesk.dicom_results.report_template import (
    MAX_TEMPLATES,
    Coded,
    Group,
    Num,
    ReportTemplate,
    Text,
    shape_of,
)
from xraydesk.dicom_results.source import (
    CHARACTER_SET,
    MANUFACTURER,
    building,
    derived_uid,
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


def _algorithm(analysis: ImageAnalysis, operating_points: tuple[str, ...]) -> hd.sr.AlgorithmIdentification:
    """The model, with the operating points (and borderline bands) behind the group's calls as parameters."""
    name, version = model_name_and_version(analysis)
    points = analysis.operating_points
    parameters = [f"{target} operating point {points[target]['threshold']:.3f}"
                  + (" (borderline band {:.3f}-{:.3f})".format(*points[target]["band"])
                     if "band" in points[target] else "")
                  for target in operating_points]
    return hd.sr.AlgorithmIdentification(name=name, version=version, parameters=parameters or None,
                                         manufacturer=MANUFACTURER)


def _probability(value: float) -> Num:
    return Num(codes.DCM.Probability, round(value, 4))


def _call(positive: bool, borderline: bool = False) -> Coded:
    return Coded(CALL, BORDERLINE if borderline else POSITIVE if positive else NEGATIVE)


def _outcome_group(analysis: ImageAnalysis) -> Group:
    check = analysis.check
    values = [Coded(INPUT_CHECK, REFUSED if not check.accepted else UNFAMILIAR if check.unfamiliar else ACCEPTED)]
    reason = check.reason or check.unfamiliar
    if reason:
        values.append(Text(REASON, reason))
    for flag in analysis.flags:
        values += [Coded(FLAG, FLAG_CODES[flag]), Text(FLAG_TEXT, flag_statement(flag, analysis))]
    values.append(Text(RESEARCH_USE, RESEARCH_USE_NOTICE))
    return Group(OUTCOME_GROUP, (), None, None, tuple(values))


def _probability_groups(analysis: ImageAnalysis) -> list[Group]:
    prediction = analysis.prediction
    probabilities = {"abnormal": prediction.p_abnormal, "pneumonia": prediction.p_pneumonia,
                     "normal": prediction.p_normal,
                     "bacterial": prediction.p_bacterial, "viral": prediction.p_viral, "covid": prediction.p_covid}
    extra = {
        "abnormal": (_call(prediction.abnormal_positive, prediction.abnormal_borderline),
                     Coded(NORMAL_RULEOUT, CLEARED if prediction.normal_ruleout else NOT_CLEARED),
                     Text(ANSWER, answer(prediction)), Text(DRAFT_REPORT, draft_report(analysis))),
        "pneumonia": (_call(prediction.pneumonia_positive, prediction.pneumonia_borderline),
                      Text(READING, reading(analysis))),
        "covid": (Text(codes.DCM.Comment, COVID_CAVEAT),),  # the COVID-19 figure never goes alone
    }
    points = {"pneumonia": ("pneumonia",), "abnormal": ("abnormal", "normal_ruleout")}
    return [Group(tracking, points.get(target, ()), finding, (LUNG_SITE,), (_probability(probabilities[target]),
                                                                   *extra.get(target, ())))
            for target, (tracking, finding) in FINDINGS.items()]


def _zone_groups(analysis: ImageAnalysis) -> list[Group]:
    prediction = analysis.prediction
    return [Group(ZONE_GROUP.format(zone), ("zone",), codes.DCM.Opacity, (ZONE_SITES[zone],),
                  (_probability(probability), _call(positive)))
            for zone, probability, positive in zip(ZONES, prediction.zone_probabilities, prediction.zone_positive)]


def _severity_group(analysis: ImageAnalysis) -> Group:
    if analysis.severity_withheld:
        withheld = [Text(codes.DCM.Comment, flag_statement("lung_mask_failed", analysis))]
        if analysis.lung_check.reason:  # the figure that failed, for whoever reads the result back
            withheld.append(Text(REASON, analysis.lung_check.reason))
        return Group(SEVERITY_GROUP, (), codes.DCM.Opacity, (LUNG_SITE,), tuple(withheld))
    prediction = analysis.prediction
    values = [Num(SIX_ZONE_SCORE, prediction.six_zone_score)]
    for name, total, per_lung in ((GEOGRAPHIC_EXTENT, prediction.geographic_extent, prediction.lung_extent),
                                  (OPACITY_SCORE, prediction.opacity_score, prediction.lung_opacity)):
        values.append(Num(name, round(total, 2)))
        values += [Num(name, round(value, 2), site) for value, site in zip(per_lung, LUNG_SITES)]
    note = evidence_note(analysis)
    if note:
        values.append(Text(codes.DCM.Comment, note))
    return Group(SEVERITY_GROUP, (), codes.DCM.Opacity, (LUNG_SITE,), tuple(values))


def measurement_groups(analysis: ImageAnalysis) -> list[Group]:
    """What the report says of `analysis`, group by group, as plain values (see the module docstring)."""
    groups = [_outcome_group(analysis)]
    if analysis.prediction is not None:
        groups += _probability_groups(analysis)
        if not analysis.severity_withheld:
            groups += _zone_groups(analysis)
        groups.append(_severity_group(analysis))
    return groups


def _highdicom_group(analysis: ImageAnalysis, group: Group, tracking_uid: str
                     ) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=tracking_uid, identifier=group.tracking),
        finding_type=group.finding, finding_sites=group.sites,
        algorithm_id=_algorithm(analysis, group.operating_points),
        measurements=[hd.sr.Measurement(value.name, value.value, NO_UNITS,
                                        finding_sites=[value.site] if value.site else None)
                      for value in group.measurements] or None,
        qualitative_evaluations=[TextEvaluation(value.name, value.value) if isinstance(value, Text) else
                                 hd.sr.QualitativeEvaluation(value.name, value.value)
                                 for value in group.evaluations] or None)


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


def structured_report(analysis: ImageAnalysis, source: Dataset) -> Dataset:
    """The TID 1500 report of `analysis` for the image whose header is `source` (see the module
    docstring), the same as structured_report_by_highdicom's in a tenth of the time: highdicom makes
    the document from the header (patient, study, evidence, image library) for each film, and its
    measurement groups are filled into the tree highdicom built and validated for the first report of
    the same shape (report_template). A plain Dataset whose content tree is held encoded, as a file's
    is (pydicom reads it when asked); highdicom's reading of it is hd.sr.srread's."""
    header = header_of(source, analysis.path)
    groups = measurement_groups(analysis)
    with building("structured report", analysis.path):
        template = _template(analysis, header, groups)
        images = _image_library(header)
        report = _document(analysis, header, template.content(list(hd.sr.ImageLibrary(images)) if images else []))
        report.ContentSequence.append(template.filled(groups, _tracking_uids(report.SOPInstanceUID, groups)))
    return template.with_encoded_content(report)  # (highdicom's own content tree lacks the groups added above)


def structured_report_by_highdicom(analysis: ImageAnalysis, source: Dataset) -> hd.sr.ComprehensiveSR:
    """The report of structured_report built by highdicom throughout, every content item validated."""
    header = header_of(source, analysis.path)
    groups = measurement_groups(analysis)
    with building("structured report", analysis.path):
        report = _measurement_report(analysis, header, groups, _tracking_uids(_sr_uids(header, analysis)[1], groups))
        return _document(analysis, header, report[0])


def _template(analysis: ImageAnalysis, header: Dataset, groups: list[Group]) -> ReportTemplate:
    """The template of this shape of report, made (and the whole report validated by highdicom) the
    first time it is asked for."""
    shape = shape_of(analysis.model_version, analysis.operating_points, groups)
    if shape not in _TEMPLATES:
        if len(_TEMPLATES) >= MAX_TEMPLATES:
            _TEMPLATES.clear()
        report = _measurement_report(analysis, header, groups, _tracking_uids(_sr_uids(header, analysis)[1], groups))
        _document(analysis, header, report[0])
        _TEMPLATES[shape] = ReportTemplate(report[0], groups)
    return _TEMPLATES[shape]


_TEMPLATES: dict[tuple, ReportTemplate] = {}


def _measurement_report(analysis: ImageAnalysis, header: Dataset, groups: list[Group], tracking_uids: list[str]
                        ) -> hd.sr.MeasurementReport:
    context = hd.sr.ObservationContext(observer_device_context=device_observer(analysis.model_version))
    return hd.sr.MeasurementReport(
        observation_context=context, procedure_reported=PLAIN_CHEST_XRAY,
        imaging_measurements=[_highdicom_group(analysis, group, uid) for group, uid in zip(groups, tracking_uids)],
        referenced_images=_image_library(header))


def _tracking_uids(sop_uid: str, groups: list[Group]) -> list[str]:
    """One per group, derived from the report's own UID as the report's are from its source's: the same
    report made again is the very same object."""
    return [derived_uid(sop_uid, group.tracking) for group in groups]


def _sr_uids(header: Dataset, analysis: ImageAnalysis) -> tuple[str, str]:
    return result_uids(header, analysis, SR_KIND)


def _document(analysis: ImageAnalysis, header: Dataset, content: Dataset) -> hd.sr.ComprehensiveSR:
    series_uid, sop_uid = _sr_uids(header, analysis)
    return hd.sr.ComprehensiveSR(
        evidence=[header], content=content, series_instance_uid=series_uid, series_number=SR_SERIES_NUMBER,
        sop_instance_uid=sop_uid, instance_number=1, manufacturer=MANUFACTURER, is_complete=True,
        series_description=SR_SERIES_DESCRIPTION, manufacturer_model_name=MANUFACTURER,
        software_versions=software_versions(analysis), coding_schemes=[CODING_SCHEME],
        specific_character_set=CHARACTER_SET)
