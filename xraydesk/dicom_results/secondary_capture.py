"""The secondary capture (RGB, Secondary Capture Image Storage) is the image at its default window
with the opacity map (the box-trained head's, the app's default), the lung outline and the six zones
(withheld zones are not drawn) and, in a band below the image, "derived, not for diagnosis", the reading
and the research-use statement burned in (Burned In Annotation YES; Image Comments and Derivation
Description say the same). It is reduced to SC_MAX_SIDE pixels on its long side: enough to see the
overlay, a few MB uncompressed; the original stays in the study for reading. A refused image has
nothing to overlay: it gets no secondary capture."""

import highdicom as hd
import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian

from xraydesk import RESEARCH_USE_NOTICE
from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.dicom_results.overlay_picture import NOT_FOR_DIAGNOSIS, capture_size, overlay_picture
from xraydesk.dicom_results.source import (
    CHARACTER_SET,
    MANUFACTURER,
    ResultsError,
    building,
    header_of,
    result_uids,
    software_versions,
)
from xraydesk.imaging import XRayImage, render_default

SC_SERIES_NUMBER = 9002
SC_SERIES_DESCRIPTION = "XRayDesk AI overlay - not for diagnosis"


def secondary_capture(analysis: ImageAnalysis, source: Dataset, display: np.ndarray) -> hd.sc.SCImage:
    """The overlay picture of `analysis` on `display` (the image as shown, uint8, any size), as an RGB
    secondary capture in the source's study referencing the source image."""
    if analysis.prediction is None:
        raise ResultsError(analysis.path, f"not analysed ({analysis.check.reason}): there is no overlay to capture")
    header = header_of(source, analysis.path)
    picture_size = capture_size(display.shape)
    picture = overlay_picture(analysis, display)
    series_uid, sop_uid = result_uids(header, analysis, "SC")
    with building("secondary capture", analysis.path):
        capture = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=header, pixel_array=np.asarray(picture), photometric_interpretation="RGB", bits_allocated=8,
            coordinate_system="PATIENT", series_instance_uid=series_uid, series_number=SC_SERIES_NUMBER,
            sop_instance_uid=sop_uid, instance_number=1, manufacturer=MANUFACTURER,
            patient_orientation=("L", "F"),  # highdicom wants one; the source's replaces it below
            transfer_syntax_uid=ExplicitVRLittleEndian,
            series_description=SC_SERIES_DESCRIPTION, manufacturer_model_name=MANUFACTURER,
            software_versions=software_versions(analysis), specific_character_set=CHARACTER_SET)
        capture.copy_patient_and_study_information(header)  # all of them, as the SR has (from_ref_dataset: a few)
    # The orientation is the source's, empty (Type 2) where it has none: XRayDesk does not know it.
    capture.PatientOrientation = header.get("PatientOrientation") or None
    capture.ConversionType = "WSD"  # made on a workstation
    if header.get("BodyPartExamined"):  # the same anatomy; without it, dciodvfy wants Laterality
        capture.BodyPartExamined = header.BodyPartExamined
    capture.BurnedInAnnotation = "YES"
    capture.ImageComments = f"{NOT_FOR_DIAGNOSIS}. {RESEARCH_USE_NOTICE}"
    capture.DerivationDescription = (
        f"{NOT_FOR_DIAGNOSIS}: {analysis.model_version} opacity map (trained on radiologists' boxes), lung outline "
        "and zones over the image as displayed, reduced from {}x{} to {}x{} pixels, with the words in a band "
        "below".format(
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


def capture_display(image: XRayImage) -> np.ndarray:
    """The image at its default window, reduced as the secondary capture shows it (uint8)."""
    display = render_default(image)
    return np.asarray(Image.fromarray(display).resize(capture_size(display.shape), Image.LANCZOS))
