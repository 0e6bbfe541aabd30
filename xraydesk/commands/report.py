"""`xraydesk report PATH... --pdf OUT.pdf`: the app's PDF summary without the window. Files and folders are
scanned (patient → study → series order), each image is analysed, and the PDF gets a page per analysed
image and a trend page per patient with two or more analysed studies. De-identified by default, as in the
app. Exit codes as `xraydesk predict` (xraydesk.commands.common EXIT_*)."""

import argparse
import os
import sys
from pathlib import Path

from xraydesk.ai.analysis import DEFAULT_HEATMAP, HEATMAP_TARGETS
from xraydesk.commands.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    EXIT_SOME_FAILED,
    EXIT_UNUSABLE,
    OutputError,
    Progress,
    check_not_inputs,
)

PROGRAM = "xraydesk report"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=(
        "Analyse chest X-rays (DICOM, PNG, JPEG files or folders) and write the PDF summary: a page per image "
        "and a severity-trend page per patient with two or more analysed studies (same Patient ID). "
        "Research use only; not a medical device."), epilog=(
        "Exit codes: 0 all inputs read, 1 some inputs unreadable (named on stderr; the PDF has the rest), "
        "2 model unavailable (or usage error), 3 the PDF could not be written or there is nothing to report, "
        "130 interrupted (nothing written)."))
    parser.add_argument("paths", nargs="+", help="image files and/or folders (searched recursively)")
    parser.add_argument("--pdf", required=True, type=Path, help="output PDF file")
    parser.add_argument("--identified", action="store_true", help=(
        "keep patient name, ID, dates, study description and file names (default: removed, as in the app)"))
    parser.add_argument("--models", type=Path, help="model folder (default: the shipped models/)")
    parser.add_argument("--include-refused", action="store_true", help=(
        "add a page for each image the input check refused (default: left out, counted on stderr)"))
    parser.add_argument("--overwrite", action="store_true", help="replace an existing PDF")
    parser.add_argument("--target", choices=HEATMAP_TARGETS, default=DEFAULT_HEATMAP, help=(
        f"the map shown: the box-trained opacity map, or the Grad-CAM of an output (default, as in the app: "
        f"{DEFAULT_HEATMAP})"))
    return parser


def _say(message: str) -> None:
    print(f"{PROGRAM}: {message}", file=sys.stderr)


def report_main(argv: list[str], analyser=None) -> int:
    """`analyser`: an Analyser already loaded (a caller that holds one, such as a test); --models then
    does not apply."""
    args = _parser().parse_args(argv)
    try:
        return _report(args, analyser)
    except KeyboardInterrupt:
        _say(f"interrupted; {args.pdf} is unchanged")
        return EXIT_INTERRUPTED


def _report(args, analyser) -> int:
    from xraydesk.ai.analysis import Analyser
    from xraydesk.ai.model import ModelUnavailableError
    from xraydesk.ai.trend import ChangeLimits
    from xraydesk.report import ReportError, trend_pages, write_summary

    if refusal := _pdf_refusal(args):  # before minutes of analysis, not after
        _say(refusal)
        return EXIT_OUTPUT_FAILED
    analyser = analyser or Analyser(args.models)
    try:
        model = analyser.model()
    except ModelUnavailableError as error:
        _say(str(error))
        return EXIT_UNUSABLE
    images, unreadable, skipped = _scan(args.paths)
    if skipped:
        _say(f"skipped {skipped} non-image DICOM objects (DICOMDIR, reports, presentation states)")
    analyses, image_pages, refused, failed = _analyse(analyser, images, args)
    unreadable += failed
    try:
        trends = trend_pages(analyses, lambda: ChangeLimits.from_metadata(model.metadata))
    except ModelUnavailableError as error:
        _say(str(error))
        return EXIT_UNUSABLE
    _say_left_out(unreadable, refused)
    if not image_pages:
        _say(f"nothing to report: no analysed image in {' '.join(args.paths)}; {args.pdf} not written")
        return EXIT_OUTPUT_FAILED
    try:
        write_summary(args.pdf, image_pages + trends, deidentify=not args.identified, overwrite=args.overwrite)
    except ReportError as error:
        _say(f"cannot write the PDF: {error}")
        return EXIT_OUTPUT_FAILED
    _say(f"{model.version}: wrote {args.pdf} ({len(image_pages)} image pages, {len(trends)} trend pages"
         f"{'' if args.identified else ', de-identified'}; {len(unreadable)} unreadable)")
    return EXIT_SOME_FAILED if unreadable else EXIT_OK


def _pdf_refusal(args) -> str | None:
    """Why the PDF cannot be written where asked (None: it can): a folder, an input (`--overwrite` would
    replace it), inside a scanned folder, already there without --overwrite, or in a missing folder."""
    pdf = args.pdf
    if pdf.is_dir():
        return f"--pdf {pdf} is a folder; name a file"
    try:
        check_not_inputs([pdf], args.paths)
    except OutputError as error:
        return str(error)
    if pdf.exists() and not args.overwrite:
        return f"{pdf} already exists; use --overwrite to replace it"
    folder = pdf.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist; create it or name another --pdf"
    if not os.access(folder, os.W_OK):
        return f"cannot write in {folder} (permission denied)"
    return None


def _say_left_out(unreadable: list[tuple[Path, str]], refused: int) -> None:
    for path, reason in unreadable:
        _say(f"cannot read {path}: {reason}")
    if refused:
        _say(f"left out {refused} image{'s' if refused != 1 else ''} the input check refused "
             "(--include-refused adds them)")


def _scan(arguments: list[str]) -> tuple[list[Path], list[tuple[Path, str]], int]:
    """The images found, (path, reason) for each input that is neither an image nor a DICOM object without
    pixels, and the number of those (a DICOMDIR, a report: not inputs, only counted)."""
    from xraydesk.imaging import IMAGE, NON_IMAGE, scan_paths

    entries = scan_paths([Path(argument) for argument in arguments])
    return ([entry.path for entry in entries if entry.kind == IMAGE],
            [(entry.path, entry.reason) for entry in entries if entry.kind not in (IMAGE, NON_IMAGE)],
            sum(entry.kind == NON_IMAGE for entry in entries))


def _analyse(analyser, images: list[Path], args) -> tuple[list, list, int, list[tuple[Path, str]]]:
    """Each image analysed and its page made at once (a page keeps a print-size copy, not the image): the
    analyses reported, their pages, the number of refused images left out, and (path, reason) per failure."""
    from xraydesk.imaging import failure_reason, load_image
    from xraydesk.report import ReportPage

    analyses, pages, refused, failed = [], [], 0, []
    progress = Progress(len(images))
    for path in images:
        try:
            image = load_image(path)
            analysis = analyser.analyse(image)
        except Exception as error:  # noqa: BLE001 - one bad file is named and counted, never the end of the report
            failed.append((path, failure_reason(error)))
            progress.advance()
            continue
        if analysis.prediction is not None or args.include_refused:
            pages.append(ReportPage.of(image, analysis, args.target))
            analyses.append(analysis)
        else:
            refused += 1
        progress.advance()
    progress.close()
    return analyses, pages, refused, failed
