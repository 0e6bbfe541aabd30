"""`xraydesk export PATH... --to DIR --deidentify`: de-identified copies of the DICOM images in files, folders
and DICOMDIR trees (xraydesk.imaging.deidentify: the PS3.15 basic profile, dates shifted per patient), each
written as DIR/<study UID>/<SOP Instance UID>.dcm under its new UIDs, pixel data unchanged. The sources are
only read, and DIR may be neither an input, nor inside a scanned folder, nor hold an input. The app's
File ▸ Export ▸ De-identified DICOM runs the same export_deidentified.

Refused, each named with the reason: images whose Burned In Annotation is YES, images the profile cannot be
applied to, unreadable files. Skipped and counted: PNG/JPEG images (no header) and DICOM objects without
pixels (a DICOMDIR, reports, presentation states: their free text is not de-identified here)."""

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from xraydesk.commands.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    EXIT_SOME_FAILED,
    OutputError,
    Progress,
    check_not_inputs,
)

PROGRAM = "xraydesk export"


@dataclass
class ExportSummary:
    folder: Path
    written: list[Path] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)  # (source, why it was not exported)
    skipped: int = 0  # PNG/JPEG images and DICOM objects without pixels
    unstated_burned_in: int = 0  # exported images whose header does not say whether text is burned in
    stopped: bool = False  # should_stop ended the export early

    def lines(self) -> list[str]:
        studies = len({path.parent for path in self.written})
        lines = [f"wrote {len(self.written)} de-identified DICOM file{'s' * (len(self.written) != 1)} "
                 f"({studies} stud{'ies' if studies != 1 else 'y'}) to {self.folder}"]
        if self.stopped:
            lines.append("stopped before the end: the other images were not exported")
        lines += [f"not exported {path}: {reason}" for path, reason in self.refused]
        if self.skipped:
            lines.append(f"skipped {self.skipped} files that are not DICOM images (PNG/JPEG, DICOMDIR, reports, "
                         "presentation states)")
        if self.unstated_burned_in:
            lines.append(f"{self.unstated_burned_in} exported images do not state whether text is burned into "
                         "their pixels (Burned In Annotation): look at them before sharing")
        return lines


def check_destination(folder: Path, inputs: list) -> None:
    """Raises OutputError when `folder` is a file, an input, inside a scanned folder, or holds an input
    (the copies would sit among the originals)."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file; name a folder")
    check_not_inputs([folder], [str(path) for path in inputs])
    for path in map(Path, inputs):
        if Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder)):
            raise OutputError(f"the input {path} lies inside {folder}; the de-identified copies would sit among "
                              "the originals: choose another folder")


def export_deidentified(inputs: list, folder: Path, on_progress: Callable[[int, int], None] | None = None,
                        should_stop: Callable[[], bool] | None = None, pseudonyms=None) -> ExportSummary:
    """Writes the de-identified copies of the DICOM images found in `inputs` into `folder`, with one key for
    the whole export (`pseudonyms`, by default a new one). Raises OutputError before anything is written
    when the folder is refused (check_destination), and when a file cannot be written (the files written
    before it are complete and stay). `on_progress(done, total)` follows the images."""
    from xraydesk.imaging import ERROR, IMAGE, NON_IMAGE, scan_paths
    from xraydesk.imaging.deidentify import Pseudonyms

    check_destination(folder, inputs)
    pseudonyms = pseudonyms or Pseudonyms()
    entries = scan_paths([Path(path) for path in inputs], should_stop=should_stop)
    images = [entry.path for entry in entries if entry.kind == IMAGE and entry.source_format == "DICOM"]
    summary = ExportSummary(folder, refused=[(entry.path, entry.reason) for entry in entries if entry.kind == ERROR],
                            skipped=sum(entry.kind in (IMAGE, NON_IMAGE) for entry in entries) - len(images))
    for done, path in enumerate(images, start=1):
        if should_stop and should_stop():
            summary.stopped = True
            break
        _export(path, pseudonyms, summary)
        if on_progress:
            on_progress(done, len(images))
    return summary


def _export(path: Path, pseudonyms, summary: ExportSummary) -> None:
    from xraydesk.dicom_results import ResultsError, write_datasets
    from xraydesk.imaging import failure_reason
    from xraydesk.imaging.deidentify import DeidentificationError, deidentify
    from xraydesk.imaging.loading import read_dicom, warnings_silenced

    try:
        dataset, _ = read_dicom(path)
        unstated = "BurnedInAnnotation" not in dataset
        with warnings_silenced():  # a source's values that break their VR's rules are replaced, not reported
            deidentify(dataset, pseudonyms)
    except DeidentificationError as error:
        summary.refused.append((path, str(error)))
        return
    except Exception as error:  # noqa: BLE001 - one unreadable file is named, never the end of the export
        summary.refused.append((path, failure_reason(error)))
        return
    try:
        [written] = write_datasets([dataset], summary.folder / dataset.StudyInstanceUID)
    except ResultsError:  # the file of an image already exported (the same image in two files)
        summary.refused.append((path, "its SOP Instance UID is that of an image already exported"))
        return
    except OSError as error:
        raise OutputError(f"cannot write in {summary.folder} ({error.strerror or error}); "
                          f"{len(summary.written)} files were written before") from error
    except Exception as error:  # noqa: BLE001 - a value pydicom cannot encode: this file only
        summary.refused.append((path, f"cannot be written as DICOM ({failure_reason(error)})"))
        return
    summary.written.append(written)
    summary.unstated_burned_in += unstated


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=(
        "Copy the DICOM images in files, folders and DICOMDIR trees into a folder, de-identified by the DICOM "
        "PS3.15 Basic Application Level Confidentiality Profile: names, IDs and UIDs replaced consistently "
        "within the export (a new key each time), dates moved back by a per-patient number of days, private "
        "attributes removed, pixel data unchanged. Research use only; not a medical device."), epilog=(
        "Exit codes: 0 every DICOM image exported, 1 some refused or unreadable (named on stderr), 2 usage "
        "error, 3 the folder is refused (an input, inside a scanned folder, or holding an input) or cannot be "
        "written, 130 interrupted (the files written stay)."))
    parser.add_argument("paths", nargs="+", help="DICOM files, folders (searched recursively) and DICOMDIR files")
    parser.add_argument("--to", required=True, type=Path, metavar="DIR", help="the folder the copies go to")
    parser.add_argument("--deidentify", action="store_true", help=(
        "apply the confidentiality profile (required: XRayDesk exports de-identified copies only)"))
    return parser


def _say(message: str) -> None:
    print(f"{PROGRAM}: {message}", file=sys.stderr)


def export_main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.deidentify:
        parser.error("only de-identified copies are exported: add --deidentify")
    progress: list[Progress] = []  # made when the first image is done: the scan gives the count

    def advance(done: int, total: int) -> None:
        progress or progress.append(Progress(total))
        progress[0].advance()

    try:
        summary = export_deidentified(args.paths, args.to, advance)
    except (OutputError, KeyboardInterrupt) as error:
        progress and progress[0].close()
        interrupted = isinstance(error, KeyboardInterrupt)
        _say(f"interrupted; the files written so far stay in {args.to}" if interrupted else str(error))
        return EXIT_INTERRUPTED if interrupted else EXIT_OUTPUT_FAILED
    progress and progress[0].close()
    for line in summary.lines():
        _say(line)
    return EXIT_SOME_FAILED if summary.refused else EXIT_OK
