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
pneumonia map written with `--heatmaps`, empty otherwise. The join keys (`sop_instance_uid` ...
`view_position`) come from the DICOM header, empty for PNG/JPEG; `file_bytes` and `file_mtime_ns`
identify the file analysed, so that `--resume` keeps only rows of unchanged files.

`--dicom-out DIR` writes, for each DICOM input this run analyses, the result back as DICOM into DIR
(xraydesk.pacs.results): a Structured Report in the image's study and, unless the input check refused
the image, a secondary capture of its overlay. PNG and JPEG inputs have no study to attach it to and
get none. The files are written in this process, so it is not offered with a cluster.

Every input file gets a row except recognised non-image DICOM objects (a DICOMDIR, reports). The
CSV is written to a temporary file beside it and renamed over it at the end, so two runs never mix
and a failed run leaves neither a partial CSV nor a temporary file; Ctrl+C keeps the rows done
(`--resume` goes on from them). Paths are written as the file system's bytes (UTF-8 where the name
is; other bytes as they are, so that every path round-trips). Exit codes: EXIT_* below."""

import argparse
import csv
import datetime
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xraydesk.ai.gate import InputCheck
from xraydesk.ai.outputs import ZONES

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

# Join keys a researcher links the rows to other tables with: column -> DICOM keyword.
JOIN_KEYS = {"sop_instance_uid": "SOPInstanceUID", "study_instance_uid": "StudyInstanceUID",
             "series_instance_uid": "SeriesInstanceUID", "patient_id": "PatientID", "study_date": "StudyDate",
             "view_position": "ViewPosition"}
COLUMNS = ["path", "status", "reason", "p_normal", "p_bacterial", "p_viral", "p_covid", "p_pneumonia",
           "pneumonia_positive", "covid_positive", *[f"zone_{zone}" for zone in ZONES],
           "six_zone_score", "geographic_extent", "seconds", "flags", "heatmap", *JOIN_KEYS,
           "file_bytes", "file_mtime_ns"]
STATUSES = ("ok", "rejected", "error")
BATCH_SIZE = 16
EXIT_OK = 0  # every input analysed or rejected by the input check
EXIT_SOME_FAILED = 1  # some inputs unreadable (their rows say why)
EXIT_UNUSABLE = 2  # the model (or the cluster asked for) is unavailable; also argparse's usage errors
EXIT_OUTPUT_FAILED = 3  # the CSV, its sidecar or a heatmap could not be written (or resumed); nothing written
EXIT_INTERRUPTED = 130  # Ctrl+C: the rows done so far are in the CSV
CSV_ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}


class OutputError(Exception):
    """The output cannot be written where asked; str() is the one line said to the user."""


@dataclass(frozen=True)
class DicomSource:
    header: "Dataset"  # the source's header without its pixels
    display: np.ndarray  # the image at its default window, reduced for the secondary capture


@dataclass
class Pending:
    path: Path
    model_input: np.ndarray
    prior_check: InputCheck
    seconds: float
    shape: tuple[int, int]  # (height, width) of the image as loaded
    keys: dict = field(default_factory=dict)  # JOIN_KEYS columns
    dicom: DicomSource | None = None  # what --dicom-out needs of a DICOM image, kept instead of its pixels


def join_keys(dataset) -> dict:
    if dataset is None:
        return {}
    return {column: str(dataset.get(keyword) or "") for column, keyword in JOIN_KEYS.items()}


def file_fingerprint(path: Path) -> dict:
    """Size and modification time, the file's identity for `--resume` (empty when it cannot be read)."""
    try:
        status = os.stat(path)
    except OSError:
        return {}
    return {"file_bytes": str(status.st_size), "file_mtime_ns": str(status.st_mtime_ns)}


def outcome_row(path: Path, outcome, seconds: float, heatmap: str = "") -> dict:
    row = {"path": str(path), "seconds": f"{seconds:.3f}"}
    if outcome.prediction is None:
        return {**row, "status": "rejected", "reason": outcome.check.reason}
    p = outcome.prediction
    row.update(status="ok", reason=caveats(outcome), p_normal=f"{p.p_normal:.4f}",
               p_bacterial=f"{p.p_bacterial:.4f}", p_viral=f"{p.p_viral:.4f}", p_covid=f"{p.p_covid:.4f}",
               p_pneumonia=f"{p.p_pneumonia:.4f}", pneumonia_positive=int(p.pneumonia_positive),
               covid_positive=int(p.covid_positive), flags=";".join(outcome.flags), heatmap=heatmap)
    if outcome.lung_check.plausible:
        row.update(six_zone_score=p.six_zone_score, geographic_extent=f"{p.geographic_extent:.2f}")
        row.update({f"zone_{zone}": f"{value:.4f}" for zone, value in zip(ZONES, p.zone_probabilities)})
    return row


