"""Input check: refuse only what is not a frontal chest radiograph, with a reason, before predicting;
flag a chest film that is merely unlike the training data, and analyse it.

Three layers, cheapest first: the DICOM header (who made it, modality, body part, view), the pixels
(blank, noise), and two learned scores (Chester's autoencoder reconstruction error and the Mahalanobis
distance of the classifier's embedding). A learned score refuses only beyond the largest value any
val chest X-ray reached: a portable ICU film with lines and pads is still a chest film. Either score
above its "unfamiliar" limit (a high percentile of val chest X-rays) flags the image as unfamiliar:
analysed, with lower confidence, and the reason shown."""

from dataclasses import dataclass

import numpy as np

# Modalities that are never a projection chest radiograph (DX/CR, or OT/SC secondary captures, pass).
NON_CHEST_MODALITIES = {
    "CT": "computed tomography", "MR": "magnetic resonance", "US": "ultrasound", "NM": "nuclear medicine",
    "PT": "positron emission tomography",
    "MG": "mammography", "XA": "angiography", "RF": "fluoroscopy", "IO": "intra-oral radiography",
    "PX": "panoramic dental radiography", "ES": "endoscopy", "OP": "ophthalmic photography",
    "XC": "external camera photography", "SM": "microscopy", "ECG": "electrocardiography", "SR": "structured report",
}
CHEST_BODY_PARTS = {"", "CHEST", "THORAX", "LUNG", "LUNGS", "CHEST_PA", "CHEST_AP", "TORAX", "THORAX_PA"}
LATERAL_VIEWS = {"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"}
MIN_SIDE_PIXELS = 128
MIN_CONTRAST = 8 / 255          # a blank or nearly uniform image
MIN_NEIGHBOUR_CORRELATION = 0.6  # radiographs are smooth; noise is not


@dataclass(frozen=True)
class InputCheck:
    accepted: bool
    reason: str = ""  # why it was refused
    unfamiliar: str = ""  # accepted, but unlike the training data: why confidence is lower


ACCEPTED = InputCheck(True)


XRAYDESK_RESULT = "an XRayDesk result picture (secondary capture), not a film"


def check_maker(made_by_xraydesk: bool) -> InputCheck:
    """XRayDesk's own secondary capture is the film with its result burned in: shown, never analysed
    (a result of a result, and on a node one answered by another for ever)."""
    return InputCheck(False, XRAYDESK_RESULT) if made_by_xraydesk else ACCEPTED


def check_header(modality: str, body_part: str, view_position: str) -> InputCheck:
    modality, body_part, view = (modality or "").upper(), (body_part or "").upper(), (view_position or "").upper()
    if modality in NON_CHEST_MODALITIES:
        return InputCheck(False, f"modality {modality} ({NON_CHEST_MODALITIES[modality]}) is not a chest radiograph")
    if body_part not in CHEST_BODY_PARTS:
        return InputCheck(False, f"body part examined is {body_part}, not the chest")
    if view in LATERAL_VIEWS:
        return InputCheck(False, f"view position {view} is lateral; the model reads frontal views only")
    return ACCEPTED


def check_color(is_color_source: bool) -> InputCheck:
    if is_color_source:
        return InputCheck(False, "colour image (a photograph or illustration); radiographs are grayscale")
    return ACCEPTED


def check_size(height: int, width: int) -> InputCheck:
    if min(height, width) < MIN_SIDE_PIXELS:
        return InputCheck(False, f"image is {width}x{height} pixels, too small for a chest radiograph")
    return ACCEPTED


def check_pixels(model_input: np.ndarray) -> InputCheck:
    """model_input: float (224, 224, 1) in [0, 1]."""
    image = model_input[..., 0].astype(np.float64)
    if image.std() < MIN_CONTRAST:
        return InputCheck(False, "image is blank or nearly uniform")
    correlation = np.corrcoef(image[:, :-1].ravel(), image[:, 1:].ravel())[0, 1]
    if correlation < MIN_NEIGHBOUR_CORRELATION:
        return InputCheck(False, f"image looks like noise (neighbouring-pixel correlation {correlation:.2f})")
    return ACCEPTED


UNFAMILIAR_PREFIX = "unfamiliar image: "
UNFAMILIAR_TRUST = (". The model was not validated on films like this: take its numbers as a weaker hint than "
                    "usual, and the calls as possibly wrong")


def check_learned(reconstruction_error: float, embedding_distance: float, limits: dict) -> InputCheck:
    if reconstruction_error > limits["reconstruction_error_max"]:
        return InputCheck(False, "does not look like a frontal chest X-ray (autoencoder reconstruction "
                                 f"error {reconstruction_error:.3f} > {limits['reconstruction_error_max']:.3f})")
    if embedding_distance > limits["embedding_distance_max"]:
        return InputCheck(False, "does not look like a frontal chest X-ray (feature distance "
                                 f"{embedding_distance:.1f} > {limits['embedding_distance_max']:.1f}, beyond any "
                                 "chest X-ray of the validation set)")
    reasons = []
    if reconstruction_error > limits["reconstruction_error_unfamiliar"]:
        reasons.append("its overall look (exposure, framing, what lies around the chest) is unlike 99 in 100 "
                       f"of the validation chest films (score {reconstruction_error:.3f}, "
                       f"limit {limits['reconstruction_error_unfamiliar']:.3f})")
    if embedding_distance > limits["embedding_distance_unfamiliar"]:
        reasons.append("what the network sees in it is unlike 99 in 100 of the validation chest films "
                       f"(score {embedding_distance:.1f}, limit {limits['embedding_distance_unfamiliar']:.1f})")
    if reasons:
        return InputCheck(True, unfamiliar=UNFAMILIAR_PREFIX + "; ".join(reasons) + UNFAMILIAR_TRUST)
    return ACCEPTED


def first_refusal(*checks: InputCheck) -> InputCheck:
    """The first refusal; else acceptance carrying every check's "unfamiliar" reason."""
    refusal = next((check for check in checks if not check.accepted), None)
    if refusal is not None:
        return refusal
    unfamiliar = "; ".join(check.unfamiliar for check in checks if check.unfamiliar)
    return InputCheck(True, unfamiliar=unfamiliar) if unfamiliar else ACCEPTED
