"""Every word XRayDesk says about an image, made once: the dock, the worklist, the PDF, the DICOM SR
and secondary capture, and the CSV print these strings and nothing of their own, so no surface can
say more (or less) than another. Qt-free.

The answer comes first (one of ANSWERS), from the calls alone; then what the model cannot tell (the
cause in adults, the COVID-19 category inside a band) is said to be unknown rather than guessed; then
every disagreement between the model's own outputs is explained where both are shown."""

from typing import TYPE_CHECKING

from xraydesk.ai.model import Prediction
from xraydesk.ai.outputs import EXTENT_MAX, LUNG_SCORE_MAX, ZONES

if TYPE_CHECKING:  # words describe analyses; the analysis module imports this one
    from xraydesk.ai.analysis import ImageAnalysis

# The three answers (issue: "pneumonia, abnormal for another reason, or normal"), and the two
# honest in-betweens: a pneumonia call inside its borderline band, and an abnormality that is
# neither called nor ruled out.
PNEUMONIA_LIKELY = "Pneumonia-like opacity likely"
OTHER_ABNORMAL = "Abnormal without a pneumonia-like opacity"
NO_ABNORMALITY = "No abnormality found"
INDETERMINATE = "Indeterminate for pneumonia-like opacity"
NOT_CLEARED = "No pneumonia-like opacity called; not cleared as normal"
ANSWERS = (PNEUMONIA_LIKELY, INDETERMINATE, OTHER_ABNORMAL, NOT_CLEARED, NO_ABNORMALITY)

# The RSNA consensus categories for COVID-19 on chest radiographs (Simpson et al., Radiology:
# Cardiothoracic Imaging 2020), worded as published; the two "no category" lines are ours.
TYPICAL = "Typical appearance for COVID-19 pneumonia"
INDETERMINATE_APPEARANCE = "Indeterminate appearance for COVID-19 pneumonia"
ATYPICAL = "Atypical appearance for COVID-19 pneumonia"
NEGATIVE_FOR_PNEUMONIA = "Negative for pneumonia"
NO_CATEGORY_OPACITY_BORDERLINE = "No category: whether there is a pneumonia-like opacity is itself indeterminate"
NO_CATEGORY_COVID_BORDERLINE = "No category: p(COVID-19) lies in its borderline band"
COVID_CATEGORIES = (NEGATIVE_FOR_PNEUMONIA, ATYPICAL, INDETERMINATE_APPEARANCE, TYPICAL,
                    NO_CATEGORY_OPACITY_BORDERLINE, NO_CATEGORY_COVID_BORDERLINE)
COVID_CATEGORY_SOURCE = "COVID-19, RSNA consensus category (Simpson et al. 2020)"

SIX_ZONE_EVIDENCE = ("Published evidence, not a prediction for this patient: in adults aged 21-50 with COVID-19 "
                     "(Toussie et al., Radiology 2020), a six-zone score of 2 or more was associated with hospital "
                     "admission, 3 or more with intubation.")
TOUSSIE_AGES = (21, 50)
COVID_CAVEAT = ("Caveat: the COVID-19 output was trained on collections in which the COVID-19 films come from "
                "other hospitals than the non-COVID films, so it partly recognises the collection. "
                "It is not a test for COVID-19.")
POSITIVE_NO_ZONES = ("A pneumonia-like opacity is called, yet no zone reaches the zone operating point: the opacity "
                     "may be faint or diffuse, or the call may be wrong. Check the film.")
ZONES_WITHOUT_CALL = ("A zone reaches the zone operating point although no pneumonia-like opacity is called: the "
                      "zone reading and the whole-film call disagree. Check that zone on the film.")
EXTENT_DISAGREES = ("The geographic extent and the six-zone score disagree (they are read by different parts of the "
                    "model): trust neither alone. Check the film.")
NO_CAUSE_IN_ADULTS = ("Cause cannot be told from this film: the bacterial/viral split was validated only in "
                      "children aged 1-5")
CAUSE_TOO_CLOSE = "Bacterial vs viral cannot be told from this film: the two are too close"
# the leading cause's share of p(bacterial) + p(viral) needed to name it (60:40), in children only
CAUSE_MARGIN = 0.6
CHILD_AGE_LIMIT = 18
FROM_NODE = "from the AI node, {:%Y-%m-%d %H:%M}"  # a result the node wrote into the study (xraydesk serve)
FLAG_WORDS = {  # short forms for the worklist; the dock and PDF explain each flag in full (flag_statements)
    "unfamiliar": "unfamiliar image",
    "lung_mask_failed": "lung mask implausible",
    "borderline_pneumonia": "in the borderline band",
    "borderline_covid": "COVID-19 borderline",
    "positive_no_zones": "no zone positive",
    "zones_without_call": "zone positive without a call",
    "extent_disagrees_with_zones": "extent and zones disagree",
}


def probability(value: float) -> str:
    """Two decimals, never claiming certainty: "> 0.99" and "< 0.01" at the ends."""
    if value > 0.99:
        return "> 0.99"
    if value < 0.01:
        return "< 0.01"
    return f"{value:.2f}"


def answer(prediction: Prediction) -> str:
    """One of ANSWERS. "No abnormality" only at the high-sensitivity rule-out point; "abnormal"
    only above the abnormal operating point and outside its band."""
    if prediction.pneumonia_borderline:
        return INDETERMINATE
    if prediction.pneumonia_positive:
        return PNEUMONIA_LIKELY
    if prediction.normal_ruleout:
        return NO_ABNORMALITY
    if prediction.abnormal_positive and not prediction.abnormal_borderline:
        return OTHER_ABNORMAL
    return NOT_CLEARED


def not_analysed(reason: str) -> str:
    return f"Not analysed: {reason}"


def call(analysis: "ImageAnalysis") -> str:
    """The answer, or why there is none: the CSV `call` column and the worklist's first words."""
    if analysis.prediction is None:
        return not_analysed(analysis.check.reason)
    return answer(analysis.prediction)


def named_cause(analysis: "ImageAnalysis") -> str | None:
    """"bacterial" or "viral" where the split was validated (children) and one leads by the margin."""
    age = analysis.identity.patient_age
    if age is None or age >= CHILD_AGE_LIMIT:
        return None
    bacterial, viral = analysis.prediction.p_bacterial, analysis.prediction.p_viral
    if max(bacterial, viral) / max(bacterial + viral, 1e-9) < CAUSE_MARGIN:
        return None
    return "bacterial" if bacterial > viral else "viral"


def cause_words(analysis: "ImageAnalysis") -> str:
    """Bacterial vs viral only where it was validated (children) and only outside a margin."""
    cause = named_cause(analysis)
    if cause is not None:
        other = "viral" if cause == "bacterial" else "bacterial"
        return f"Pattern more like {cause} than {other} pneumonia (validated in children aged 1-5)"
    age = analysis.identity.patient_age
    return CAUSE_TOO_CLOSE if age is not None and age < CHILD_AGE_LIMIT else NO_CAUSE_IN_ADULTS


def cause_column(analysis: "ImageAnalysis") -> str:
    """The worklist's short cause: named only where cause_words names it."""
    if answer(analysis.prediction) != PNEUMONIA_LIKELY:
        return "—"
    cause = named_cause(analysis)
    return cause.capitalize() if cause else "cannot be told"


