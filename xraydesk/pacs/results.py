"""The AI result back into the hospital's record (no Qt): for an analysed DICOM image, a DICOM
Structured Report and a secondary capture in the image's own study, written with highdicom.

Both objects carry the source's Study Instance UID and its patient and study attributes as they are
(no de-identification: they go back to the same archive), sit in new series with our own Series and
SOP Instance UIDs, and reference the source image. A value the source holds that is invalid for its
Value Representation (the RSNA films give Patient's Age as "51", not "051Y"), or a Patient's Sex
outside M/F/O, is not copied (left out, or empty where the attribute is Type 2): a strict archive
refuses an object with it, and the source keeps its own. A header highdicom cannot use (an image SOP
class it does not know) gives a ResultsError, as does a PNG or JPEG, which has no study at all.

The Structured Report is a TID 1500 Imaging Measurement Report in a Comprehensive SR, not a free
Comprehensive SR tree, because the result is what TID 1500 is made for (and what IHE AI Results
uses): numbers with units and coded calls in measurement groups, each with its finding, finding site
and the algorithm that produced it (TID 4019), referencing the image in the image library. A template
lets the archive, viewers and highdicom's own reader find the figures without knowing XRayDesk. The
words with no code (reasons, flag explanations, the reading, caveats) are TEXT qualitative
evaluations, which TID 1501 row 12 allows and highdicom models only as CODE (`_TextEvaluation`).
Comprehensive SR rather than Comprehensive 3D SR: there are no coordinates, and more archives and
viewers display it. The measurement groups:

- "Analysis outcome": the input check (accepted / accepted but unfamiliar / refused) and its reason,
  each raised flag (model.FLAGS) with its explanation, and the research-use statement.
- "Pneumonia": p(pneumonia), the call at the stored operating point (positive, negative, or none in
  the borderline band) and the reading in words; "Normal", "Bacterial pneumonia", "Viral pneumonia"
  and "COVID-19": each output's probability (COVID-19 with its caveat).
- One group per lung zone (RU ... LL): the zone's probability of opacity and its call at the zone
  operating point; and "Severity": the six-zone score (0-6), geographic extent and degree of opacity
  (0-8, and 0-4 per lung). When the lung mask failed its check these are withheld, and "Severity"
  says so and why.
A refused image gets the "Analysis outcome" group alone.

Codes. Standard: DCM 126000 Imaging Measurement Report, 125007 Measurement Group, 121071 Finding,
122157 Probability, 112001 Opacity, 121106 Comment, 111001/111002/111003 Algorithm Name/Parameters/
Version; SCT 399208008 Plain chest X-ray (procedure reported), 233604007 Pneumonia, 53084003 Bacterial
pneumonia, 75570004 Viral pneumonia, 840539006 COVID-19, 17621005 Normal, 39607008 Lung, 281392002 /
281393007 / 281394001 Upper / Middle / Lower zone of lung, 24028007 Right, 7771000 Left; UCUM 1 (no
units). Private, scheme 99XRAYDESK (declared in the Coding Scheme Identification Sequence), where no
standard code says the same: INPUT-CHECK with ACCEPTED / UNFAMILIAR / REFUSED; REASON; FLAG with
FLAG-UNFAMILIAR / FLAG-LUNG-MASK / FLAG-BORDER-PNEU / FLAG-BORDER-COV / FLAG-NO-ZONES and
FLAG-TEXT; CALL with POSITIVE / NEGATIVE / BORDERLINE; READING; SIX-ZONE-SCORE; GEO-EXTENT;
OPACITY-SCORE; RESEARCH-USE.

The secondary capture (RGB, Secondary Capture Image Storage) is the image at its default window
with the pneumonia Grad-CAM, the lung outline and the six zones (withheld zones are not drawn) and,
in a band below the image, "derived, not for diagnosis", the reading and the research-use statement
burned in (Burned In Annotation YES; Image Comments and Derivation Description say the same). It is
reduced to SC_MAX_SIDE pixels on its long side: enough to see the overlay, a few MB uncompressed; the
original stays in the study for reading. A refused image has nothing to overlay: it gets no secondary
capture."""

import copy
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import highdicom as hd
import numpy as np
from highdicom.sr.templates import Template
from PIL import Image, ImageDraw, ImageFont
from pydicom import config
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import validate_value

