"""The CSV of `xraydesk predict`: its columns, its rows, its sidecar, the files written atomically and
`--resume` (see xraydesk.commands.predict for what the columns mean)."""

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from xraydesk.ai.outputs import ZONES
from xraydesk.ai.words import answer, not_analysed
from xraydesk.commands.common import OutputError, check_not_inputs
from xraydesk.output_files import temporary_beside

# Join keys a researcher links the rows to other tables with: column -> DICOM keyword.
JOIN_KEYS = {"sop_instance_uid": "SOPInstanceUID", "study_instance_uid": "StudyInstanceUID",
             "series_instance_uid": "SeriesInstanceUID", "patient_id": "PatientID", "study_date": "StudyDate",
             "view_position": "ViewPosition"}
COLUMNS = ["path", "status", "reason", "p_normal", "p_bacterial", "p_viral", "p_covid", "p_pneumonia",
           "pneumonia_positive", "covid_positive", *[f"zone_{zone}" for zone in ZONES],
           "six_zone_score", "geographic_extent", "seconds", "flags", "heatmap", *JOIN_KEYS,
           "file_bytes", "file_mtime_ns",
           # added in 0.4.0, at the end so existing readers keep their columns: p_normal is 1 - p_abnormal
           # (no abnormality of any kind); `call` is the app's exact words (xraydesk.ai.words)
           "p_abnormal", "normal_ruleout", "call"]
STATUSES = ("ok", "rejected", "error")
CSV_ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}


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
        return {**row, "status": "rejected", "reason": outcome.check.reason, "call": not_analysed(outcome.check.reason)}
    p = outcome.prediction
    row.update(status="ok", reason=caveats(outcome), p_normal=f"{p.p_normal:.4f}", p_abnormal=f"{p.p_abnormal:.4f}",
               normal_ruleout=int(p.normal_ruleout), call=answer(p),
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
    return {"path": str(path), "status": "error", "reason": reason, "seconds": f"{seconds:.3f}",
            "call": not_analysed(reason)}


# ---------------------------------------------------------------- where the output goes


def sidecar_path(csv_path: Path) -> Path:
    return Path(f"{csv_path}.json")


def check_output(csv_path: Path, arguments: list[str], *folders: Path | None) -> None:
    """Before the run: the CSV, its sidecar and the output folders (heatmaps, DICOM results) must not
    overwrite an input, nor land where this run's scan (or a later `--resume`) would read them as inputs."""
    if csv_path.is_dir():
        raise OutputError(f"--csv {csv_path} is a folder; name a file")
    check_not_inputs((csv_path, sidecar_path(csv_path), *folders), arguments)


def _temporary_beside(target: Path):
    """A new text file in the target's folder (a unique name: concurrent runs never share it)."""
    try:
        descriptor, name = temporary_beside(target)
    except OSError as error:
        raise OutputError(f"cannot write in {target.parent} ({error.strerror})") from error
    return open(descriptor, "w", newline="", **CSV_ENCODING), name


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