def reading(analysis: "ImageAnalysis") -> str:
    """The model's answer in a sentence or two, with the numbers it rests on."""
    prediction = analysis.prediction
    if prediction is None:
        return f"{not_analysed(analysis.check.reason)}."
    points = analysis.operating_points
    pneumonia_point = points["pneumonia"]
    p_pneumonia = f"p(pneumonia-like opacity) = {probability(prediction.p_pneumonia)}"
    p_abnormal = f"p(abnormal) = {probability(prediction.p_abnormal)}"
    ruleout_point = points["normal_ruleout"]["threshold"]
    said = answer(prediction)
    if said == PNEUMONIA_LIKELY:
        return (f"{PNEUMONIA_LIKELY} — {p_pneumonia}, operating point {pneumonia_point['threshold']:.2f}. "
                f"{cause_words(analysis)}.")
    if said == INDETERMINATE:
        low, high = pneumonia_point["band"]
        return f"{INDETERMINATE} — {p_pneumonia}, inside the borderline band {low:.2f}-{high:.2f}."
    if said == NO_ABNORMALITY:
        return (f"{NO_ABNORMALITY} — {p_abnormal}, below the rule-out point {ruleout_point:.2f} "
                "(set on validation films to keep >= 98% sensitivity to any abnormality with 95% confidence; "
                "a research figure, not triage).")
    if said == OTHER_ABNORMAL:
        return f"{OTHER_ABNORMAL} — {p_abnormal}, {p_pneumonia}. The model cannot say what the abnormality is."
    return (f"{NOT_CLEARED} — {p_abnormal}: above the rule-out point {ruleout_point:.2f}, not clearly above the "
            f"abnormal point {points['abnormal']['threshold']:.2f}; {p_pneumonia}.")


def covid_category(prediction: Prediction, operating_points: dict) -> str:
    """The RSNA consensus category, from the opacity call first, then the COVID-19 pattern: without
    a pneumonia-like opacity the category is "negative for pneumonia", whatever p(COVID-19) says."""
    opacity = answer(prediction)
    if opacity == INDETERMINATE:
        return NO_CATEGORY_OPACITY_BORDERLINE
    if opacity != PNEUMONIA_LIKELY:
        return NEGATIVE_FOR_PNEUMONIA
    if prediction.covid_borderline:
        return NO_CATEGORY_COVID_BORDERLINE
    if prediction.p_covid >= operating_points["covid"]["threshold"]:
        return TYPICAL
    if prediction.p_covid >= operating_points["covid_atypical"]["threshold"]:
        return INDETERMINATE_APPEARANCE
    return ATYPICAL


def covid_category_line(analysis: "ImageAnalysis") -> str:
    """Shown, like the COVID-19 number, only with COVID_CAVEAT beside it."""
    return f"{COVID_CATEGORY_SOURCE}: {covid_category(analysis.prediction, analysis.operating_points)}."


def _band_words(name: str, value: float, point: dict) -> str:
    low, high = point["band"]
    return (f"{name} {probability(value)} lies in the borderline band {low:.2f}-{high:.2f} around the operating "
            f"point {point['threshold']:.2f}: no call is made on it.")


def flag_statements(analysis: "ImageAnalysis") -> list[str]:
    """Each raised flag (model.outcome_flags) explained in a sentence, in FLAGS order."""
    return [flag_statement(flag, analysis) for flag in analysis.flags]


def flag_statement(flag: str, analysis: "ImageAnalysis") -> str:
    prediction, points = analysis.prediction, analysis.operating_points
    match flag:
        case "unfamiliar":
            return analysis.check.unfamiliar[:1].upper() + analysis.check.unfamiliar[1:] + "."
        case "lung_mask_failed":
            reason = analysis.lung_check.reason or "it failed the quality check"
            return f"Lung mask implausible ({reason}): zones, six-zone score, extent and opacity are withheld."
        case "borderline_pneumonia":
            return _band_words("p(pneumonia-like opacity)", prediction.p_pneumonia, points["pneumonia"])
        case "borderline_covid":
            return _band_words("p(COVID-19)", prediction.p_covid, points["covid"])
        case "positive_no_zones":
            return POSITIVE_NO_ZONES
        case "zones_without_call":
            return ZONES_WITHOUT_CALL
        case "extent_disagrees_with_zones":
            return EXTENT_DISAGREES
    raise ValueError(f"unknown flag {flag!r}")


