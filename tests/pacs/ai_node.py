"""The AI node in the tests and bench/bench_serve.py: `xraydesk serve` as a process of its own (so that it
can be killed for real), small chest films to push to it, a pynetdicom sender that pushes as a modality
does (until each object is acknowledged, associating again when the node went away), and what Orthanc
holds of the node's results."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.filereader import read_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, _config
from pynetdicom.sop_class import Verification

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_AET = "AINODE"
SENDER_AET = "MODALITY"
START_TIMEOUT_S = 180  # the model loads while the node already listens; a busy 2-core machine is slow
STOP_TIMEOUT_S = 120
SUCCESS = 0x0000

# A sender given a file path sends its bytes as they are (a corrupt object stays corrupt on the wire).
_config.STORE_SEND_CHUNKED_DATASET = True


def node_films(sources: Sequence[Path], count: int, folder: Path, side: int = 256) -> list[Path]:
    """`count` chest films as small as a test wants: the source films' pixels reduced to side x side,
    uncompressed, each in a study of its own under new UIDs (the sources are only read)."""
    folder.mkdir(parents=True, exist_ok=True)
    templates = [pydicom.dcmread(path) for path in sources]
    pixels = [np.asarray(Image.fromarray(template.pixel_array).resize((side, side), Image.LANCZOS))
              for template in templates]
    films = []
    for index in range(count):
        film = pydicom.dcmread(sources[index % len(sources)], stop_before_pixels=True)
        film.set_pixel_data(pixels[index % len(sources)], "MONOCHROME2", 8)
        film.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        film.PatientID = film.PatientName = f"NODE-{index:04d}"
        film.StudyInstanceUID, film.SeriesInstanceUID, film.SOPInstanceUID = (generate_uid() for _ in range(3))
        film.file_meta.MediaStorageSOPInstanceUID = film.SOPInstanceUID
        path = folder / f"film-{index:04d}.dcm"
        film.save_as(path, enforce_file_format=True)
        films.append(path)
    return films


def sop_uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


@dataclass
class NodeProcess:
    """`xraydesk serve` on loopback, started and stopped (or killed) by the test."""
    store: Path
    port: int
    destinations: list[str]
    options: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    log: Path | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "xraydesk", "serve", "--store", str(self.store), "--port", str(self.port),
                "--aet", NODE_AET, "--allow-any", *(f"--send-to={node}" for node in self.destinations), *self.options]

    def start(self) -> "NodeProcess":
        """Returns once the node answers C-ECHO (it receives while its model loads)."""
        self.store.mkdir(parents=True, exist_ok=True)
        self.log = self.store.parent / f"{self.store.name}-node.log"
        environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        with self.log.open("a") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=environment,
                                            cwd=REPO_ROOT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"xraydesk serve exited at start ({self.process.returncode}): {self.log_tail()}")
            if echo(self.port):
                return self
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"xraydesk serve did not answer within {START_TIMEOUT_S} s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=STOP_TIMEOUT_S)
        self.process = None
        return code

    def check_running(self) -> None:
        """Raises, with the end of its log, when the node has stopped without being asked to."""
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"xraydesk serve is not running: {self.log_tail()}")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log and self.log.exists() else ""

    def status(self) -> str:
        return node_status(self.store)


def queue_counts(store: Path) -> dict[str, int]:
    """The node's queue, read directly (as --status does, without starting a process)."""
    from xraydesk.jobs.node import NodeStore
    from xraydesk.jobs.queue import NodeQueue

    queue = NodeQueue(NodeStore(store).queue_path)
    try:
        return queue.counts()
    finally:
        queue.close()


def node_status(store: Path) -> str:
    return subprocess.run([sys.executable, "-m", "xraydesk", "serve", "--store", str(store), "--status"],
                          capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                          cwd=REPO_ROOT, timeout=120).stdout


def status_counts(status: str) -> dict[str, int]:
    """The counts line of --status: {'received': 0, 'analysed': 0, 'sent': 3, ...}."""
    line = next(line for line in status.splitlines() if line.startswith("received "))
    words = line.split()
    return {state: int(count) for state, count in zip(words[::2], words[1::2])}


def _sender_ae() -> AE:
    ae = AE(ae_title=SENDER_AET)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = 10
    return ae


def echo(port: int) -> bool:
    ae = _sender_ae()
    ae.add_requested_context(Verification)
    association = ae.associate("127.0.0.1", port, ae_title=NODE_AET)
    if not association.is_established:
        return False
    status = association.send_c_echo()
    association.release()
    return bool(status) and status.Status == SUCCESS


def push(paths: Sequence[Path], port: int, deadline_s: float = 600, pause_s: float = 0.0) -> dict[Path, int]:
    """C-STOREs each file, as it is, to the node as a modality does: again, on a new association, until the
    node answers (a lost association means no answer), but never again once it answered; `pause_s` after
    each answer (a modality's pace). Returns each file's status."""
    metas = [read_file_meta_info(path) for path in paths]  # a corrupt data set still has its file meta
    contexts = {(meta.MediaStorageSOPClassUID, meta.TransferSyntaxUID) for meta in metas}
    answered: dict[Path, int] = {}
    deadline = time.monotonic() + deadline_s
    while len(answered) < len(paths):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(paths) - len(answered)} of {len(paths)} objects never answered")
        ae = _sender_ae()
        for sop_class, syntax in contexts:
            ae.add_requested_context(sop_class, syntax)
        association = ae.associate("127.0.0.1", port, ae_title=NODE_AET)
        if not association.is_established:
            time.sleep(0.3)  # the node is down or restarting
            continue
        for path in (path for path in paths if path not in answered):
            try:
                status = association.send_c_store(path)
            except RuntimeError:  # the association went away since the last answer
                break
            if not status:  # no answer: the association is gone
                break
            answered[path] = int(status.Status)
            time.sleep(pause_s)
        if association.is_established:
            association.release()
    return answered


def results_in(orthanc) -> dict[str, list[tuple[str, str]]]:
    """What Orthanc holds, by the SOP Instance UID each object refers to: [(SOP class, SOP Instance UID)]."""
    referring: dict[str, list[tuple[str, str]]] = {}
    for instance in orthanc.rest_get("/instances"):
        tags = orthanc.rest_get(f"/instances/{instance}/simplified-tags")
        if tags.get("SOPClassUID") == pydicom.uid.ComprehensiveSRStorage:
            evidence = tags["CurrentRequestedProcedureEvidenceSequence"][0]["ReferencedSeriesSequence"][0]
            source = evidence["ReferencedSOPSequence"][0]["ReferencedSOPInstanceUID"]
        else:
            source = tags["SourceImageSequence"][0]["ReferencedSOPInstanceUID"]
        referring.setdefault(source, []).append((tags["SOPClassUID"], tags["SOPInstanceUID"]))
    return referring


def refused_by_input_check(orthanc, report_uid: str) -> bool:
    """Whether the SR says the input check refused the image (then no capture is made)."""
    found = orthanc.rest_post("/tools/lookup", report_uid)
    content = orthanc.rest_get(f"/instances/{found[0]['ID']}/simplified-tags")["ContentSequence"]
    return "REFUSED" in repr(content)
