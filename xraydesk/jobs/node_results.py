"""Results waiting in a study (no Qt): the AI node's SR of an image (xraydesk.dicom_results.node_result),
read back in place of an analysis when the model the app has is the one that made it. The app runs
these on its workers: after a scan, for every image, and before analysing an image."""

from collections.abc import Callable

from xraydesk.ai.analysis import Analyser, ImageAnalysis, StudyIdentity, patient_age_years
from xraydesk.imaging import ScanEntry, failure_reason
from xraydesk.imaging.loading import read_dicom


def waiting_result(analyser: Analyser, image_uid: str, objects: list[ScanEntry],
                   identity: Callable[[], StudyIdentity]) -> ImageAnalysis | None:
    """The node's result for the image `image_uid` among `objects` (the pixel-less objects of its study),
    by the model version `analyser` has, or None; `identity()`: the image's, asked only when one is found.
    Raises ResultsError naming the file when the SR cannot be read."""
    from xraydesk.dicom_results import ResultsError
    from xraydesk.dicom_results.node_result import node_report, read_node_result

    version = analyser.model_version()
    path = node_report(image_uid, objects, version)
    if path is None:
        return None
    try:
        report, _ = read_dicom(path)
        return read_node_result(report, identity(), image_uid, version, analyser.metadata()["operating_points"])
    except ResultsError as error:  # named by the file it is in
        raise ResultsError(path, error.reason) from error
    except Exception as error:  # an unreadable file or model metadata, said in one line
        raise ResultsError(path, f"the AI node's result cannot be read ({failure_reason(error)})") from error


def entry_identity(entry: ScanEntry) -> Callable[[], StudyIdentity]:
    """The identity of a scanned DICOM image, its patient's age read from its header when asked for."""

    def identity() -> StudyIdentity:
        header, _ = read_dicom(entry.path, stop_before_pixels=True)
        return StudyIdentity(entry.path, entry.keys, entry.source_format, patient_age_years(header))

    return identity


def waiting_results(analyser: Analyser, wanted: list[tuple[ScanEntry, list[ScanEntry]]], should_stop=lambda: False):
    """For each (image, objects of its study) of `wanted`: its waiting result (an ImageAnalysis), or why
    it could not be read (a str); nothing for an image without one."""
    from xraydesk.dicom_results import ResultsError

    for entry, objects in wanted:
        if should_stop():
            return
        try:
            found = waiting_result(analyser, entry.keys.sop_instance_uid, objects, entry_identity(entry))
        except ResultsError as error:
            yield str(error)
            continue
        if found is not None:
            yield found