def six_zone_words(analysis: "ImageAnalysis") -> str:
    """The score with the operating point its zones were counted at (never only in a footer)."""
    if analysis.severity_withheld:
        return "Six-zone score: withheld (lung mask implausible)"
    zone_point = analysis.operating_points["zone"]["threshold"]
    return f"Six-zone score: {analysis.prediction.six_zone_score} / 6 (a zone counts at p >= {zone_point:.2f})"


def severity_lines(analysis: "ImageAnalysis") -> list[str]:
    """Extent and opacity, per lung (patient's right, left; 0-4 each) and summed (0-8); none when withheld."""
    if analysis.severity_withheld:
        return []
    prediction = analysis.prediction
    return [f"{name}: {total:.1f} / {EXTENT_MAX:.0f}   (right {right:.1f}, left {left:.1f}; "
            f"0-{LUNG_SCORE_MAX:.0f} each)"
            for name, total, (right, left) in (
                ("Geographic extent", prediction.geographic_extent, prediction.lung_extent),
                ("Degree of opacity", prediction.opacity_score, prediction.lung_opacity))]


def evidence_note(analysis: "ImageAnalysis") -> str | None:
    """The Toussie note only where its population fits: an adult of 21-50 whose film is called a
    pneumonia-like opacity, with a six-zone score of 2 or more on a plausible lung mask."""
    age = analysis.identity.patient_age
    if (analysis.severity_withheld or age is None or not TOUSSIE_AGES[0] <= age <= TOUSSIE_AGES[1]
            or answer(analysis.prediction) != PNEUMONIA_LIKELY or analysis.prediction.six_zone_score < 2):
        return None
    return SIX_ZONE_EVIDENCE


def worklist_status(analysis: "ImageAnalysis") -> str:
    """The call, the raised flags in short words, and where the result comes from when not from here
    (the worklist's status column)."""
    node = [made_where(analysis)] if analysis.from_node_at is not None else []
    return "; ".join([answer(analysis.prediction), *(FLAG_WORDS[flag] for flag in analysis.flags), *node])


def made_where(analysis: "ImageAnalysis") -> str:
    """Where and when the result was made: by the AI node (read back from its SR), or here, and how fast."""
    if analysis.from_node_at is not None:
        return FROM_NODE.format(analysis.from_node_at)
    return f"analysed in {analysis.seconds * 1000:.0f} ms"


def is_flagged(analysis: "ImageAnalysis") -> bool:
    """Worth the reader's eyes first (`N`: the next unread flagged image): anything but a film
    cleared as normal or with no call, or any caveat raised; refused images are not flagged."""
    return analysis.prediction is not None and (
        answer(analysis.prediction) in (PNEUMONIA_LIKELY, INDETERMINATE, OTHER_ABNORMAL) or bool(analysis.flags))


def worklist_priority(analysis: "ImageAnalysis") -> float:
    """Higher is read first: by p(pneumonia-like opacity), then p(abnormal); films cleared as normal
    sort last among the analysed (never hidden), refused ones after them."""
    prediction = analysis.prediction
    if prediction is None:
        return -2.0
    if prediction.normal_ruleout:
        return -1.0 + prediction.p_abnormal
    return prediction.p_pneumonia + prediction.p_abnormal / 100


def probability_rows(analysis: "ImageAnalysis") -> list[tuple[str, float, float | None]]:
    """(label, probability, operating point or None) in display order. "Normal" is the complement
    of any abnormality, never of pneumonia alone."""
    prediction, points = analysis.prediction, analysis.operating_points
    return [("Normal (no abnormality)", prediction.p_normal, 1.0 - points["normal_ruleout"]["threshold"]),
            ("Bacterial", prediction.p_bacterial, None),
            ("Viral", prediction.p_viral, None),
            ("COVID-19", prediction.p_covid, points["covid"]["threshold"]),
            ("Pneumonia-like opacity", prediction.p_pneumonia, points["pneumonia"]["threshold"]),
            ("Abnormal (any)", prediction.p_abnormal, points["abnormal"]["threshold"])]


