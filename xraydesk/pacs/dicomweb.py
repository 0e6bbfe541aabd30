"""DICOMweb (no Qt): QIDO-RS to find studies, WADO-RS (dicomweb-client) into the local store,
STOW-RS to send files. Basic or bearer auth through a requests.Session; TLS verified unless the
node says otherwise; every failure a PacsError naming the URL and the reason in words."""

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import requests
from dicomweb_client import DICOMwebClient
from pydicom.dataset import Dataset

from xraydesk.pacs.local_store import LocalStore, RefusedObject
from xraydesk.pacs.nodes import AUTH_BASIC, AUTH_BEARER, LocalSide, Node, PacsError
from xraydesk.pacs.types import (
    ProgressCallback,
    RetrieveOutcome,
    SendOutcome,
    StopCheck,
    StudyQuery,
    StudyRow,
    expand_paths,
    read_for_sending,
    study_row,
)

LOGGER = logging.getLogger(__name__)

DICOM_JSON = "application/dicom+json"
# Each image as stored (the default would be decompressed to Explicit VR Little Endian).
AS_STORED = (("application/dicom", "*"),)
STUDY_FIELDS = ("StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedInstances", "AccessionNumber")
# Node-level HTTP answers (the same for every file); other errors concern the one file sent.
NODE_HTTP_ERRORS = {
    401: "unauthorized: check the user name and password or token",
    403: "forbidden: the account may not use this service",
    404: "not found: is the URL the DICOMweb root (e.g. https://pacs/dicom-web)?",
}


def _session(node: Node) -> requests.Session:
    session = requests.Session()
    session.verify = node.verify_tls
    if node.auth == AUTH_BASIC:
        session.auth = (node.username, node.secret)
    elif node.auth == AUTH_BEARER:
        session.headers["Authorization"] = f"Bearer {node.secret}"
    return session


class DicomWebClient:
    def __init__(self, node: Node, local: LocalSide):
        self.node = node
        self.timeout_s = local.timeout_s
        self.session = _session(node)
        self.web = DICOMwebClient(node.url, session=self.session, timeout=local.timeout_s)
        self.web.set_http_retry_params(retry=False)  # retries with back-off would stretch a failure past the timeout

    @contextlib.contextmanager
    def _failures(self, action: str) -> Iterator[None]:
        try:
            yield
        except PacsError:
            raise
        except requests.exceptions.RequestException as exc:
            raise PacsError(self.node.label, f"{action}: {self._reason(exc)}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise PacsError(self.node.label, f"{action}: the answer is not what DICOMweb defines ({exc})") from exc

    def _reason(self, exc: requests.exceptions.RequestException) -> str:
        if isinstance(exc, requests.exceptions.SSLError):
            return "TLS certificate verification failed (turn verification off only for a server you trust)"
        if isinstance(exc, requests.exceptions.Timeout):
            return f"no answer within {self.timeout_s:g} s (timeout)"
        if isinstance(exc, requests.exceptions.ConnectionError):
            text = str(exc)
            if "Connection refused" in text:
                return "connection refused: nothing listens at this address"
            if "Name or service not known" in text or "nodename nor servname" in text:
                return "unknown host"
            return "cannot connect (host unreachable or connection lost)"
        if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
            code = exc.response.status_code
            return f"HTTP {code} " + NODE_HTTP_ERRORS.get(code, exc.response.reason or "error")
        return str(exc)

    def _qido(self, path: str, filters: dict[str, str]) -> list[Dataset]:
        """QIDO-RS by hand: dicomweb-client percent-encodes '*' and '?', which servers such as
        Orthanc 1.10 then match literally; RFC 3986 allows both unencoded in a query."""
        pairs = [("includefield", field) for field in STUDY_FIELDS] + [(key, value) for key, value in filters.items()
                                                                      if value]
        query = "&".join(f"{key}={quote(value, safe='*?,')}" for key, value in pairs)
        answer = self.session.get(f"{self.node.url}/{path}?{query}", headers={"Accept": DICOM_JSON},
                                  timeout=self.timeout_s)
        answer.raise_for_status()
        return [Dataset.from_json(item) for item in (answer.json() if answer.content else [])]

    def echo(self) -> float:
        started = time.monotonic()
        with self._failures("QIDO-RS"):
            self._qido("studies", {"limit": "1"})
        return time.monotonic() - started

    def find(self, query: StudyQuery) -> list[StudyRow]:
        filters = {
            "PatientName": query.patient_name,
            "PatientID": query.patient_id,
            "StudyDate": query.study_date,
            "AccessionNumber": query.accession,
            "ModalitiesInStudy": ",".join(query.modalities),
        }
        with self._failures("QIDO-RS"):
            return [study_row(answer) for answer in self._qido("studies", filters)]

    def retrieve(self, study_uid: str, store: LocalStore, *, move: bool = False,
                 progress: ProgressCallback | None = None, should_stop: StopCheck | None = None) -> RetrieveOutcome:
        if move:
            raise PacsError(self.node.label, "C-MOVE is a DIMSE service; a DICOMweb node is retrieved by WADO-RS")
        outcome = RetrieveOutcome(study_uid)
        with self._failures("WADO-RS"):
            found = self._qido("studies", {"StudyInstanceUID": study_uid})
            if not found:
                raise PacsError(self.node.label, f"WADO-RS: the node holds no study {study_uid}")
            total = study_row(found[0]).images or 0
            for dataset in self.web.iter_study(study_uid, media_types=AS_STORED):
                if should_stop and should_stop():
                    outcome.cancelled = True
                    break
                try:
                    outcome.files.append(store.store_dataset(dataset))
                except RefusedObject as refused:
                    outcome.failed += 1
                    LOGGER.warning("%s: refused an object of study %s: %s", self.node.label, study_uid, refused.reason)
                if progress:
                    done = len(outcome.files) + outcome.failed
                    progress(done, max(total, done))
        return outcome

    def send(self, paths: Sequence[Path], *, progress: ProgressCallback | None = None,
             should_stop: StopCheck | None = None) -> list[SendOutcome]:
        """One STOW-RS request per file, so each file gets its own outcome, progress and Cancel."""
        files = expand_paths(paths)
        outcomes = []
        for index, path in enumerate(files):
            if should_stop and should_stop():
                outcomes.append(SendOutcome(path, False, "not sent: cancelled"))
            else:
                outcomes.append(self._store_one(path))
            if progress:
                progress(index + 1, len(files))
        return outcomes

    def _store_one(self, path: Path) -> SendOutcome:
        try:
            dataset = read_for_sending(path)
        except ValueError as error:
            return SendOutcome(path, False, f"not sent: {error}")
        try:
            with self._failures("STOW-RS"):
                answer = self.web.store_instances([dataset])
        except PacsError as error:
            response = getattr(error.__cause__, "response", None)
            if response is None or response.status_code in NODE_HTTP_ERRORS:
                raise
            return SendOutcome(path, False, error.reason)
        failed = answer.get("FailedSOPSequence") or []
        if failed:
            reason = failed[0].get("FailureReason")
            return SendOutcome(path, False, f"refused by the node (failure reason {reason})")
        return SendOutcome(path, True, "stored")