def caveats(outcome) -> str:
    """The words behind an analysed image's flags, for its `reason` cell."""
    return "; ".join(words for words in (outcome.check.unfamiliar, outcome.lung_check.reason) if words)


def error_row(path: Path, reason: str, seconds: float = 0.0) -> dict:
    return {"path": str(path), "status": "error", "reason": reason, "seconds": f"{seconds:.3f}"}


def heatmap_file_name(path: Path) -> str:
    """A PNG name for the map of the image at `path`: readable, safe on any file system, and
    unique to the path (two `chest.png` in different folders get different names)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem)[:60].strip("_") or "image"
    digest = hashlib.sha1(os.fsencode(path.resolve())).hexdigest()[:12]
    return f"{stem}-{digest}.png"


def pneumonia_maps(gradcam, inputs: np.ndarray, outcomes) -> dict[int, np.ndarray]:
    """The pneumonia Grad-CAM of each analysed image of the batch, by its index in the batch."""
    analysed = [i for i, outcome in enumerate(outcomes) if outcome.prediction is not None]
    return dict(zip(analysed, gradcam.heatmaps(inputs[analysed], "pneumonia"))) if analysed else {}


class HeatmapWriter:
    """`--heatmaps DIR`: each analysed image's pneumonia map as an 8-bit grayscale PNG at the
    image's own pixel size, stretched as the image was squashed for the model."""

    def __init__(self, gradcam, folder: Path):
        self.gradcam, self.folder = gradcam, folder
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, pending: list[Pending], maps: dict[int, np.ndarray]) -> list[str]:
        """The path written for each image, "" for those the model did not analyse (no map)."""
        from PIL import Image

        from xraydesk.ai.gradcam import upsample

        paths = [""] * len(pending)
        for i, heatmap in maps.items():
            levels = np.round(np.clip(upsample(heatmap, pending[i].shape), 0.0, 1.0) * 255).astype(np.uint8)
            target = self.folder / heatmap_file_name(pending[i].path)
            Image.fromarray(levels).save(target)
            paths[i] = str(target)
        return paths


class DicomResultWriter:
    """`--dicom-out DIR`: each DICOM image's SR and (when analysed) secondary capture, written into
    DIR as the batch goes; counts what it wrote and what it could not, for the closing summary."""

    def __init__(self, model, gradcam, folder: Path):
        self.model, self.gradcam, self.folder = model, gradcam, folder  # gradcam: for pneumonia_maps
        folder.mkdir(parents=True, exist_ok=True)
        self.files = self.not_dicom = 0
        self.failures: list[str] = []

    def source(self, image) -> DicomSource | None:
        """What the results need of `image`; None for PNG/JPEG (counted) or a header without its UIDs."""
        from xraydesk.pacs import results

        if image.source_format != "DICOM":
            self.not_dicom += 1
            return None
        try:
            return DicomSource(results.source_header(image), results.capture_display(image))
        except results.ResultsError as error:
            self.failures.append(str(error))
            return None

    def write(self, pending: list[Pending], outcomes, maps: dict[int, np.ndarray]) -> None:
        from xraydesk.ai.analysis import ImageAnalysis, StudyIdentity
        from xraydesk.pacs import results

        for index, (item, outcome) in enumerate(zip(pending, outcomes)):
            if item.dicom is None:
                continue
            heatmaps = {"pneumonia": maps[index]} if index in maps else {}
            analysis = ImageAnalysis.of_outcome(StudyIdentity(item.path), self.model, outcome, heatmaps)
            try:
                datasets = results.result_datasets(analysis, item.dicom.header, item.dicom.display)
                self.files += len(results.write_datasets(datasets, self.folder))
            except results.ResultsError as error:
                self.failures.append(str(error))

    def summary(self) -> list[str]:
        lines = [f"wrote {self.files} DICOM result files (SR and secondary captures) to {self.folder}"]
        if self.not_dicom:
            lines.append(f"{self.not_dicom} PNG/JPEG inputs got no DICOM result: they have no study to attach it to")
        return lines + [f"no DICOM result for {failure}" for failure in self.failures]


