"""A throw-away Orthanc on loopback for the PACS tests and bench/bench_pacs.py: free ports, its own
storage folder, the DICOMweb plugin behind basic auth, and our AE (XRAYDESK) registered for
C-FIND/C-GET/C-MOVE. Stopped by its process id."""

import base64
import io
import json
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import pydicom
from pydicom.uid import generate_uid

from xraydesk.pacs.nodes import AUTH_BASIC, Node

ORTHANC_BINARY = Path(shutil.which("Orthanc") or "/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
HOST = "127.0.0.1"
START_TIMEOUT_S = 30


class OrthancUnavailable(RuntimeError):
    """Orthanc is not installed here, or did not come up."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class OrthancServer:
    folder: Path
    aet: str = "ORTHANC"
    host: str = HOST
    our_aet: str = "XRAYDESK"
    dicom_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    our_port: int = field(default_factory=free_port)  # where Orthanc sends C-MOVE results: our listener
    username: str = "xraydesk"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    process: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.http_url}/dicom-web"

    @property
    def dimse_node(self) -> Node:
        return Node(name="test Orthanc", ae_title=self.aet, host=self.host, port=self.dicom_port)

    @property
    def dicomweb_node(self) -> Node:
        return Node(name="test Orthanc DICOMweb", url=self.dicomweb_url, auth=AUTH_BASIC, username=self.username,
                    secret=self.password)

    def configuration(self) -> dict:
        return {
            "Name": "XRayDesk test PACS",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "index"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {self.username: self.password},
            "HttpCompressionEnabled": False,
            "SaveJobs": False,
            "Plugins": [str(DICOMWEB_PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "Host": f"{self.host}:{self.http_port}"},
            # Orthanc answers C-FIND/C-GET/C-MOVE only to known modalities (the Always* options are
            # false); C-ECHO and C-STORE from anyone (DicomAlwaysAllowEcho/Store default to true).
            "DicomModalities": {"xraydesk": {"AET": self.our_aet, "Host": self.host, "Port": self.our_port}},
            "DicomCheckModalityHost": False,
            "DicomScuTimeout": 10,
        }

    def start(self) -> Self:
        if not ORTHANC_BINARY.exists() or not DICOMWEB_PLUGIN.exists():
            raise OrthancUnavailable(f"Orthanc ({ORTHANC_BINARY}) or its DICOMweb plugin ({DICOMWEB_PLUGIN}) is not "
                                     "installed: apt-get install orthanc orthanc-dicomweb")
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "orthanc.json"
        config.write_text(json.dumps(self.configuration(), indent=2), encoding="utf-8")
        with (self.folder / "orthanc.log").open("w") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen([str(ORTHANC_BINARY), str(config)], stdout=log, stderr=subprocess.STDOUT,
                                            cwd=self.folder)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise OrthancUnavailable(f"Orthanc exited at start ({self.process.returncode}): {self.log_tail()}")
            try:
                self.rest_get("/system")
                return self
            except (urllib.error.URLError, ConnectionError):  # not listening yet
                time.sleep(0.1)
        self.stop()
        raise OrthancUnavailable(f"Orthanc did not answer within {START_TIMEOUT_S} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_tail(self) -> str:
        log = self.folder / "orthanc.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def raw_get(self, path: str, data: bytes | None = None) -> bytes:
        """The body of a GET (or, with data, a POST) of the REST API, as it comes (a DICOM file, say)."""
        credentials = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(self.http_url + path, data=data, headers={"Authorization": f"Basic {credentials}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.read()

    def _request(self, path: str, data: bytes | None = None):
        return json.loads(self.raw_get(path, data))

    def rest_get(self, path: str):
        return self._request(path)

    def rest_post(self, path: str, body: bytes | str):
        return self._request(path, body.encode() if isinstance(body, str) else body)

    def upload(self, paths) -> list[str]:
        """Stores files through the REST API; returns their Orthanc instance ids."""
        return [self.rest_post("/instances", Path(path).read_bytes())["ID"] for path in paths]

    def upload_as_one_study(self, paths, patient_id: str) -> str:
        """The images of `paths` as one study of one series (new UIDs, files untouched): a study of
        several images to retrieve. Returns its Study Instance UID."""
        study_uid, series_uid = generate_uid(), generate_uid()
        for number, path in enumerate(paths, start=1):
            dataset = pydicom.dcmread(path)
            dataset.PatientID = dataset.PatientName = patient_id
            dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study_uid, series_uid
            dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            dataset.InstanceNumber = number
            encoded = io.BytesIO()
            dataset.save_as(encoded, enforce_file_format=True)
            self.rest_post("/instances", encoded.getvalue())
        return study_uid

    def study_uids(self) -> list[str]:
        return [self.rest_get(f"/studies/{study}")["MainDicomTags"]["StudyInstanceUID"]
                for study in self.rest_get("/studies")]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc_info) -> None:
        self.stop()


def serve_for_tests(folder: Path, files: list[Path]):
    """A pytest fixture's body: Orthanc holding `files` until the fixture ends; where Orthanc cannot run
    here, the test fails with the reason (tests/required_tools.py)."""
    from required_tools import tool_missing

    server = OrthancServer(folder)
    try:
        server.start()
    except OrthancUnavailable as error:
        tool_missing(str(error))
    try:
        server.upload(files)
        yield server
    finally:
        server.stop()