from xraydesk import RESEARCH_USE_NOTICE, __version__
from xraydesk.ai import overlays
from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.ai.outputs import ZONES
from xraydesk.ai.words import COVID_CAVEAT, FLAG_WORDS, evidence_note, flag_statement, six_zone_words
from xraydesk.imaging import XRayImage, render_default

MANUFACTURER = "XRayDesk"
SR_SERIES_NUMBER = 9001
SC_SERIES_NUMBER = 9002
SC_MAX_SIDE = 1024
HEATMAP_OPACITY = 0.5
NOT_FOR_DIAGNOSIS = "Derived image, not for diagnosis"
SR_SERIES_DESCRIPTION = "XRayDesk AI result - research use only"
SC_SERIES_DESCRIPTION = "XRayDesk AI overlay - not for diagnosis"
CHARACTER_SET = "ISO_IR 192"  # UTF-8: the words use dashes and accents that Latin-1 lacks
# Type 2 attributes highdicom reads from the source: present, empty where the source lacks them.
PATIENT_AND_STUDY_TYPE_2 = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "AccessionNumber",
                            "StudyID", "StudyDate", "StudyTime", "ReferringPhysicianName")
SEXES = ("M", "F", "O")  # Patient's Sex: the enumerated values (empty when unknown)
IDENTITY = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")

SCHEME = "99XRAYDESK"
CODING_SCHEME = hd.coding_schemes.CodingSchemeIdentificationItem(
    designator=SCHEME, name="XRayDesk result codes", version="1", responsible_organization="XRayDesk")


def _private(value: str, meaning: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value, SCHEME, meaning)


def _sct(value: str, meaning: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value, "SCT", meaning)


PLAIN_CHEST_XRAY = _sct("399208008", "Plain chest X-ray")
FINDINGS = {  # probability target -> (tracking name, finding)
    "pneumonia": ("Pneumonia", _sct("233604007", "Pneumonia")),
    "normal": ("Normal", codes.SCT.Normal),
    "bacterial": ("Bacterial pneumonia", _sct("53084003", "Bacterial pneumonia")),
    "viral": ("Viral pneumonia", _sct("75570004", "Viral pneumonia")),
    "covid": ("COVID-19", _sct("840539006", "COVID-19")),
}
SIDES = {"R": codes.SCT.Right, "L": codes.SCT.Left}  # the patient's
LEVELS = {"U": codes.SCT.UpperZoneOfLung, "M": codes.SCT.MiddleZoneOfLung, "L": codes.SCT.LowerZoneOfLung}
ZONE_SITES = {zone: hd.sr.FindingSite(LEVELS[zone[1]], laterality=SIDES[zone[0]]) for zone in ZONES}  # "RU": side, level
LUNG_SITES = (hd.sr.FindingSite(codes.SCT.Lung, laterality=codes.SCT.Right),
              hd.sr.FindingSite(codes.SCT.Lung, laterality=codes.SCT.Left))
NO_UNITS = codes.UCUM.NoUnits

INPUT_CHECK = _private("INPUT-CHECK", "Input check")
ACCEPTED = _private("ACCEPTED", "Accepted")
UNFAMILIAR = _private("UNFAMILIAR", "Accepted, unfamiliar image: lower confidence")
REFUSED = _private("REFUSED", "Refused: not analysed")
REASON = _private("REASON", "Reason")
FLAG = _private("FLAG", "Flag")
FLAG_TEXT = _private("FLAG-TEXT", "Flag explanation")
FLAG_CODES = {flag: _private(value, FLAG_WORDS[flag]) for flag, value in (
    ("unfamiliar", "FLAG-UNFAMILIAR"), ("lung_mask_failed", "FLAG-LUNG-MASK"),
    ("borderline_pneumonia", "FLAG-BORDER-PNEU"), ("borderline_covid", "FLAG-BORDER-COV"),
    ("positive_no_zones", "FLAG-NO-ZONES"))}
CALL = _private("CALL", "Call at the operating point")
POSITIVE = _private("POSITIVE", "Positive")
NEGATIVE = _private("NEGATIVE", "Negative")
BORDERLINE = _private("BORDERLINE", "In the borderline band: no call")
READING = _private("READING", "Reading")
SIX_ZONE_SCORE = _private("SIX-ZONE-SCORE", "Six-zone score (0-6)")
GEOGRAPHIC_EXTENT = _private("GEO-EXTENT", "Geographic extent (0-4 per lung, 0-8 both)")
OPACITY_SCORE = _private("OPACITY-SCORE", "Degree of opacity (0-4 per lung, 0-8 both)")
RESEARCH_USE = _private("RESEARCH-USE", "Research use statement")

