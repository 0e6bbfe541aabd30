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
pneumonia map written with `--heatmaps`, empty otherwise."""

import argparse
import csv
import datetime
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xraydesk.ai.gate import InputCheck
from xraydesk.ai.outputs import ZONES

COLUMNS = ["path", "status", "reason", "p_normal", "p_bacterial", "p_viral", "p_covid", "p_pneumonia",
           "pneumonia_positive", "covid_positive", *[f"zone_{zone}" for zone in ZONES],
           "six_zone_score", "geographic_extent", "seconds", "flags", "heatmap"]
BATCH_SIZE = 16
EXIT_OK, EXIT_SOME_FAILED, EXIT_UNUSABLE = 0, 1, 2


@dataclass
class Pending:
    path: Path
    model_input: np.ndarray
    prior_check: InputCheck
    seconds: float
    shape: tuple[int, int]  # (height, width) of the image as loaded


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


class HeatmapWriter:
    """`--heatmaps DIR`: each analysed image's pneumonia map as an 8-bit grayscale PNG at the
    image's own pixel size, stretched as the image was squashed for the model."""

    def __init__(self, gradcam, folder: Path):
        self.gradcam, self.folder = gradcam, folder
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, pending: list[Pending], inputs: np.ndarray, outcomes) -> list[str]:
        """The path written for each image, "" for those the model did not analyse."""
        from PIL import Image

        from xraydesk.ai.gradcam import upsample

        paths = [""] * len(pending)
        analysed = [i for i, outcome in enumerate(outcomes) if outcome.prediction is not None]
        if not analysed:
            return paths
        for i, heatmap in zip(analysed, self.gradcam.heatmaps(inputs[analysed], "pneumonia")):
            levels = np.round(np.clip(upsample(heatmap, pending[i].shape), 0.0, 1.0) * 255).astype(np.uint8)
            target = self.folder / heatmap_file_name(pending[i].path)
            Image.fromarray(levels).save(target)
            paths[i] = str(target)
        return paths


class Progress:
    """A one-line progress bar with ETA on stderr."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.stream, self.start = total, 0, stream, time.perf_counter()

    def advance(self, count: int = 1) -> None:
        self.done += count
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        filled = int(30 * self.done / max(self.total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} "
                          f"{elapsed:.0f}s elapsed, ETA {eta:.0f}s ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")


def _prepare(path: Path) -> Pending | dict:
    from xraydesk.ai.inputs import prepare_image
    from xraydesk.imaging import ImageLoadError, load_image

    start = time.perf_counter()
    try:
        image = load_image(path)
        model_input, check = prepare_image(image)
    except ImageLoadError as error:
        return error_row(path, error.reason, time.perf_counter() - start)
    except Exception as error:  # an unforeseen decoder failure stays one row, not the whole batch
        return error_row(path, f"{type(error).__name__}: {error}", time.perf_counter() - start)
    return Pending(path, model_input, check, time.perf_counter() - start, (image.height, image.width))


def _analyse(model, pending: list[Pending], heatmaps: HeatmapWriter | None) -> list[dict]:
    start = time.perf_counter()
    inputs = np.stack([p.model_input for p in pending])
    outcomes = model.analyse_inputs(inputs, [p.prior_check for p in pending])
    written = heatmaps.write(pending, inputs, outcomes) if heatmaps else [""] * len(pending)
    share = (time.perf_counter() - start) / len(pending)
    return [outcome_row(p.path, outcome, p.seconds + share, heatmap)
            for p, outcome, heatmap in zip(pending, outcomes, written)]


def predict_rows(model, paths: list[Path], progress: Progress | None = None,
                 heatmaps: HeatmapWriter | None = None):
    """Yields one CSV row (dict) per image, in the order given."""
    pending: list[Pending] = []
    for path in paths:
        prepared = _prepare(path)
        if isinstance(prepared, dict):
            yield prepared
            progress and progress.advance()
            continue
        pending.append(prepared)
        if len(pending) == BATCH_SIZE:
            yield from _analyse(model, pending, heatmaps)
            progress and progress.advance(len(pending))
            pending = []
    if pending:
        yield from _analyse(model, pending, heatmaps)
        progress and progress.advance(len(pending))


def image_paths(arguments: list[str]) -> tuple[list[Path], list[dict], int]:
    """Expands files and folders: (images, error rows for unreadable ones, non-image objects skipped)."""
    from xraydesk.imaging import ERROR, IMAGE, scan_paths

    entries = scan_paths([Path(argument) for argument in arguments])
    images = [entry.path for entry in entries if entry.kind == IMAGE]
    errors = [error_row(entry.path, entry.reason) for entry in entries if entry.kind == ERROR]
    return images, errors, sum(entry.kind not in (IMAGE, ERROR) for entry in entries)


def _provenance(model, arguments: list[str], heatmaps: HeatmapWriter | None) -> dict:
    provenance = {"model": model.version, "created": datetime.datetime.now().isoformat(timespec="seconds"),
                  "inputs": arguments, "operating_points": model.metadata["operating_points"],
                  "notice": "Research use only; not a medical device."}
    if heatmaps:
        provenance["heatmap"] = model.metadata["heatmap"]
    return provenance


def predict_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="xraydesk predict", description=(
        "Analyse chest X-rays (PNG, JPEG, DICOM files or folders) and write one CSV row per image. "
        "Research use only; not a medical device."))
    parser.add_argument("paths", nargs="+", help="image files and/or folders (searched recursively)")
    parser.add_argument("--csv", required=True, type=Path, help="output CSV file")
    parser.add_argument("--models", type=Path, help="model folder (default: the shipped models/)")
    parser.add_argument("--heatmaps", type=Path, metavar="DIR", help=(
        "write each analysed image's pneumonia heatmap to DIR as an 8-bit grayscale PNG at the image's "
        "own pixel size; the CSV's heatmap column gives its path"))
    args = parser.parse_args(argv)

    from xraydesk.ai.gradcam import GradCam
    from xraydesk.ai.model import ChestXRayModel, ModelUnavailableError

    try:
        model = ChestXRayModel.load(args.models)
        heatmaps = (HeatmapWriter(GradCam.from_metadata(model.classifier, model.metadata), args.heatmaps)
                    if args.heatmaps else None)
    except ModelUnavailableError as error:
        print(f"xraydesk predict: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    images, error_rows, skipped = image_paths(args.paths)
    if skipped:
        print(f"skipped {skipped} non-image DICOM objects (DICOMDIR, reports, presentation states)", file=sys.stderr)
    progress = Progress(len(images) + len(error_rows))
    failed = 0
    partial = args.csv.with_name(args.csv.name + ".part")
    with open(partial, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        for row in error_rows:
            writer.writerow(row)
            progress.advance()
        for row in predict_rows(model, images, progress, heatmaps):
            writer.writerow(row)
            failed += row["status"] == "error"
        failed += len(error_rows)
    progress.close()
    os.replace(partial, args.csv)
    Path(f"{args.csv}.json").write_text(json.dumps(_provenance(model, args.paths, heatmaps), indent=2) + "\n")
    print(f"{model.version}: wrote {args.csv} ({len(images) + len(error_rows)} rows, {failed} errors)",
          file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK
