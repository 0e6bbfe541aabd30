"""Sending AI results to a PACS: the DICOM SR and secondary capture of each analysed DICOM image
(xraydesk.dicom_results), written into the local store's results folder (never beside a user's
source files), then stored by C-STORE or STOW-RS in one go; one outcome per image, in words. The
app's Send results runs it on a worker, `xraydesk pacs send-results` in the foreground."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.imaging import XRayImage, failure_reason
from xraydesk.pacs.client import client_for
from xraydesk.pacs.local_store import LocalStore, safe_name
from xraydesk.pacs.nodes import LocalSide, Node, PacsError

RESULTS_FOLDER = "results"  # in the local store, one folder per study
NOT_ANALYSED = "skipped: not analysed yet (Analysis ▸ Analyse image)"

Report = Callable[[tuple[str, int, int]], None]  # (words, done, total)
ReadingFiles = Callable[[XRayImage], list[tuple[str, Path]]]  # the reader's saved work on an image: (what, file)
WithMaps = Callable[[ImageAnalysis, XRayImage], ImageAnalysis]  # Analyser.with_maps: an AI node's answer's maps


@dataclass(frozen=True)
class ImageOutcome:
    """What became of one image's results: sent, skipped or failed, and why in words."""

    path: Path
    ok: bool
    message: str


def failure_words(error: Exception) -> str:
    """One line for the user: where and why, never a traceback."""
    if isinstance(error, PacsError):
        return str(error)
    return failure_reason(error)


def results_folder(store: LocalStore, study_uid: str) -> Path:
    return store.root / RESULTS_FOLDER / safe_name(study_uid)


def send_results(node: Node, local: LocalSide, paths: list[Path], analyses: Mapping[Path, ImageAnalysis],
                 image_for: Callable[[Path], XRayImage], store: LocalStore, report: Report = lambda step: None,
                 should_stop: Callable[[], bool] = lambda: False,
                 reading_files: ReadingFiles | None = None, with_maps: WithMaps | None = None) -> list[ImageOutcome]:
    """One ImageOutcome per path, in order, with the reader's saved work on each image (`reading_files`:
    (what, file) of it); an image with neither an analysis nor saved work is skipped, saying so.
    `with_maps` computes the heatmap and zones an AI node's answer lacks before its secondary capture is
    drawn. Raises PacsError when the node fails as a whole (nothing sent)."""
    node.check()
    outcomes, written, what = _write_results(paths, analyses, image_for, store, report, should_stop, reading_files,
                                             with_maps)
    if written:
        files = [file for files in written.values() for file in files]
        sent = client_for(node, local).send(files, should_stop=should_stop,
                                            progress=lambda done, total: report(("Sending", done, total)))
        by_file = {outcome.path: outcome for outcome in sent}
        for path, files in written.items():
            failures = [by_file[file].message for file in files if not by_file[file].ok]
            outcomes[path] = ImageOutcome(path, not failures, "; ".join(failures) if failures else
                                          f"sent ({', '.join(what[path])})")
    return [outcomes[path] for path in paths]


def _write_results(paths, analyses, image_for, store, report, should_stop, reading_files, with_maps):
    """(outcomes of the images not written, the files written per image, what they are in words per image)."""
    from xraydesk.dicom_results import ResultsError, source_header, write_results  # highdicom: on first use

    outcomes: dict[Path, ImageOutcome] = {}
    written: dict[Path, list[Path]] = {}
    what: dict[Path, list[str]] = {}
    for index, path in enumerate(paths):
        report(("Writing results", index, len(paths)))
        analysis = analyses.get(path)
        if should_stop():
            outcomes[path] = ImageOutcome(path, False, "not sent: cancelled")
            continue
        try:
            image = image_for(path) if analysis is not None or reading_files else None
            saved = reading_files(image) if reading_files else []
            if analysis is None and not saved:
                outcomes[path] = ImageOutcome(path, False, NOT_ANALYSED)
                continue
            written[path], what[path] = [file for _what, file in saved], [words for words, _file in saved]
            if analysis is not None:
                folder = results_folder(store, str(source_header(image).StudyInstanceUID))
                results = write_results(with_maps(analysis, image) if with_maps else analysis, image, folder)
                written[path][:0] = results
                what[path][:0] = ["SR and secondary capture" if len(results) > 1 else "SR"]
        except Exception as error:  # noqa: BLE001 - one image's failure, listed beside it
            written.pop(path, None)
            words = str(error) if isinstance(error, ResultsError) else failure_words(error)
            outcomes[path] = ImageOutcome(path, False, f"skipped: {words}")
    return outcomes, written, what