LABEL_BACKGROUND = (*overlays.LABEL_BACKGROUND_COLOUR, 150)  # the image shows through
BANNER_COLOUR = (176, 0, 32)
BANNER_TEXT_COLOUR = (255, 255, 255)


class ResultsError(Exception):
    """No DICOM result can be made for this image; str() names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{Path(path).name}: {reason}")


# ---------------------------------------------------------------- the source


def source_header(image: XRayImage) -> Dataset:
    """The source's attributes without its pixels (the source itself is never changed), checked
    for what a result needs: a DICOM image with its study, series and instance UIDs."""
    if image.source_format != "DICOM" or image.dataset is None:
        raise ResultsError(image.path, f"a {image.source_format} image has no DICOM study to attach the result to")
    return header_of(image.dataset, image.path)


def header_of(source: Dataset, path: Path | str = "source") -> Dataset:
    missing = [keyword for keyword in IDENTITY if not source.get(keyword)]
    if missing:
        raise ResultsError(path, f"the DICOM header lacks {', '.join(missing)}: the result would have no study "
                                 "or image to refer to")
    header = Dataset()
    for element in source:
        if element.keyword != "PixelData" and _valid(element):
            header.add(copy.deepcopy(element))  # a Dataset shares its elements: setting one would change the source
    for keyword in PATIENT_AND_STUDY_TYPE_2:
        if keyword not in header:
            setattr(header, keyword, None)
    if header.PatientSex not in SEXES:  # e.g. "U", common in archives, outside the enumerated values
        header.PatientSex = None
    return header


def _valid(element) -> bool:
    """Whether each value is valid for the element's VR (pydicom's own checks; numbers as written)."""
    if element.VR == "SQ" or element.value is None:
        return True
    values = element.value if element.VM > 1 else [element.value]
    try:
        for value in values:
            validate_value(element.VR, str(value) if element.VR in ("DS", "IS") else value, config.RAISE)
    except ValueError:
        return False
    return True


@contextmanager
def _building(what: str, path: Path | str):
    """highdicom at work on the source's header: what it refuses (an image SOP class it does not know, a
    missing Rows) becomes a ResultsError; its warning of single-component person names is silenced, the
    name being the source's, copied as it is."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name")
        try:
            yield
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise ResultsError(path, f"highdicom cannot make the {what} from this image's header "
                                     f"({type(error).__name__}: {error})") from error


def _model_name_and_version(analysis: ImageAnalysis) -> tuple[str, str]:
    name, _, version = analysis.model_version.rpartition(" ")  # ChestXRayModel.version: "<name> <version>"
    return name or analysis.model_version, version or "unknown"


def _software_versions(analysis: ImageAnalysis) -> list[str]:
    return [f"XRayDesk {__version__}", analysis.model_version]


# ---------------------------------------------------------------- the Structured Report


class _TextEvaluation(hd.sr.QualitativeEvaluation):
    """A TEXT qualitative evaluation (TID 1501 row 12): highdicom builds only the CODE kind."""

    def __init__(self, name: hd.sr.CodedConcept, text: str):
        Template.__init__(self, [hd.sr.TextContentItem(
            name=name, value=text, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)])


def _algorithm(analysis: ImageAnalysis, *operating_points: str) -> hd.sr.AlgorithmIdentification:
    """The model, with the operating points (and borderline bands) behind the group's calls as parameters."""
    name, version = _model_name_and_version(analysis)
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
        evaluations.append(_TextEvaluation(REASON, reason))
    for flag in analysis.flags:
        evaluations += [hd.sr.QualitativeEvaluation(FLAG, FLAG_CODES[flag]),
                        _TextEvaluation(FLAG_TEXT, flag_statement(flag, analysis))]
    evaluations.append(_TextEvaluation(RESEARCH_USE, RESEARCH_USE_NOTICE))
    return _group("Analysis outcome", _algorithm(analysis), evaluations=evaluations)


def _probability_groups(analysis: ImageAnalysis) -> list:
    prediction = analysis.prediction
    probabilities = {"pneumonia": prediction.p_pneumonia, "normal": prediction.p_normal,
                     "bacterial": prediction.p_bacterial, "viral": prediction.p_viral, "covid": prediction.p_covid}
    extra = {
        "pneumonia": [_call(prediction.pneumonia_positive, prediction.pneumonia_borderline),
                      _TextEvaluation(READING, analysis.reading)],
        "covid": [_TextEvaluation(codes.DCM.Comment, COVID_CAVEAT)],  # the COVID-19 figure never goes alone
    }
    return [_group(tracking, _algorithm(analysis, "pneumonia") if target == "pneumonia" else _algorithm(analysis),
                   finding, [hd.sr.FindingSite(codes.SCT.Lung)], [_probability(probabilities[target])],
                   extra.get(target))
            for target, (tracking, finding) in FINDINGS.items()]


