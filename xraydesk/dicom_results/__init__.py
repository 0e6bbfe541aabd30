"""The AI result back into the hospital's record (no Qt): for an analysed DICOM image, a DICOM
Structured Report and a secondary capture in the image's own study, written with highdicom.

Both objects carry the source's Study Instance UID and its patient and study attributes as they are
(no de-identification: they go back to the same archive), sit in series of their own, and reference the
source image. Their Series and SOP Instance UIDs are derived from the source's and the model version
(source.result_uids): the same image and model always give the same objects, so that sending them
again never makes a duplicate. A value the source holds that is invalid for its
Value Representation (the RSNA films give Patient's Age as "51", not "051Y"), or a Patient's Sex
outside M/F/O, is not copied (left out, or empty where the attribute is Type 2): a strict archive
refuses an object with it, and the source keeps its own. A header highdicom cannot use (an image SOP
class it does not know) gives a ResultsError, as does a PNG or JPEG, which has no study at all.

The package sits above xraydesk.ai, beside xraydesk.report; the PACS layer sends its files but does
not make them. source: the header a result needs; codes and structured_report: the TID 1500 SR;
overlay_picture and secondary_capture: the RGB capture; files: both written out. reading_record: the
reader's own work on an image, its measurements as a TID 1500 SR and its key-image mark as a Key
Object Selection document, written and read back (xraydesk.jobs.saved_reading keeps them)."""

from xraydesk.dicom_results.files import result_datasets, write_dataset, write_datasets, write_results
from xraydesk.dicom_results.secondary_capture import capture_display
from xraydesk.dicom_results.source import ResultsError, header_of, source_header

__all__ = ["ResultsError", "capture_display", "header_of", "result_datasets", "source_header",
           "write_dataset", "write_datasets", "write_results"]
