"""The reader's work on an image as DICOM objects in the image's study (no Qt), written and read back:
its measurements and arrows as a measurement record (a Comprehensive SR), and its key-image mark as a
Key Object Selection document.

Why an SR and not a Grayscale Softcopy Presentation State. What a reader measures is data: a length in
mm, an angle in degrees, a cardiothoracic ratio. A TID 1500 Imaging Measurement Report holds each as a
coded NUM with its UCUM unit *and* the SCOORD graphic it was measured on, referencing the image; an
archive, a report generator or another viewer (OHIF and dcmjs read TID 1500 lengths, angles and
arrows) gets the figure without redrawing anything, and dsrdump prints it. A GSPS holds graphics and
unstructured text only: the CTR would be the string "CTR 0.52", no value, no unit, and reading it back
would mean parsing our own words. A GSPS beside the SR would say the same things twice in two objects
that must be kept in step on every edit (and its window/level, rotation and flip are display choices
this viewer makes afresh for every film, not the reader's findings), so none is written.

The measurement record. A Comprehensive SR (SCOORD is allowed; no 3D coordinates are needed, and more
archives display it than Comprehensive 3D SR) with TID 1500 and one measurement group per item, in the
order made:
- ruler: a TID 1410 planar ROI group, Image Region POLYLINE of its 2 points, NUM Length (SCT 410668003)
  in mm (UCUM "mm"), or in {pixels} on a film without pixel spacing;
- angle: a planar ROI group, POLYLINE arm end - vertex - arm end, NUM Angle (SCT 1483009) in UCUM "deg";
- arrow: a planar ROI group, POLYLINE tip - tail, finding 99XRAYDESK ARROW, its text a TEXT Comment
  (DCM 121106);
- cardiothoracic ratio: a TID 1501 measurement group, finding 99XRAYDESK CTR, NUM Width (SCT 103355008)
  of the Heart (SCT 80891009) and of the Thorax (SCT 816094009), each inferred from its POLYLINE, and NUM
  99XRAYDESK CTR in UCUM "{ratio}"; a CTR pre-filled from the AI lung mask and not yet checked carries
  the qualitative evaluation PLACEMENT = ESTIMATED.
Points are the stored image's pixel coordinates with the top left corner of the top left pixel at 0,0,
as both SCOORD and xraydesk.imaging.measurements count them. Values are written for other readers;
reading back takes the points (and the arrow's text) and the app measures again, so a figure can never
disagree with its graphic.

Versions. Each change is a new instance (an SR is a document: it is amended, never rewritten) in one
series per image, with a deterministic Series Instance UID made from the image's SOP Instance UID, an
Instance Number one above the newest version known, and the version it supersedes in the Predecessor
Documents Sequence. Whoever reads the study takes the newest of the series; an empty record (every
measurement deleted) is a version too, so a deletion is kept. The key-image mark is a Key Object
Selection document titled with the reason (CID 7010: Of Interest, For Teaching, ...) referencing the
image, in a series of its own made the same way; a KOS must reference an image, so taking the mark back
writes nothing (xraydesk.jobs.saved_reading removes the local copies)."""

from collections.abc import Iterable

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ComprehensiveSRStorage, KeyObjectSelectionDocumentStorage, generate_uid

from xraydesk.dicom_results.codes import (
    ARROW,
    CARDIOTHORACIC_RATIO,
    CODING_SCHEME,
    ESTIMATED_FROM_MASK,
    KEY_IMAGE_REASONS,
    NO_MEASUREMENTS,
    PIXELS,
    PLACEMENT,
    PLAIN_CHEST_XRAY,
    code_key,
    concept_key,
)
from xraydesk.dicom_results.source import CHARACTER_SET, MANUFACTURER, ResultsError, building, source_header
from xraydesk.dicom_results.structured_report import TextEvaluation, device_observer, library_entry
from xraydesk.imaging import XRayImage
from xraydesk.imaging.measurements import (
    Angle,
    Arrow,
    CardiothoracicRatio,
    Measurement,
    Ruler,
    Spacing,
    spacing_of,
)

RECORD_SERIES_NUMBER = 9003
RECORD_SERIES_DESCRIPTION = "XRayDesk measurements - research use only"
KEY_SERIES_NUMBER = 9004
KEY_SERIES_DESCRIPTION = "XRayDesk key image"
VIEWER = "XRayDesk viewer"  # the observing device: the reader measured, the viewer recorded it
_RECORD_SEED, _KEY_SEED = "XRayDesk measurement record", "XRayDesk key image"
TRACKING_NAMES = {"ruler": "Ruler", "angle": "Angle", "arrow": "Arrow", "ctr": "Cardiothoracic ratio"}


def record_series_uid(image_uid: str) -> str:
    """The series of every version of the image's measurement record: the same wherever it is made."""
    return generate_uid(entropy_srcs=[_RECORD_SEED, image_uid])