def _zone_groups(analysis: ImageAnalysis) -> list:
    prediction, algorithm = analysis.prediction, _algorithm(analysis, "zone")
    return [_group(f"Zone {zone}", algorithm, codes.DCM.Opacity, [ZONE_SITES[zone]], [_probability(probability)],
                   [_call(positive)])
            for zone, probability, positive in zip(ZONES, prediction.zone_probabilities, prediction.zone_positive)]


def _severity_group(analysis: ImageAnalysis) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    lungs, algorithm = [hd.sr.FindingSite(codes.SCT.Lung)], _algorithm(analysis)
    if analysis.severity_withheld:
        withheld = _TextEvaluation(codes.DCM.Comment, flag_statement("lung_mask_failed", analysis))
        return _group("Severity", algorithm, codes.DCM.Opacity, lungs, evaluations=[withheld])
    prediction = analysis.prediction
    measurements = [hd.sr.Measurement(SIX_ZONE_SCORE, prediction.six_zone_score, NO_UNITS)]
    for name, total, per_lung in ((GEOGRAPHIC_EXTENT, prediction.geographic_extent, prediction.lung_extent),
                                  (OPACITY_SCORE, prediction.opacity_score, prediction.lung_opacity)):
        measurements.append(hd.sr.Measurement(name, round(total, 2), NO_UNITS))
        measurements += [hd.sr.Measurement(name, round(value, 2), NO_UNITS, finding_sites=[site])
                         for value, site in zip(per_lung, LUNG_SITES)]
    note = evidence_note(analysis)
    return _group("Severity", algorithm, codes.DCM.Opacity, lungs, measurements,
                  [_TextEvaluation(codes.DCM.Comment, note)] if note else None)


def measurement_groups(analysis: ImageAnalysis) -> list[hd.sr.MeasurementsAndQualitativeEvaluations]:
    groups = [_outcome_group(analysis)]
    if analysis.prediction is not None:
        groups += _probability_groups(analysis)
        if not analysis.severity_withheld:
            groups += _zone_groups(analysis)
        groups.append(_severity_group(analysis))
    return groups


def _observation_context(analysis: ImageAnalysis) -> hd.sr.ObservationContext:
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=generate_uid(entropy_srcs=[MANUFACTURER, analysis.model_version]),  # one device UID per model version
        name=MANUFACTURER, manufacturer_name=MANUFACTURER, model_name=analysis.model_version)
    return hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
        observer_type=codes.DCM.Device, observer_identifying_attributes=device))


def _library_entry(header: Dataset) -> Dataset:
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
    with _building("structured report", analysis.path):
        return _structured_report(analysis, header)


def _structured_report(analysis: ImageAnalysis, header: Dataset) -> hd.sr.ComprehensiveSR:
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(analysis), procedure_reported=PLAIN_CHEST_XRAY,
        imaging_measurements=measurement_groups(analysis), referenced_images=[_library_entry(header)])
    return hd.sr.ComprehensiveSR(
        evidence=[header], content=report[0], series_instance_uid=hd.UID(), series_number=SR_SERIES_NUMBER,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER, is_complete=True,
        series_description=SR_SERIES_DESCRIPTION, manufacturer_model_name=MANUFACTURER,
        software_versions=_software_versions(analysis), coding_schemes=[CODING_SCHEME],
        specific_character_set=CHARACTER_SET)


# ---------------------------------------------------------------- the secondary capture


def capture_size(shape: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of the image in the capture: reduced to SC_MAX_SIDE on its long side, never enlarged."""
    height, width = shape
    scale = min(1.0, SC_MAX_SIDE / max(height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans, the PDF's font (matplotlib ships it): Pillow's own lacks the dashes the words use."""
    import matplotlib

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)