class Progress:
    """A one-line progress bar with ETA on stderr."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.stream, self.start = total, 0, stream, time.perf_counter()
        self.closed = False

    def advance(self, count: int = 1) -> None:
        self.done += count
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        filled = int(30 * self.done / max(self.total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} "
                          f"{elapsed:.0f}s elapsed, ETA {eta:.0f}s ")
        self.stream.flush()

    def close(self) -> None:
        """Ends the bar's line (once: a summary may follow it before the run's last words)."""
        if not self.closed:
            self.stream.write("\n")
            self.closed = True


def _prepare(path: Path, dicom: DicomResultWriter | None = None) -> Pending | dict:
    from xraydesk.ai.inputs import prepare_image
    from xraydesk.imaging import failure_reason, load_image

    start = time.perf_counter()
    try:
        image = load_image(path)
        model_input, check = prepare_image(image)
    except Exception as error:  # an unforeseen decoder failure stays one row, not the whole batch
        return error_row(path, failure_reason(error), time.perf_counter() - start)
    return Pending(path, model_input, check, time.perf_counter() - start, (image.height, image.width),
                   join_keys(image.dataset), dicom.source(image) if dicom else None)


def _analyse(model, pending: list[Pending], heatmaps: HeatmapWriter | None,
             dicom: DicomResultWriter | None = None) -> list[dict]:
    start = time.perf_counter()
    inputs = np.stack([p.model_input for p in pending])
    outcomes = model.analyse_inputs(inputs, [p.prior_check for p in pending])
    writer = heatmaps or dicom
    maps = pneumonia_maps(writer.gradcam, inputs, outcomes) if writer else {}  # once for both outputs
    written = heatmaps.write(pending, maps) if heatmaps else [""] * len(pending)
    if dicom:
        dicom.write(pending, outcomes, maps)
    share = (time.perf_counter() - start) / len(pending)
    return [{**outcome_row(p.path, outcome, p.seconds + share, heatmap), **p.keys}
            for p, outcome, heatmap in zip(pending, outcomes, written)]


def predict_rows(model, paths: list[Path], progress: Progress | None = None,
                 heatmaps: HeatmapWriter | None = None, dicom: DicomResultWriter | None = None):
    """Yields one CSV row (dict) per image, in the order given. The model sees the readable images
    of each BATCH_SIZE consecutive paths together: fixed by position, so that a cluster worker given
    a multiple of BATCH_SIZE paths forms the same batches and gives the very same figures."""
    for start in range(0, len(paths), BATCH_SIZE):
        prepared = [_prepare(path, dicom) for path in paths[start:start + BATCH_SIZE]]
        pending = [item for item in prepared if isinstance(item, Pending)]
        analysed = iter(_analyse(model, pending, heatmaps, dicom) if pending else [])
        yield from (next(analysed) if isinstance(item, Pending) else item for item in prepared)
        progress and progress.advance(len(prepared))


def image_paths(arguments: list[str]) -> tuple[list[Path], list[dict], int]:
    """Expands files and folders: (images, error rows for the other files, DICOM non-image objects skipped)."""
    from xraydesk.imaging import IMAGE, NON_IMAGE, scan_paths

    entries = scan_paths([Path(argument) for argument in arguments])
    images = [entry.path for entry in entries if entry.kind == IMAGE]
    errors = [error_row(entry.path, entry.reason) for entry in entries if entry.kind not in (IMAGE, NON_IMAGE)]
    return images, errors, sum(entry.kind == NON_IMAGE for entry in entries)


def _provenance(model, arguments: list[str], heatmaps: bool, interrupted: bool = False) -> dict:
    provenance = {"model": model.version, "created": datetime.datetime.now().isoformat(timespec="seconds"),
                  "inputs": arguments, "operating_points": model.metadata["operating_points"],
                  "notice": "Research use only; not a medical device."}
    if heatmaps:
        provenance["heatmap"] = model.metadata["heatmap"]
    if interrupted:
        provenance["interrupted"] = True
    return provenance


# ---------------------------------------------------------------- where the output goes


def sidecar_path(csv_path: Path) -> Path:
    return Path(f"{csv_path}.json")


def _inside(path: Path, folder: Path) -> bool:
    """Whether the scan of `folder` would reach `path` (it skips names starting with a dot)."""
    try:
        relative = Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
    except ValueError:
        return False
    return not any(part.startswith(".") for part in relative.parts)


def check_not_inputs(outputs: Iterable[Path | None], arguments: list[str]) -> None:
    """No output (None: not asked for) may overwrite an input, nor land where this run's scan (or a later
    `--resume`) would read it as an input."""
    for output in filter(None, outputs):
        for argument in map(Path, arguments):
            if os.path.realpath(output) == os.path.realpath(argument):
                raise OutputError(f"{output} is one of the inputs; write the output elsewhere")
            if argument.is_dir() and _inside(output, argument):
                raise OutputError(f"{output} lies inside the scanned folder {argument}; it would be read as an "
                                  "input: write the output elsewhere")


def check_output(csv_path: Path, arguments: list[str], *folders: Path | None) -> None:
    """Before the run: the CSV, its sidecar and the output folders (heatmaps, DICOM results) are no inputs."""
    if csv_path.is_dir():
        raise OutputError(f"--csv {csv_path} is a folder; name a file")
    check_not_inputs((csv_path, sidecar_path(csv_path), *folders), arguments)


def readable_mode() -> int:
    # mkstemp makes the file private; the CSV gets the mode a plain open() would give it.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _temporary_beside(target: Path):
    """A new text file in the target's folder (a unique name: concurrent runs never share it)."""
    try:
        descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as error:
        raise OutputError(f"cannot write in {target.parent} ({error.strerror})") from error
    os.fchmod(descriptor, readable_mode())
    return open(descriptor, "w", newline="", **CSV_ENCODING), Path(name)


