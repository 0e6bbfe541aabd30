"""`xraydesk predict PATH... --csv OUT.csv [--heatmaps DIR]`: one CSV row per image, for research
batches.

Images are analysed in small batches for throughput; one bad file never stops the batch. A
sidecar `OUT.csv.json` records the model version and operating points behind the figures.

`status` says whether the model answered: `ok`, `rejected` (the input check refused the image) or
`error` (unreadable). `reason` says why there is no answer on `rejected`/`error` rows; on `ok` rows
it holds the words behind the flags that need them (why the image is unfamiliar, why the lung mask
is implausible), empty when there are none. So an `ok` row is always an answer, and one with a
reason is an answer with a caveat to read. `flags` lists the model's flags (`model.FLAGS`),
`;`-joined. When the lung mask is implausible, the zones, six-zone score and geographic extent are
left empty: they would be placed on a mask that is not the lungs. `heatmap` is the path of the
opacity map (the box-trained head the app shows) written with `--heatmaps`, empty otherwise. The join keys (`sop_instance_uid` ...
`view_position`) come from the DICOM header, empty for PNG/JPEG; `file_bytes` and `file_mtime_ns`
identify the file analysed, so that `--resume` keeps only rows of unchanged files.

`--dicom-out DIR` writes, for each DICOM input this run analyses, the result back as DICOM into DIR
(xraydesk.dicom_results): a Structured Report in the image's study and, unless the input check refused
the image, a secondary capture of its overlay. PNG and JPEG inputs have no study to attach it to and
get none. The files are written in this process, so it is not offered with a cluster.

Every input file gets a row except recognised non-image DICOM objects (a DICOMDIR, reports). The
CSV is written to a temporary file beside it and renamed over it at the end, so two runs never mix
and a failed run leaves neither a partial CSV nor a temporary file; Ctrl+C keeps the rows done
(`--resume` goes on from them). Paths are written as the file system's bytes (UTF-8 where the name
is; other bytes as they are, so that every path round-trips). Exit codes: EXIT_* in
xraydesk.commands.common."""

import argparse
import datetime
import sys
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from xraydesk.commands.batch import DicomResultWriter, HeatmapWriter, image_paths, predict_rows
from xraydesk.commands.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    EXIT_SOME_FAILED,
    EXIT_UNUSABLE,
    OutputError,
    Progress,
)
from xraydesk.commands.predict_csv import OutputFiles, check_output, kept_rows, ordered_rows


def _provenance(model, arguments: list[str], heatmaps: bool, interrupted: bool = False) -> dict:
    provenance = {"model": model.version, "created": datetime.datetime.now().isoformat(timespec="seconds"),
                  "inputs": arguments, "operating_points": model.metadata["operating_points"],
                  "notice": "Research use only; not a medical device."}
    if heatmaps:
        provenance["heatmap"] = {"map": "opacity head trained on the RSNA radiologists' boxes, 14x14",
                                 "levels": "0-255 = probability 0-1 that the cell holds a pneumonia-like opacity"}
    if interrupted:
        provenance["interrupted"] = True
    return provenance


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xraydesk predict", description=(
        "Analyse chest X-rays (PNG, JPEG, DICOM files or folders) and write one CSV row per image. "
        "Research use only; not a medical device."), epilog=(
        "Exit codes: 0 all analysed, 1 some inputs unreadable, 2 model unavailable (or usage error), "
        "3 output could not be written, 130 interrupted (the rows done are kept; --resume goes on)."))
    parser.add_argument("paths", nargs="+", help="image files and/or folders (searched recursively)")
    parser.add_argument("--csv", required=True, type=Path, help="output CSV file")
    parser.add_argument("--models", type=Path, help="model folder (default: the shipped models/)")
    parser.add_argument("--heatmaps", type=Path, metavar="DIR", help=(
        "write each analysed image's pneumonia heatmap to DIR as an 8-bit grayscale PNG at the image's "
        "own pixel size; the CSV's heatmap column gives its path"))
    parser.add_argument("--dicom-out", type=Path, metavar="DIR", help=(
        "for each DICOM input analysed in this run, write the result back as DICOM into DIR: a Structured "
        "Report in the image's study and, unless the input check refused the image, an RGB secondary capture "
        "of its overlay (PNG/JPEG inputs get none); not with --workers/--scheduler"))
    parser.add_argument("--resume", action="store_true", help=(
        "when the CSV exists, keep its complete rows of unchanged files (same path, size and mtime) "
        "and analyse only the inputs it lacks"))
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--scheduler", metavar="ADDRESS", help=(
        "analyse on the Dask distributed cluster whose scheduler is at ADDRESS (e.g. tcp://host:8786); "
        "the inputs, models and --heatmaps folder must be at the same paths on its workers"))
    cluster.add_argument("--workers", type=int, metavar="N", help=(
        "analyse in N worker processes on this machine (a Dask LocalCluster)"))
    return parser