def key_series_uid(image_uid: str) -> str:
    return generate_uid(entropy_srcs=[_KEY_SEED, image_uid])


def version_order(version: Dataset) -> tuple:
    """Sorts the versions of a series: the newest, which supersedes the others, has the highest Instance
    Number, then the latest content date and time."""
    return (int(version.get("InstanceNumber") or 0), str(version.get("ContentDate", "")),
            str(version.get("ContentTime", "")))


# ------------------------------------------------------------ writing


def measurement_record(image: XRayImage, measurements: Iterable[Measurement],
                       previous: Dataset | None = None) -> hd.sr.ComprehensiveSR:
    """The record of `measurements` on `image` (see the module docstring); `previous`: the version it
    supersedes. Raises ResultsError for an image with no DICOM study (PNG, JPEG) or a header highdicom
    cannot use."""
    header = source_header(image)
    with building("measurement record", image.path):
        source = hd.sr.SourceImageForRegion.from_source_image(header)
        spacing = spacing_of(image)
        groups = [_group(measurement, source, spacing) for measurement in measurements] or [_none_group()]
        report = hd.sr.MeasurementReport(
            observation_context=hd.sr.ObservationContext(observer_device_context=device_observer(VIEWER)),
            procedure_reported=PLAIN_CHEST_XRAY, imaging_measurements=groups,
            referenced_images=[library_entry(header)])
        return hd.sr.ComprehensiveSR(
            evidence=[header], content=report[0], series_instance_uid=record_series_uid(header.SOPInstanceUID),
            series_number=RECORD_SERIES_NUMBER, sop_instance_uid=hd.UID(), instance_number=_next_number(previous),
            manufacturer=MANUFACTURER, is_complete=True, series_description=RECORD_SERIES_DESCRIPTION,
            manufacturer_model_name=VIEWER, coding_schemes=[CODING_SCHEME], specific_character_set=CHARACTER_SET,
            previous_versions=[previous] if previous is not None else None)


def key_image_document(image: XRayImage, reason: str, previous: Dataset | None = None,
                       ) -> hd.ko.KeyObjectSelectionDocument:
    """The image as a key image for `reason` (a KEY_IMAGE_REASONS title)."""
    if reason not in KEY_IMAGE_REASONS:
        raise ResultsError(image.path, f"{reason!r} is not a key-image reason ({', '.join(KEY_IMAGE_REASONS)})")
    header = source_header(image)
    with building("key object selection", image.path):
        content = hd.ko.KeyObjectSelection(document_title=KEY_IMAGE_REASONS[reason], referenced_objects=[header],
                                           observer_device_context=device_observer(VIEWER))
        return hd.ko.KeyObjectSelectionDocument(
            evidence=[header], content=content, series_instance_uid=key_series_uid(header.SOPInstanceUID),
            series_number=KEY_SERIES_NUMBER, sop_instance_uid=hd.UID(), instance_number=_next_number(previous),
            manufacturer=MANUFACTURER, series_description=KEY_SERIES_DESCRIPTION,
            specific_character_set=CHARACTER_SET)


def _next_number(previous: Dataset | None) -> int:
    return 1 if previous is None else int(previous.get("InstanceNumber") or 0) + 1


def _region(points, source: hd.sr.SourceImageForRegion) -> hd.sr.ImageRegion:
    return hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                             graphic_data=np.asarray(points, dtype=float), source_image=source)


def _tracking(measurement: Measurement) -> hd.sr.TrackingIdentifier:
    return hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=TRACKING_NAMES[measurement.kind])


def _length_unit(spacing: Spacing | None) -> hd.sr.CodedConcept:
    return PIXELS if spacing is None else codes.UCUM.Millimeter


def _group(measurement: Measurement, source: hd.sr.SourceImageForRegion, spacing: Spacing | None):
    if isinstance(measurement, CardiothoracicRatio):
        return _ratio_group(measurement, source, spacing)
    if isinstance(measurement, Ruler):
        extra = {"measurements": [hd.sr.Measurement(codes.SCT.Length, round(measurement.length(spacing), 2),
                                                    _length_unit(spacing))]}
    elif isinstance(measurement, Angle):
        extra = {"measurements": [hd.sr.Measurement(codes.SCT.Angle, round(measurement.degrees(spacing), 2),
                                                    codes.UCUM.Degree)]}
    else:
        extra = {"finding_type": ARROW, "qualitative_evaluations": [TextEvaluation(codes.DCM.Comment, measurement.text)]
                 if measurement.text else None}
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(measurement), referenced_region=_region(measurement.points, source), **extra)


def _none_group() -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """TID 1500 wants one measurement group at least: a record with none says so in its only group."""
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="No measurements"),
        finding_type=NO_MEASUREMENTS)