ZONE_NAMES = {"RU": "right upper", "RM": "right middle", "RL": "right lower",
              "LU": "left upper", "LM": "left middle", "LL": "left lower"}
DRAFT_LIMITS = ("Limits: AI draft for a radiologist to edit, research use only, not a medical device. Only "
                "pneumonia-like opacity is assessed; other findings (effusion, nodules, lines and tubes, "
                "cardiomegaly...) are not described, and an abnormality of another kind is only detected, "
                "not named.")


def _zone_phrase(prediction: Prediction) -> str:
    named = [ZONE_NAMES[zone] for zone, positive in zip(ZONES, prediction.zone_positive) if positive]
    if not named:
        return "no zone reaches the zone operating point"
    return f"in the {', '.join(named[:-1]) + ' and ' + named[-1] if len(named) > 1 else named[0]} zone" + (
        "s" if len(named) > 1 else "")


def _draft_findings(analysis: "ImageAnalysis") -> list[str]:
    prediction = analysis.prediction
    said = answer(prediction)
    if said == PNEUMONIA_LIKELY:
        findings = [f"Pneumonia-like opacity, {_zone_phrase(prediction)}."] if not analysis.severity_withheld \
            else ["Pneumonia-like opacity; its zones are not given (the lung outline could not be placed)."]
    elif said == INDETERMINATE:
        findings = ["Possible pneumonia-like opacity: the model cannot decide (borderline)."]
    elif said == OTHER_ABNORMAL:
        findings = ["No pneumonia-like opacity. An abnormality of another kind is suggested; the model cannot "
                    "say what it is."]
    elif said == NO_ABNORMALITY:
        findings = ["No abnormality detected by the model (below its normal rule-out point)."]
    else:
        findings = ["No pneumonia-like opacity called; the film is not cleared as normal."]
    if said in (PNEUMONIA_LIKELY, INDETERMINATE) and not analysis.severity_withheld:
        severity = "; ".join(" ".join(line.split()) for line in severity_lines(analysis))
        findings.append(f"{six_zone_words(analysis)}; {severity}.")
    return findings


def _draft_impression(analysis: "ImageAnalysis") -> str:
    said = answer(analysis.prediction)
    if said == PNEUMONIA_LIKELY:
        return f"Pneumonia-like opacity likely. {cause_words(analysis)}."
    if said == INDETERMINATE:
        return "Indeterminate for pneumonia-like opacity; correlate clinically and with the film."
    if said == OTHER_ABNORMAL:
        return "Abnormal without a pneumonia-like opacity: needs the radiologist's reading."
    if said == NO_ABNORMALITY:
        return "No abnormality found by the model."
    return "No pneumonia-like opacity called; not cleared as normal."


def draft_report(analysis: "ImageAnalysis", measurements: list[str] = (), comparison: list[str] = ()) -> str:
    """A draft in radiology's order (findings, comparison, impression, limits), built from the calls
    alone, so it is never stronger than they are; the reader edits it. `measurements` are the
    reader's own measurements in words with units, `comparison` the trend's change lines."""
    if analysis.prediction is None:
        return f"{not_analysed(analysis.check.reason)}.\n\n{DRAFT_LIMITS}"
    findings = _draft_findings(analysis) + [f"{flag_statement(flag, analysis)}" for flag in analysis.flags]
    findings += [f"Reader's measurement: {line}" for line in measurements]
    sections = [f"FINDINGS: {' '.join(findings)}"]
    if comparison:
        sections.append(f"COMPARISON: {'; '.join(comparison)}.")
    sections += [f"IMPRESSION: {_draft_impression(analysis)}", DRAFT_LIMITS]
    return "\n\n".join(sections)
