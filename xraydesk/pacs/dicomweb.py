"""DICOMweb (no Qt): QIDO-RS to find studies (paged, capped), WADO-RS streamed part by part into
the local store (series by series, each checked against what QIDO-RS announced), STOW-RS
(dicomweb-client) to send files. Basic or bearer auth through a requests.Session; TLS verified
unless the node says otherwise; every request bounded as a whole; every failure a PacsError naming
the URL and the reason in words."""

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from email.message import Message
from pathlib import Path
from typing import Self
from urllib.parse import quote

import requests
from dicomweb_client import DICOMwebClient
from pydicom.dataset import Dataset
from python_multipart.multipart import MultipartParser, MultipartState
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from xraydesk.imaging.study_keys import optional_int
from xraydesk.pacs.local_store import LocalStore, RefusedObject, StoredFile
from xraydesk.pacs.nodes import AUTH_BASIC, AUTH_BEARER, LocalSide, Node, PacsError
from xraydesk.pacs.types import (
    ProgressCallback,
    RetrieveOutcome,
    SendOutcome,
    StopCheck,
    StudyQuery,
    StudyRows,
    expand_paths,
    read_for_sending,
    study_row,
)

LOGGER = logging.getLogger(__name__)

MIB = 1024 * 1024
DICOM_JSON = "application/dicom+json"
# Each image as stored (the default would be decompressed to Explicit VR Little Endian).
WADO_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
STUDY_FIELDS = ("StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedInstances", "AccessionNumber")
QIDO_PAGE_ROWS = 200  # rows asked per QIDO-RS request (limit/offset)
MAX_JSON_BYTES = 16 * MIB  # a larger QIDO-RS page is refused, not read into memory
MAX_SERIES = 10_000  # series of one study looked up before retrieving it
CHUNK_BYTES = 64 * 1024
# A download goes on while it brings this much per timeout: a server trickling bytes is cut off.
PROGRESS_BYTES = 256 * 1024
# Node-level HTTP answers (the same for every file); other errors concern the one file sent.
NODE_HTTP_ERRORS = {
    401: "unauthorized: check the user name and password or token",
    403: "forbidden: the account may not use this service",
    404: "not found: is the URL the DICOMweb root (e.g. https://pacs/dicom-web)?",
}

_CURRENT_DEADLINE: ContextVar["_Deadline | None"] = ContextVar("dicomweb_deadline", default=None)


class _Deadline:
    """One request's time limit as a whole. requests' timeout bounds each read, so a server sending
    a byte now and then would hold a call forever: at the deadline a watchdog shuts the call's
    sockets, which ends a blocked read at once. A download moves the deadline on as it
    progresses (`progressed`)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._finished = threading.Event()

    def __enter__(self) -> Self:
        self._token = _CURRENT_DEADLINE.set(self)
        threading.Thread(target=self._watch, name="DICOMweb deadline", daemon=True).start()
        return self

    def __exit__(self, *_exc_info) -> None:
        self._finished.set()
        _CURRENT_DEADLINE.reset(self._token)

    def progressed(self) -> None:
        self.end = time.monotonic() + self.seconds

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _watch(self) -> None:
        while not self._finished.wait(max(0.0, self.end - time.monotonic())):
            if time.monotonic() >= self.end:
                with self._lock:
                    self.expired = True
                    for sock in self._sockets:
                        _shut(sock)
                return


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _watched(sock: socket.socket | None) -> None:
    """Hands a socket to the deadline of the request under way (the response keeps reading from it
    even where the connection lets go of it)."""
    if sock is not None and (deadline := _CURRENT_DEADLINE.get()) is not None:
        deadline.watch(sock)


class _WatchedConnect:
    def connect(self) -> None:
        super().connect()
        _watched(self.sock)


class _WatchedHTTPConnection(_WatchedConnect, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnect, HTTPSConnection):
    pass


class _WatchedPool:
    """Its connections' sockets, new or kept alive, go to the deadline of the request under way."""

    def _get_conn(self, timeout=None):
        connection = super()._get_conn(timeout)
        _watched(connection.sock)
        return connection