def overlay_picture(analysis: ImageAnalysis, display: np.ndarray) -> Image.Image:
    """The image (uint8 as displayed) reduced to SC_MAX_SIDE, with the pneumonia heatmap, the lung
    outline and the zones drawn over it, and the words in a band below: RGB."""
    picture = Image.fromarray(display).resize(capture_size(display.shape), Image.LANCZOS).convert("RGBA")
    heat = overlays.heatmap_rgba(overlays.heatmap_grid(analysis, "pneumonia"), HEATMAP_OPACITY)
    picture.alpha_composite(Image.fromarray(heat).resize(picture.size, Image.BILINEAR))
    layer = Image.new("RGBA", picture.size)
    _draw_lungs_and_zones(ImageDraw.Draw(layer), analysis, picture.size)
    picture.alpha_composite(layer)
    return _with_banner(picture.convert("RGB"), analysis)


def _draw_lungs_and_zones(draw: ImageDraw.ImageDraw, analysis: ImageAnalysis, size: tuple[int, int]) -> None:
    """The colours are the app's and the PDF's (xraydesk.ai.overlays); line widths and fonts grow with the picture."""
    width, height = size
    shape = (height, width)
    line = max(1, round(max(size) / 512))
    if not analysis.severity_withheld:
        for zone, positive in zip(ZONES, analysis.prediction.zone_positive):
            for points in overlays.zone_outlines(analysis, shape)[zone]:
                draw.line(_xy(points), fill=overlays.POSITIVE_ZONE_COLOUR if positive else overlays.ZONE_BORDER_COLOUR,
                          width=2 * line if positive else line)
    for points in overlays.lung_outline(analysis, shape):  # drawn even when it failed its check: it shows why
        draw.line(_xy(points), fill=overlays.LUNG_OUTLINE_COLOUR, width=2 * line)
    if not analysis.severity_withheld:
        _draw_zone_labels(draw, analysis, shape, _font(max(10, max(size) // 64)))


def _draw_zone_labels(draw: ImageDraw.ImageDraw, analysis: ImageAnalysis, shape: tuple[int, int], font) -> None:
    """Each zone's probability beside the zone, outside the lung (the heat inside stays visible)."""
    prediction = analysis.prediction
    anchors = overlays.zone_label_anchors(analysis, shape)
    for zone, probability, positive in zip(ZONES, prediction.zone_probabilities, prediction.zone_positive):
        if zone in anchors:
            (x, y), side = anchors[zone]
            _label(draw, (x + side * font.size / 2, y), f"{zone} {probability:.2f}", font, "rm" if side < 0 else "lm",
                   overlays.POSITIVE_ZONE_COLOUR if positive else overlays.LABEL_TEXT_COLOUR)


def _xy(points: np.ndarray) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in points]


def _label(draw: ImageDraw.ImageDraw, position: tuple[float, float], text: str, font, anchor: str, colour) -> None:
    box = draw.textbbox(position, text, font=font, anchor=anchor)
    draw.rectangle((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3), fill=LABEL_BACKGROUND)
    draw.text(position, text, font=font, fill=colour, anchor=anchor)


def banner_lines(analysis: ImageAnalysis) -> list[str]:
    return [f"{NOT_FOR_DIAGNOSIS}. AI overlay by {analysis.model_version}: pneumonia Grad-CAM, lungs and zones.",
            analysis.reading, f"{six_zone_words(analysis)}.", RESEARCH_USE_NOTICE]


def _with_banner(picture: Image.Image, analysis: ImageAnalysis) -> Image.Image:
    """The words burned in below the image, so that no pixel of the image (nor heat at its border) is hidden."""
    font = _font(max(12, picture.width // 60))
    margin, spacing = font.size // 2, round(font.size * 1.3)
    lines = [wrapped for line in banner_lines(analysis) for wrapped in _wrap(line, font, picture.width - 2 * margin)]
    result = Image.new("RGB", (picture.width, picture.height + spacing * len(lines) + 2 * margin), BANNER_COLOUR)
    result.paste(picture)
    draw = ImageDraw.Draw(result)
    for index, line in enumerate(lines):
        draw.text((margin, picture.height + margin + index * spacing), line, font=font, fill=BANNER_TEXT_COLOUR)
    return result


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap to `width` pixels (a word longer than a line stays whole)."""
    lines = [""]
    for word in text.split():
        candidate = f"{lines[-1]} {word}".strip()
        if font.getlength(candidate) <= width or not lines[-1]:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def secondary_capture(analysis: ImageAnalysis, source: Dataset, display: np.ndarray) -> hd.sc.SCImage:
    """The overlay picture of `analysis` on `display` (the image as shown, uint8, any size), as an RGB
    secondary capture in the source's study referencing the source image."""
    if analysis.prediction is None:
        raise ResultsError(analysis.path, f"not analysed ({analysis.check.reason}): there is no overlay to capture")
    header = header_of(source, analysis.path)
    picture_size = capture_size(display.shape)
    picture = overlay_picture(analysis, display)
    with _building("secondary capture", analysis.path):
        capture = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=header, pixel_array=np.asarray(picture), photometric_interpretation="RGB", bits_allocated=8,
            coordinate_system="PATIENT", series_instance_uid=hd.UID(), series_number=SC_SERIES_NUMBER,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER,
            patient_orientation=("L", "F"),  # highdicom wants one; the source's replaces it below
            transfer_syntax_uid=ExplicitVRLittleEndian,
            series_description=SC_SERIES_DESCRIPTION, manufacturer_model_name=MANUFACTURER,
            software_versions=_software_versions(analysis), specific_character_set=CHARACTER_SET)
        capture.copy_patient_and_study_information(header)  # all of them, as the SR has (from_ref_dataset: a few)
    # The orientation is the source's, empty (Type 2) where it has none: XRayDesk does not know it.
    capture.PatientOrientation = header.get("PatientOrientation") or None
    capture.ConversionType = "WSD"  # made on a workstation
    if header.get("BodyPartExamined"):  # the same anatomy; without it, dciodvfy wants Laterality
        capture.BodyPartExamined = header.BodyPartExamined
    capture.BurnedInAnnotation = "YES"
    capture.ImageComments = f"{NOT_FOR_DIAGNOSIS}. {RESEARCH_USE_NOTICE}"
    capture.DerivationDescription = (
        f"{NOT_FOR_DIAGNOSIS}: {analysis.model_version} pneumonia Grad-CAM, lung outline and zones over the "
        "image as displayed, reduced from {}x{} to {}x{} pixels, with the words in a band below".format(
            header.get("Columns", display.shape[1]), header.get("Rows", display.shape[0]), *picture_size))
    capture.SourceImageSequence = [_source_reference(header)]
    if header.get("LossyImageCompression") == "01":  # once lossy, always marked lossy
        capture.LossyImageCompression = "01"
    return capture


def _source_reference(header: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = header.SOPClassUID
    item.ReferencedSOPInstanceUID = header.SOPInstanceUID
    item.PurposeOfReferenceCodeSequence = [hd.sr.CodedConcept.from_code(
        codes.DCM.SourceImageForImageProcessingOperation)]
    return item


# ---------------------------------------------------------------- files


def capture_display(image: XRayImage) -> np.ndarray:
    """The image at its default window, reduced as the secondary capture shows it (uint8)."""
    display = render_default(image)
    return np.asarray(Image.fromarray(display).resize(capture_size(display.shape), Image.LANCZOS))


def result_datasets(analysis: ImageAnalysis, source: Dataset, display: np.ndarray | None) -> list[Dataset]:
    """The SR, and the secondary capture of `display` unless the input check refused the image."""
    datasets = [structured_report(analysis, source)]
    if analysis.prediction is not None:
        datasets.append(secondary_capture(analysis, source, display))
    return datasets


def write_results(analysis: ImageAnalysis, image: XRayImage, out_dir: Path | str) -> list[Path]:
    """The SR and, for an analysed image, the secondary capture of `image` at its default window, written
    into `out_dir` (write_datasets). Raises ResultsError for an image with no DICOM study (PNG, JPEG)."""
    header = source_header(image)
    display = capture_display(image) if analysis.prediction is not None else None
    return write_datasets(result_datasets(analysis, header, display), Path(out_dir))


def write_datasets(datasets: list[Dataset], out_dir: Path) -> list[Path]:
    """Each dataset as <SOP Instance UID>.dcm in `out_dir`, complete or not at all; an existing file
    is never overwritten. Returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_dataset(dataset, out_dir) for dataset in datasets]


def write_dataset(dataset: Dataset, out_dir: Path) -> Path:
    target = out_dir / f"{dataset.SOPInstanceUID}.dcm"
    temporary = out_dir / f".{target.name}.{os.getpid()}.part"
    try:
        with open(temporary, "xb") as handle:
            dataset.save_as(handle, enforce_file_format=True)
        try:
            os.link(temporary, target)  # unlike a rename, fails rather than replace a file already there
        except FileExistsError as error:
            raise ResultsError(target, "a file of that name exists already; it is left as it is") from error
    finally:
        temporary.unlink(missing_ok=True)
    return target
