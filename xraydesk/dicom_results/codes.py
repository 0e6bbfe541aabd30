"""The codes of the Structured Report: standard ones (DCM, SCT, UCUM) where they say what is meant, our
own scheme 99XRAYDESK (declared in the SR's Coding Scheme Identification Sequence) where none does."""

import highdicom as hd
from pydicom.sr.codedict import codes

from xraydesk.ai.outputs import ZONES
from xraydesk.ai.words import FLAG_WORDS

SCHEME = "99XRAYDESK"
CODING_SCHEME = hd.coding_schemes.CodingSchemeIdentificationItem(
    designator=SCHEME, name="XRayDesk result codes", version="1", responsible_organization="XRayDesk")


def _private(value: str, meaning: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value, SCHEME, meaning)


def code_key(code) -> tuple[str, str]:
    """A code (pydicom's, highdicom's) as (scheme, value): what two codes are compared by."""
    return code.scheme_designator, code.value


def concept_key(item) -> tuple[str, str]:
    """The (scheme, value) of a content item's concept name, as code_key gives it."""
    code = item.ConceptNameCodeSequence[0]
    return str(code.CodingSchemeDesignator), str(code.CodeValue)


def _sct(value: str, meaning: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value, "SCT", meaning)


PLAIN_CHEST_XRAY = _sct("399208008", "Plain chest X-ray")
FINDINGS = {  # probability target -> (tracking name, finding)
    "abnormal": ("Abnormal", _sct("263654008", "Abnormal")),
    "pneumonia": ("Pneumonia", _sct("233604007", "Pneumonia")),
    "normal": ("Normal", codes.SCT.Normal),
    "bacterial": ("Bacterial pneumonia", _sct("53084003", "Bacterial pneumonia")),
    "viral": ("Viral pneumonia", _sct("75570004", "Viral pneumonia")),
    "covid": ("COVID-19", _sct("840539006", "COVID-19")),
}
SIDES = {"R": codes.SCT.Right, "L": codes.SCT.Left}  # the patient's
LEVELS = {"U": codes.SCT.UpperZoneOfLung, "M": codes.SCT.MiddleZoneOfLung, "L": codes.SCT.LowerZoneOfLung}
ZONE_SITES = {zone: hd.sr.FindingSite(LEVELS[zone[1]], laterality=SIDES[zone[0]]) for zone in ZONES}  # "RU": side, level
LUNG_SITE = hd.sr.FindingSite(codes.SCT.Lung)  # both lungs, as a whole
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
    ("positive_no_zones", "FLAG-NO-ZONES"), ("zones_without_call", "FLAG-ZONES-NO-CALL"),
    ("extent_disagrees_with_zones", "FLAG-EXTENT-ZONES"))}
CALL = _private("CALL", "Call at the operating point")
POSITIVE = _private("POSITIVE", "Positive")
NEGATIVE = _private("NEGATIVE", "Negative")
BORDERLINE = _private("BORDERLINE", "In the borderline band: no call")
READING = _private("READING", "Reading")
ANSWER = _private("ANSWER", "Answer (XRayDesk's words)")
NORMAL_RULEOUT = _private("NORMAL-RULEOUT", "Normal rule-out")
CLEARED = _private("CLEARED", "Cleared as normal: below the rule-out point")
NOT_CLEARED = _private("NOT-CLEARED", "Not cleared as normal")
DRAFT_REPORT = _private("DRAFT-REPORT", "Draft report (AI, to be edited by the reader)")
SIX_ZONE_SCORE = _private("SIX-ZONE-SCORE", "Six-zone score (0-6)")
GEOGRAPHIC_EXTENT = _private("GEO-EXTENT", "Geographic extent (0-4 per lung, 0-8 both)")
OPACITY_SCORE = _private("OPACITY-SCORE", "Degree of opacity (0-4 per lung, 0-8 both)")
RESEARCH_USE = _private("RESEARCH-USE", "Research use statement")

# The reader's measurements and annotations (reading_record)
PIXELS = hd.sr.CodedConcept("{pixels}", "UCUM", "pixels")  # lengths of a film without pixel spacing
CARDIOTHORACIC_RATIO = _private("CTR", "Cardiothoracic ratio")
ARROW = _private("ARROW", "Arrow annotation")
NO_MEASUREMENTS = _private("NONE", "No measurements: the reader deleted them")
PLACEMENT = _private("PLACEMENT", "Point placement")
ESTIMATED_FROM_MASK = _private("ESTIMATED", "Estimated from the AI lung mask, not checked by the reader")
# Key Object Selection document titles (CID 7010) offered as the reason an image is a key image. The
# titles of Instance Availability Notification and of IOCM rejection (113001, 113037-113039: they make an
# archive hide the images) are not offered.
KEY_IMAGE_REASONS = {code.meaning: code for code in (
    codes.DCM.OfInterest, codes.DCM.ForTeaching, codes.DCM.ForResearch, codes.DCM.ForConference,
    codes.DCM.ForPeerReview, codes.DCM.ForReferringProvider, codes.DCM.QualityIssue)}