@contextmanager
def _analysis(args, model, progress: Progress):
    """What turns a list of image paths into rows: this process, or the Dask cluster asked for."""
    if args.scheduler or args.workers:
        from xraydesk.commands.cluster import cluster_rows
        from xraydesk.jobs.cluster import cluster_client

        with cluster_client(args.scheduler, args.workers) as client:
            yield lambda paths: cluster_rows(client, paths, args.models, args.heatmaps, progress)
        return
    heatmaps = HeatmapWriter(args.heatmaps) if args.heatmaps else None
    dicom = DicomResultWriter(model, args.dicom_out) if args.dicom_out else None
    yield lambda paths: predict_rows(model, paths, progress, heatmaps, dicom)
    if dicom:
        progress.close()
        print("\n".join(dicom.summary()), file=sys.stderr)


def _fail(message: str, code: int) -> int:
    print(f"xraydesk predict: {message}", file=sys.stderr)
    return code


def predict_main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.dicom_out and (args.workers or args.scheduler):
        # the DICOM results are written where the image is read; Dask workers return only CSV rows
        parser.error("--dicom-out works in this process only: leave out --workers/--scheduler")
    try:
        return _predict(args)
    except KeyboardInterrupt:  # while the model loads or the inputs are scanned: no row yet
        return _fail(f"interrupted before any row was written; {args.csv} is unchanged", EXIT_INTERRUPTED)


def _predict(args) -> int:
    from xraydesk.ai.model import ChestXRayModel, ModelUnavailableError

    try:
        model = ChestXRayModel.load(args.models)
    except ModelUnavailableError as error:
        return _fail(str(error), EXIT_UNUSABLE)
    images, error_rows, skipped = image_paths(args.paths)
    if skipped:
        print(f"skipped {skipped} non-image DICOM objects (DICOMDIR, reports, presentation states)", file=sys.stderr)
    try:
        check_output(args.csv, args.paths, args.heatmaps, args.dicom_out)
        kept = kept_rows(args.csv, model.version, images) if args.resume and args.csv.exists() else {}
        output = OutputFiles(args.csv)
    except (OutputError, OSError) as error:
        return _fail(str(error), EXIT_OUTPUT_FAILED)
    if kept:
        print(f"resuming: {len(kept)} rows kept from {args.csv}", file=sys.stderr)
    progress = Progress(sum(str(path) not in kept for path in images))
    return _write_rows(args, model, output, progress, lambda analyse: ordered_rows(images, error_rows, kept, analyse))


def _write_rows(args, model, output: OutputFiles, progress: Progress, rows_of) -> int:
    """Writes `rows_of(analyse)` (analyse: this process's or the cluster's) and commits the output;
    an interruption keeps the rows done, any other failure leaves everything as it was."""
    from xraydesk.ai.model import ModelUnavailableError
    from xraydesk.jobs.cluster import ClusterUnavailableError

    provenance = partial(_provenance, model, args.paths, bool(args.heatmaps))
    try:
        with _analysis(args, model, progress) as analyse:
            for row in rows_of(analyse):
                output.write(row)
        output.commit(provenance())
    except KeyboardInterrupt:
        progress.close()
        output.commit(provenance(interrupted=True))
        return _fail(f"interrupted: the {output.rows} complete rows are in {args.csv}; run again with --resume "
                     "to analyse the rest", EXIT_INTERRUPTED)
    except (ModelUnavailableError, ClusterUnavailableError) as error:
        progress.close()
        output.discard()
        return _fail(str(error), EXIT_UNUSABLE)
    except OSError as error:
        progress.close()
        output.discard()
        return _fail(f"cannot write the output ({error}); {args.csv} is unchanged", EXIT_OUTPUT_FAILED)
    progress.close()
    print(f"{model.version}: wrote {args.csv} ({output.rows} rows, {output.errors} errors)", file=sys.stderr)
    return EXIT_SOME_FAILED if output.errors else EXIT_OK