class OutputFiles:
    """The sidecar and the CSV, each written to a temporary file and renamed into place by `commit`
    (the later of two runs wins whole); `discard` removes the temporary files."""

    def __init__(self, csv_path: Path):
        self.files: list[tuple] = []  # (handle, temporary path, target path)
        try:
            for target in (sidecar_path(csv_path), csv_path):
                self.files.append((*_temporary_beside(target), target))
        except OutputError:
            self.discard()
            raise
        (self.sidecar, _, _), (table, _, _) = self.files
        self.writer = csv.DictWriter(table, fieldnames=COLUMNS, restval="")
        self.writer.writeheader()
        self.rows = self.errors = 0

    def write(self, row: dict) -> None:
        self.writer.writerow(row)
        self.rows += 1
        self.errors += row["status"] == "error"

    def commit(self, provenance: dict) -> None:
        self.sidecar.write(json.dumps(provenance, indent=2) + "\n")
        for handle, _, _ in self.files:
            handle.close()
        for _, temporary, target in self.files:
            os.replace(temporary, target)

    def discard(self) -> None:
        for handle, temporary, _ in self.files:
            try:
                handle.close()
            except OSError:  # a full disk refuses the last flush too; the file goes anyway
                pass
            temporary.unlink(missing_ok=True)


# ---------------------------------------------------------------- --resume


def _complete(row: dict) -> bool:
    """A row of a run that was cut off is whole or absent, but a CSV edited or cut by hand may not be."""
    return None not in row and None not in row.values() and row["status"] in STATUSES


def kept_rows(csv_path: Path, model_version: str, images: list[Path]) -> dict[str, str]:
    """The complete rows of an earlier run for these images whose file is unchanged (same path,
    size and mtime), as CSV lines by path: a line costs a tenth of a row's dict, and an archive's CSV
    has a million rows."""
    sidecar = sidecar_path(csv_path)
    if sidecar.exists():
        earlier = json.loads(sidecar.read_text()).get("model")
        if earlier != model_version:
            raise OutputError(f"cannot resume {csv_path}: made by {earlier}, not {model_version}; "
                              "write to a new CSV")
    wanted = {str(path) for path in images}
    with open(csv_path, newline="", **CSV_ENCODING) as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != COLUMNS:
            raise OutputError(f"cannot resume {csv_path}: its columns are not this version's; write to a new CSV")
        return {row["path"]: _csv_line(row) for row in reader
                if row["path"] in wanted and _complete(row) and file_fingerprint(Path(row["path"])) == {
                    "file_bytes": row["file_bytes"], "file_mtime_ns": row["file_mtime_ns"]}}


def _csv_line(row: dict) -> str:
    line = io.StringIO()
    csv.DictWriter(line, fieldnames=COLUMNS).writerow(row)
    return line.getvalue()


def _row_of_line(line: str) -> dict:
    return next(csv.DictReader([line], fieldnames=COLUMNS))


def ordered_rows(images: list[Path], error_rows: list[dict], kept: dict[str, str],
                 analyse: Callable[[list[Path]], Iterator[dict]]) -> Iterator[dict]:
    """The scan's error rows, then one row per image in input order: kept rows as they were, the
    others analysed. Fresh rows get the file's fingerprint."""
    for row in error_rows:
        yield {**row, **file_fingerprint(Path(row["path"]))}
    analysed = analyse([path for path in images if str(path) not in kept])
    for path in images:
        yield _row_of_line(kept[str(path)]) if str(path) in kept else {**next(analysed), **file_fingerprint(path)}


# ---------------------------------------------------------------- the command


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
        from xraydesk.ai.cluster import cluster_client, cluster_rows

        with cluster_client(args.scheduler, args.workers) as client:
            yield lambda paths: cluster_rows(client, paths, args.models, args.heatmaps, progress)
        return
    from xraydesk.ai.gradcam import GradCam

    gradcam = GradCam.from_metadata(model.classifier, model.metadata) if args.heatmaps or args.dicom_out else None
    heatmaps = HeatmapWriter(gradcam, args.heatmaps) if args.heatmaps else None
    dicom = DicomResultWriter(model, gradcam, args.dicom_out) if args.dicom_out else None
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
    from xraydesk.ai.cluster import ClusterUnavailableError
    from xraydesk.ai.model import ModelUnavailableError

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