def _ratio_group(ratio: CardiothoracicRatio, source: hd.sr.SourceImageForRegion, spacing: Spacing | None):
    heart, thorax = ratio.widths(spacing)
    unit = _length_unit(spacing)
    measurements = [
        hd.sr.Measurement(codes.SCT.Width, round(width, 2), unit, finding_sites=[hd.sr.FindingSite(site)],
                          referenced_coordinates=[hd.sr.CoordinatesForMeasurement(
                              hd.sr.GraphicTypeValues.POLYLINE, np.asarray(points, dtype=float), source)])
        for width, site, points in ((heart, codes.SCT.Heart, ratio.points[:2]),
                                    (thorax, codes.SCT.Thorax, ratio.points[2:]))]
    value = ratio.ratio(spacing)
    if value is not None:
        measurements.append(hd.sr.Measurement(CARDIOTHORACIC_RATIO, round(value, 4), codes.UCUM.Ratio))
    evaluations = [hd.sr.QualitativeEvaluation(PLACEMENT, ESTIMATED_FROM_MASK)] if ratio.estimated else None
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(ratio), finding_type=CARDIOTHORACIC_RATIO, measurements=measurements,
        qualitative_evaluations=evaluations)


# ------------------------------------------------------------ reading


def is_record_of(dataset: Dataset, image_uid: str) -> bool:
    """Whether `dataset` is a version of this image's measurement record (our series for it, an SR)."""
    return (dataset.get("SOPClassUID") == ComprehensiveSRStorage
            and dataset.get("SeriesInstanceUID") == record_series_uid(image_uid))


def is_key_document_of(dataset: Dataset, image_uid: str) -> bool:
    return (dataset.get("SOPClassUID") == KeyObjectSelectionDocumentStorage
            and dataset.get("SeriesInstanceUID") == key_series_uid(image_uid))


def read_measurements(record: Dataset) -> list[Measurement]:
    """The measurements and arrows of a measurement record, in the order they were made. Raises
    ResultsError for an SR that is no TID 1500 report, or whose groups are not of the kinds written here."""
    try:
        content = hd.sr.ComprehensiveSR.from_dataset(record).content
        groups = {group.tracking_uid: group for group in [*content.get_planar_roi_measurement_groups(),
                                                          *content.get_image_measurement_groups()]}
        return [_measurement(group) for group in (groups[uid] for uid in _tracking_uids(record))
                if not _is(group.finding_type, NO_MEASUREMENTS)]
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as error:
        raise ResultsError(f"measurement record {record.get('SOPInstanceUID', '')}",
                           f"not readable as XRayDesk measurements ({type(error).__name__}: {error})") from error


def read_key_reason(document: Dataset) -> str:
    """The reason a key-image document gives: its title (a KEY_IMAGE_REASONS title when written here)."""
    return str(document.ConceptNameCodeSequence[0].CodeMeaning)


def _tracking_uids(record: Dataset) -> list[str]:
    """The groups' Tracking Unique Identifiers in document order (highdicom lists the two kinds apart)."""
    measurements = next((item for item in record.ContentSequence
                         if concept_key(item) == code_key(codes.DCM.ImagingMeasurements)), Dataset())
    return [str(item.UID) for group in measurements.get("ContentSequence", [])
            for item in group.ContentSequence if concept_key(item) == code_key(codes.DCM.TrackingUniqueIdentifier)]


def _points(graphic_data) -> tuple:
    return tuple((float(x), float(y)) for x, y in np.asarray(graphic_data, dtype=float).reshape(-1, 2))


def _is(concept, code) -> bool:
    return concept is not None and code_key(concept) == code_key(code)


def _measurement(group) -> Measurement:
    if _is(group.finding_type, CARDIOTHORACIC_RATIO):
        return _ratio(group)
    points = _points(group.roi.value)
    if _is(group.finding_type, ARROW):
        return Arrow(points, _text_of(group))
    names = {code_key(measurement.name) for measurement in group.get_measurements()}
    if code_key(codes.SCT.Angle) in names:
        return Angle(points)
    if code_key(codes.SCT.Length) in names:
        return Ruler(points)
    raise ValueError(f"group {group.tracking_identifier!r} is neither a ruler, an angle, an arrow nor a CTR")


def _text_of(group) -> str:
    return next((str(item.TextValue) for item in group[0].ContentSequence
                 if item.ValueType == "TEXT" and concept_key(item) == code_key(codes.DCM.Comment)), "")


def _ratio(group) -> CardiothoracicRatio:
    widths = {code_key(measurement.finding_sites[0].value): _points(measurement.referenced_coordinates[0].value)
              for measurement in group.get_measurements() if measurement.finding_sites}
    estimated = any(_is(evaluation.value, ESTIMATED_FROM_MASK) for evaluation in group.get_qualitative_evaluations())
    return CardiothoracicRatio(widths[code_key(codes.SCT.Heart)] + widths[code_key(codes.SCT.Thorax)], estimated)