class _WatchedHTTPPool(_WatchedPool, HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(_WatchedPool, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def proxy_manager_for(self, *args, **kwargs):
        manager = super().proxy_manager_for(*args, **kwargs)
        manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
        return manager


def _session(node: Node) -> requests.Session:
    session = requests.Session()
    for scheme in ("http://", "https://"):
        session.mount(scheme, _WatchedAdapter())
    session.verify = node.verify_tls
    if node.auth == AUTH_BASIC:
        session.auth = (node.username, node.secret)
    elif node.auth == AUTH_BEARER:
        session.headers["Authorization"] = f"Bearer {node.secret}"
    return session


class _StoreFailure(Exception):
    """The local store cannot be written (read-only, full): no use fetching more."""


class _PartWriter:
    """Writes each part of a multipart/related answer to its own file in the store's incoming folder
    as it arrives and keeps it once whole: one chunk in memory, whatever the part's size. A part
    over the object limit or not a storable DICOM object is refused, and the parts after it are
    still kept."""

    def __init__(self, store: LocalStore, max_bytes: int, on_part: Callable[[], None]):
        self.store, self.max_bytes, self.on_part = store, max_bytes, on_part
        self.kept: list[StoredFile] = []
        self.refused: list[str] = []
        self._path: Path | None = None
        self._file = None
        self._size = 0

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_part_data": self._data, "on_part_end": self._end}

    def _begin(self) -> None:
        self._size = 0
        with self._store_failures():
            self._path = self.store.incoming_path()
            self._file = self._path.open("wb")

    def _data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._file is None:  # over the limit already
            return
        if self._size > self.max_bytes:
            self.discard()
            return
        with self._store_failures():
            self._file.write(data[start:end])

    def _end(self) -> None:
        number = len(self.kept) + len(self.refused) + 1
        if self._file is None:
            self._refuse(number, f"over the {self.max_bytes / MIB:,.0f} MiB object limit")
            return
        self._file.close()
        self._file = None
        try:
            with self._store_failures():
                self.kept.append(self.store.keep(self._path))
        except RefusedObject as refused:
            self._refuse(number, refused.reason)
            return
        self.on_part()

    def _refuse(self, number: int, reason: str) -> None:
        self.refused.append(f"object {number}: {reason}")
        LOGGER.warning("%s: refused object %d of a WADO-RS answer: %s", self.store.root, number, reason)
        self.on_part()

    def discard(self) -> None:
        """Removes the part being written (over the limit, or the answer broke off)."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _store_failures(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            self.discard()
            raise _StoreFailure(f"cannot write to the local store {self.store.root} ({exc.strerror or exc})") from exc


def _multipart_boundary(content_type: str) -> str:
    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/related" or not isinstance(boundary, str) or not boundary:
        raise ValueError(f"a WADO-RS answer is multipart/related with a boundary, not '{content_type}'")
    return boundary


def _missing(series_uid: str, expected: int | None, writer: _PartWriter, problems: list[str]) -> tuple[int, list[str]]:
    """How many objects of a series are missing, and why: `problems` (the download failed), the
    parts refused, or fewer parts than QIDO-RS announced. A series that failed while its size is
    unknown misses at least one."""
    problems = [*problems, *writer.refused]
    missing = len(writer.refused) if expected is None else max(0, expected - len(writer.kept))
    if missing and not problems:
        problems.append(f"series {series_uid}: {len(writer.kept)} of {expected} objects arrived")
    return max(missing, 1 if problems else 0), problems


def _datasets(body: bytes) -> list[Dataset]:
    """A QIDO-RS answer: a JSON array of DICOM JSON objects (an empty body: none)."""
    items = json.loads(body) if body.strip() else []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ValueError("not a JSON array of DICOM objects")
    try:
        return [Dataset.from_json(item) for item in items]
    except Exception as exc:
        raise ValueError(f"not DICOM JSON ({exc})") from exc


class DicomWebClient:
    def __init__(self, node: Node, local: LocalSide):
        self.node = node
        self.local = local
        self.timeout_s = local.timeout_s
        self.session = _session(node)
        self.web = DICOMwebClient(node.url, session=self.session, timeout=local.timeout_s)
        self.web.set_http_retry_params(retry=False)  # retries with back-off would stretch a failure past the timeout

    @contextlib.contextmanager
    def _request(self, action: str, seconds: float | None = None) -> Iterator[_Deadline]:
        """One request bounded as a whole (by the timeout unless `seconds` says), its failures as
        PacsError naming the node, the action and the reason."""
        deadline = _Deadline(seconds or self.timeout_s)
        timeout = PacsError(self.node.label, f"{action}: no complete answer within {deadline.seconds:g} s (timeout; "
                                             "the server stalls or trickles)")
        try:
            with deadline:
                yield deadline
        except _StoreFailure:
            raise
        except Exception as exc:
            if deadline.expired:
                raise timeout from exc
            if isinstance(exc, PacsError):
                raise
            if isinstance(exc, requests.exceptions.RequestException):
                raise PacsError(self.node.label, f"{action}: {self._reason(exc)}") from exc
            if isinstance(exc, (ValueError, KeyError, TypeError)):
                raise PacsError(self.node.label, f"{action}: the answer is not what DICOMweb defines ({exc})") from exc
            raise
        if deadline.expired:  # the shut connection looked like the end of the answer
            raise timeout

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

    @contextlib.contextmanager
    def _get(self, path: str, query: str, accept: str) -> Iterator[requests.Response]:
        """A streamed GET: the body is read in chunks by the caller, never whole by requests."""
        answer = self.session.get(f"{self.node.url}/{path}" + (f"?{query}" if query else ""),
                                  headers={"Accept": accept}, stream=True, timeout=self.timeout_s)
        with answer:
            answer.raise_for_status()
            yield answer

    def _qido_page(self, path: str, pairs: list[tuple[str, str]]) -> list[Dataset]:
        """QIDO-RS by hand: dicomweb-client percent-encodes '*' and '?', which servers such as
        Orthanc 1.10 then match literally; RFC 3986 allows both unencoded in a query."""
        query = "&".join(f"{key}={quote(value, safe='*?,')}" for key, value in pairs if value)
        with self._request("QIDO-RS"), self._get(path, query, DICOM_JSON) as answer:
            body = bytearray()
            for chunk in answer.iter_content(CHUNK_BYTES):
                body += chunk
                if len(body) > MAX_JSON_BYTES:
                    raise PacsError(self.node.label, f"QIDO-RS: the answer is larger than {MAX_JSON_BYTES // MIB} MiB")
            return _datasets(body)

    def _qido(self, path: str, pairs: list[tuple[str, str]], max_rows: int) -> tuple[list[Dataset], bool]:
        """Page by page (limit/offset) up to `max_rows`; True when more matched."""
        found: list[Dataset] = []
        while True:
            limit = min(QIDO_PAGE_ROWS, max_rows + 1 - len(found))
            page = self._qido_page(path, [*pairs, ("limit", str(limit)), ("offset", str(len(found)))])
            found += page
            if len(page) != limit or len(found) > max_rows:  # the last page (or a server that does not page), or enough
                return found[:max_rows], len(found) > max_rows

    def echo(self) -> float:
        started = time.monotonic()
        self._qido_page("studies", [("limit", "1")])
        return time.monotonic() - started

    def find(self, query: StudyQuery) -> StudyRows:
        filters = [("includefield", field) for field in STUDY_FIELDS] + [
            ("PatientName", query.patient_name),
            ("PatientID", query.patient_id),
            ("StudyDate", query.study_date),
            ("AccessionNumber", query.accession),
            ("ModalitiesInStudy", ",".join(query.modalities)),
        ]
        answers, truncated = self._qido("studies", filters, self.local.max_find_rows)
        rows = StudyRows(study_row(answer) for answer in answers)
        if truncated:
            rows.cut_off(self.node.label)
        return rows

    def retrieve(self, study_uid: str, store: LocalStore, *, move: bool = False,
                 progress: ProgressCallback | None = None, should_stop: StopCheck | None = None) -> RetrieveOutcome:
        """Series by series; what QIDO-RS announced for a series and did not arrive counts as failed,
        with the reason. A failed series does not stop the others; a store that cannot be written
        stops the retrieve (what arrived is kept and said)."""
        if move:
            raise PacsError(self.node.label, "C-MOVE is a DIMSE service; a DICOMweb node is retrieved by WADO-RS")
        series, _ = self._qido(f"studies/{quote(study_uid)}/series",
                               [("includefield", "NumberOfSeriesRelatedInstances")], MAX_SERIES)
        if not series:
            raise PacsError(self.node.label, f"WADO-RS: the node holds no study {study_uid}")
        announced = {str(item.get("SeriesInstanceUID") or ""): optional_int(item.get("NumberOfSeriesRelatedInstances"))
                     for item in series}
        outcome = RetrieveOutcome(study_uid, announced=None if None in announced.values() else sum(announced.values()))
        arrived = 0
        reasons: list[str] = []

        def part_done() -> None:
            nonlocal arrived
            arrived += 1
            if progress:
                progress(arrived, max(outcome.announced or 0, arrived))

        for series_uid, expected in announced.items():
            writer = _PartWriter(store, self.local.max_object_bytes, part_done)
            problems, store_failed = [], False
            try:
                self._download_series(study_uid, series_uid, writer, should_stop)
            except _StoreFailure as failure:
                problems.append(str(failure))
                store_failed = True
            except PacsError as error:
                problems.append(f"series {series_uid}: {error.reason}")
            finally:
                writer.discard()
            outcome.files += writer.kept
            if should_stop and should_stop():
                outcome.cancelled = True
                break
            missing, problems = _missing(series_uid, expected, writer, problems)
            outcome.failed += missing
            reasons += problems
            if store_failed:
                break
        outcome.settle(reasons[0] if reasons else "")
        return outcome

    def _download_series(self, study_uid: str, series_uid: str, writer: _PartWriter,
                         should_stop: StopCheck | None) -> None:
        path = f"studies/{quote(study_uid)}/series/{quote(series_uid)}"
        with self._request("WADO-RS") as deadline, self._get(path, "", WADO_ACCEPT) as answer:
            parser = MultipartParser(_multipart_boundary(answer.headers.get("Content-Type", "")), writer.callbacks())
            unacknowledged = 0
            for chunk in answer.iter_content(CHUNK_BYTES):
                parser.write(chunk)
                unacknowledged += len(chunk)
                if unacknowledged >= PROGRESS_BYTES:
                    deadline.progressed()
                    unacknowledged = 0
                if should_stop and should_stop():
                    return
            if parser.state != MultipartState.END:
                raise PacsError(self.node.label, "WADO-RS: the answer broke off part way (the connection was closed)")

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
        # The upload too must progress by PROGRESS_BYTES per timeout.
        seconds = self.timeout_s * (1 + path.stat().st_size // PROGRESS_BYTES)
        try:
            with self._request("STOW-RS", seconds):
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
