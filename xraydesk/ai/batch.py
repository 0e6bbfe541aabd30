"""`xraydesk predict PATH... --csv OUT.csv`: one CSV row per image, for research batches.

Images are analysed in small batches for throughput; one bad file never stops the batch. A
sidecar `OUT.csv.json` records the model version and operating points behind the figures."""

import argparse
import csv
import datetime
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xraydesk.ai.gate import InputCheck
from xraydesk.ai.outputs import ZONES

COLUMNS = ["path", "status", "reason", "p_normal", "p_bacterial", "p_viral", "p_covid", "p_pneumonia",
           "pneumonia_positive", "covid_positive", *[f"zone_{zone}" for zone in ZONES],
           "six_zone_score", "geographic_extent", "seconds"]
BATCH_SIZE = 16
EXIT_OK, EXIT_SOME_FAILED, EXIT_UNUSABLE = 0, 1, 2


@dataclass
class Pending:
    path: Path
    model_input: np.ndarray
    prior_check: InputCheck
    seconds: float


def outcome_row(path: Path, outcome, seconds: float) -> dict:
    row = {"path": str(path), "seconds": f"{seconds:.3f}"}
    if outcome.prediction is None:
        return {**row, "status": "rejected", "reason": outcome.check.reason}
    p = outcome.prediction
    row.update(status="ok", reason="", p_normal=f"{p.p_normal:.4f}", p_bacterial=f"{p.p_bacterial:.4f}",
               p_viral=f"{p.p_viral:.4f}", p_covid=f"{p.p_covid:.4f}", p_pneumonia=f"{p.p_pneumonia:.4f}",
               pneumonia_positive=int(p.pneumonia_positive), covid_positive=int(p.covid_positive),
               six_zone_score=p.six_zone_score, geographic_extent=f"{p.geographic_extent:.2f}")
    row.update({f"zone_{zone}": f"{value:.4f}" for zone, value in zip(ZONES, p.zone_probabilities)})
    return row


def error_row(path: Path, reason: str, seconds: float = 0.0) -> dict:
    return {"path": str(path), "status": "error", "reason": reason, "seconds": f"{seconds:.3f}"}


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
        model_input, check = prepare_image(load_image(path))
    except ImageLoadError as error:
        return error_row(path, error.reason, time.perf_counter() - start)
    except Exception as error:  # an unforeseen decoder failure stays one row, not the whole batch
        return error_row(path, f"{type(error).__name__}: {error}", time.perf_counter() - start)
    return Pending(path, model_input, check, time.perf_counter() - start)


def _analyse(model, pending: list[Pending]) -> list[dict]:
    start = time.perf_counter()
    outcomes = model.analyse_inputs(np.stack([p.model_input for p in pending]), [p.prior_check for p in pending])
    share = (time.perf_counter() - start) / len(pending)
    return [outcome_row(p.path, outcome, p.seconds + share) for p, outcome in zip(pending, outcomes)]


def predict_rows(model, paths: list[Path], progress: Progress | None = None):
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
            yield from _analyse(model, pending)
            progress and progress.advance(len(pending))
            pending = []
    if pending:
        yield from _analyse(model, pending)
        progress and progress.advance(len(pending))


def image_paths(arguments: list[str]) -> tuple[list[Path], list[dict], int]:
    """Expands files and folders: (images, error rows for unreadable ones, non-image objects skipped)."""
    from xraydesk.imaging import ERROR, IMAGE, scan_paths

    entries = scan_paths([Path(argument) for argument in arguments])
    images = [entry.path for entry in entries if entry.kind == IMAGE]
    errors = [error_row(entry.path, entry.reason) for entry in entries if entry.kind == ERROR]
    return images, errors, sum(entry.kind not in (IMAGE, ERROR) for entry in entries)


def _provenance(model, arguments: list[str]) -> dict:
    return {"model": model.version, "created": datetime.datetime.now().isoformat(timespec="seconds"),
            "inputs": arguments, "operating_points": model.metadata["operating_points"],
            "notice": "Research use only; not a medical device."}


def predict_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="xraydesk predict", description=(
        "Analyse chest X-rays (PNG, JPEG, DICOM files or folders) and write one CSV row per image. "
        "Research use only; not a medical device."))
    parser.add_argument("paths", nargs="+", help="image files and/or folders (searched recursively)")
    parser.add_argument("--csv", required=True, type=Path, help="output CSV file")
    parser.add_argument("--models", type=Path, help="model folder (default: the shipped models/)")
    args = parser.parse_args(argv)

    from xraydesk.ai.model import ChestXRayModel, ModelUnavailableError

    try:
        model = ChestXRayModel.load(args.models)
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
        for row in predict_rows(model, images, progress):
            writer.writerow(row)
            failed += row["status"] == "error"
        failed += len(error_rows)
    progress.close()
    os.replace(partial, args.csv)
    Path(f"{args.csv}.json").write_text(json.dumps(_provenance(model, args.paths), indent=2) + "\n")
    print(f"{model.version}: wrote {args.csv} ({len(images) + len(error_rows)} rows, {failed} errors)",
          file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK
