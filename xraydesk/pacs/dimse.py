"""DIMSE with pynetdicom (no Qt): C-ECHO, C-FIND (Study Root), retrieval by C-GET or by C-MOVE to
our listener, C-STORE of files, and the Listener (a C-STORE SCP feeding the local store). Every
failure becomes a PacsError naming the node and the reason in words; every wait is bounded, and so
is what a peer can make us hold: PDUs, objects, connections."""

import contextlib
import logging
import select
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Self

from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    UID,
    BasicTextSRStorage,
    Comprehensive3DSRStorage,
    ComprehensiveSRStorage,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    EnhancedSRStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    KeyObjectSelectionDocumentStorage,
    MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
    MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
    MultiFrameTrueColorSecondaryCaptureImageStorage,
    RLELossless,
    SecondaryCaptureImageStorage,
)
from pynetdicom import (
    AE,
    ALL_TRANSFER_SYNTAXES,
    AllStoragePresentationContexts,
    Association,
    _config,
    build_context,
    build_role,
    evt,
)
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)
from pynetdicom.status import (
    QR_FIND_SERVICE_CLASS_STATUS,
    QR_GET_SERVICE_CLASS_STATUS,
    QR_MOVE_SERVICE_CLASS_STATUS,
    STATUS_CANCEL,
    STATUS_FAILURE,
    STATUS_PENDING,
    STATUS_SUCCESS,
    STORAGE_SERVICE_CLASS_STATUS,
    code_to_category,
)
from pynetdicom.transport import ThreadedAssociationServer

from xraydesk.pacs.local_store import IncompleteObject, LocalStore, StoredFile, UnreadableObject
from xraydesk.pacs.nodes import LocalSide, Node, PacsError, check_ae_title, check_port
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

# A received C-STORE data set goes to a temporary file as it arrives rather than into memory
# (pynetdicom's option, process-wide; the C-STORE handlers below read `event.dataset_path`).
_config.STORE_RECV_CHUNKED_DATASET = True

# The largest PDU we take: announced as our maximum length on every association, and enforced by
# the listener on every PDU, A-ASSOCIATE-RQ included (pynetdicom would buffer any announced length).
MAX_PDU_BYTES = 256 * 1024
PDU_HEADER_BYTES = 6
MIB = 1024 * 1024

# What XRayDesk keeps: X-ray images, secondary captures (its own result images among them) and
# reports. C-GET asks for these in the storage SCP role; the listener refuses other classes.
KEPT_SOP_CLASSES = (
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    SecondaryCaptureImageStorage,
    MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
    MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
    MultiFrameTrueColorSecondaryCaptureImageStorage,
    BasicTextSRStorage,
    EnhancedSRStorage,
    ComprehensiveSRStorage,
    Comprehensive3DSRStorage,
    KeyObjectSelectionDocumentStorage,
)  # fmt: skip

# One presentation context per compressed syntax (an acceptor picks one syntax per context): the
# node then sends each image as stored instead of decompressing it for us.
RETRIEVE_TRANSFER_SYNTAXES = (
    [ExplicitVRLittleEndian, ImplicitVRLittleEndian],
    *([syntax] for syntax in (JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessSV1, JPEGLossless, JPEG2000Lossless,
                              JPEG2000, JPEGLSLossless, RLELossless)),
)

SUCCESS = 0x0000
SOP_CLASS_NOT_SUPPORTED = 0x0122
OUT_OF_RESOURCES = 0xA700
DATA_SET_DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000
MAX_ERROR_COMMENT = 64  # Error Comment is LO

StoredCallback = Callable[[StoredFile], None]


def describe_status(status: Dataset, table: dict[int, tuple[str, str]]) -> str:
    """'status 0xA701 (Refused: Out of resources - Unable to calculate number of matches): comment'"""
    code = int(status.Status)
    meaning = table.get(code, (code_to_category(code), ""))[1] or code_to_category(code)
    comment = str(status.get("ErrorComment") or "").strip()
    return f"status 0x{code:04X} ({meaning})" + (f": {comment}" if comment else "")


def _status(code: int, comment: str = "") -> Dataset:
    """A C-STORE response status; the comment tells the sender why in words."""
    status = Dataset()
    status.Status = code
    if comment:
        status.ErrorComment = comment[:MAX_ERROR_COMMENT]
    return status


def store_received(event, store: LocalStore, on_stored: StoredCallback, where: str, max_bytes: int,
                   on_refused: Callable[[str], None] | None = None) -> Dataset:
    """Handles one incoming C-STORE (from a C-GET, a C-MOVE or a push): keeps the object in the
    store or refuses it with a DICOM failure status, said in a log line (and to `on_refused`).
    Never raises: a bad object must not end the association, let alone the listener."""
    sop_class = UID(event.request.AffectedSOPClassUID)
    received = Path(event.dataset_path)
    size = received.stat().st_size
    code = SUCCESS
    if sop_class not in KEPT_SOP_CLASSES:
        code, reason = SOP_CLASS_NOT_SUPPORTED, f"{sop_class.name} is not kept by XRayDesk"
    elif size > max_bytes:
        code, reason = OUT_OF_RESOURCES, f"{size / MIB:,.0f} MiB is over the {max_bytes / MIB:,.0f} MiB object limit"
    else:
        try:
            stored = store.store_moved(received)
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with one object, the sender gets a status
            code, reason = _refusal(exc)
    if code != SUCCESS:
        LOGGER.warning("%s: refused an object from %s: %s", where, _caller(event.assoc), reason)
        if on_refused:
            on_refused(reason)
        return _status(code, reason)
    try:
        on_stored(stored)
    except Exception:
        LOGGER.exception("%s: an observer failed on %s", where, stored.path)
    return _status(SUCCESS)


def _caller(association: Association) -> str:
    """'MODALITY1 (10.0.0.7)': the calling AE title and its address, for log lines."""
    requestor = association.requestor
    return f"{requestor.ae_title or '?'} ({requestor.address})"


def _discard_unfinished_object(event) -> None:
    """An association ending inside a C-STORE leaves pynetdicom's temporary file of the half-received
    data set behind (it deletes only those handed to a handler): delete it."""
    message = event.assoc.dimse.message
    unfinished = getattr(message, "_data_set_file", None)
    if unfinished is not None:
        unfinished.close()
        Path(unfinished.name).unlink(missing_ok=True)


def _refusal(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, UnreadableObject):
        return CANNOT_UNDERSTAND, f"cannot understand: {exc.reason}"
    if isinstance(exc, IncompleteObject):
        return DATA_SET_DOES_NOT_MATCH, exc.reason
    if isinstance(exc, OSError):
        return OUT_OF_RESOURCES, f"cannot write to the local store ({exc.strerror or exc})"
    return CANNOT_UNDERSTAND, f"cannot understand ({exc})"


def _ae(local: LocalSide) -> AE:
    check_ae_title(local.ae_title, "our AE title")
    ae = AE(ae_title=local.ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = local.timeout_s
    ae.maximum_pdu_size = MAX_PDU_BYTES
    return ae


class DimseClient:
    def __init__(self, node: Node, local: LocalSide):
        self.node = node
        self.local = local
        self._pdu_guard: _PduGuard | None = None  # the current association's

    def _error(self, reason: str) -> PacsError:
        return PacsError(self.node.label, reason)

    @contextlib.contextmanager
    def _association(self, contexts, roles=(), handlers=()) -> Iterator[Association]:
        """An established association, released on leaving (aborted when leaving on an error);
        PacsError when none can be established."""
        ae = _ae(self.local)
        ae.requested_contexts = contexts
        connected = threading.Event()
        started = time.monotonic()
        try:
            association = ae.associate(self.node.host, self.node.port, ae_title=self.node.ae_title,
                                       max_pdu=MAX_PDU_BYTES, ext_neg=list(roles),
                                       evt_handlers=[(evt.EVT_CONN_OPEN, lambda event: self._guard(event, connected)),
                                                     *handlers])
        except OSError as exc:  # the host name does not resolve
            raise self._error(_os_error_words(exc, self.node.host, self.node.port, self.local.timeout_s)) from exc
        if not association.is_established:
            raise self._error(self._why_not_established(association, connected.is_set(), time.monotonic() - started))
        try:
            yield association
        except BaseException:
            association.abort()
            raise
        if association.is_established:
            association.release()

    def _guard(self, event, connected: threading.Event) -> None:
        """Connected: from now on the node's PDUs are read through a _PduGuard, so a node that
        ignores the maximum PDU length we announce cannot make us buffer gigabytes (called on the
        association's thread, before it reads anything)."""
        transport = event.assoc.dul.socket
        transport.socket = self._pdu_guard = _PduGuard.wrap(transport.socket, self.node.host, self.local.timeout_s,
                                                            self.node.label)
        connected.set()

    def _why_not_established(self, association: Association, connected: bool, waited: float) -> str:
        timeout = self.local.timeout_s
        if not connected:
            return _connection_failure(self.node.host, self.node.port, timeout, waited)
        if self._pdu_guard.refusal:
            return f"connection closed: {self._pdu_guard.refusal}"
        answer = association.acceptor.primitive
        if association.is_rejected and answer is not None:
            return (f"association rejected: {answer.reason_str} ({answer.result_str.lower()}, "
                    f"by the {answer.source_str.lower()}); is our AE title '{self.local.ae_title}' known to the node?")
        if answer is not None and answer.result == 0:
            return "the node accepted none of the proposed presentation contexts (SOP classes / transfer syntaxes)"
        if waited >= 0.9 * timeout:
            return f"no answer to the association request within {timeout:g} s (timeout)"
        return "association aborted by the node (or the connection was closed) before it was accepted"

    def _lost(self, service: str, waited: float, part_way: bool = False) -> PacsError:
        """`part_way`: objects came already, so our AE title was allowed: the node went away."""
        if self._pdu_guard is not None and self._pdu_guard.refusal:
            return self._error(f"{service}: connection closed: {self._pdu_guard.refusal}")
        if waited >= 0.9 * self.local.timeout_s:
            return self._error(f"{service}: no answer within {self.local.timeout_s:g} s (timeout); association aborted")
        if part_way:
            return self._error(f"{service}: the connection was lost part way (the node stopped or aborted)")
        return self._error(f"{service}: association aborted by the node or the connection was lost (a node may "
                           f"abort when our AE title '{self.local.ae_title}' is not allowed this service)")

    def echo(self) -> float:
        started = time.monotonic()
        with self._association([build_context(Verification)]) as association:
            status = association.send_c_echo()
            if not status:
                raise self._lost("C-ECHO", time.monotonic() - started)
            if status.Status != SUCCESS:
                raise self._error(f"C-ECHO answered {describe_status(status, {})}")
        return time.monotonic() - started

    def find(self, query: StudyQuery) -> StudyRows:
        """At most `max_find_rows` studies; beyond them the node is stopped and the rows are marked truncated."""
        rows = StudyRows()
        with self._association([build_context(StudyRootQueryRetrieveInformationModelFind)]) as association:
            for answer in self._find_answers(association, _study_identifier(query)):
                if len(rows) == self.local.max_find_rows:
                    rows.cut_off(self.node.label)
                    association.abort()  # the node may have thousands more to send
                    break
                rows.append(study_row(answer))
        return rows

    def _find_answers(self, association: Association, identifier: Dataset) -> Iterator[Dataset]:
        answers = association.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind)
        last = time.monotonic()
        for status, answer in answers:
            if not status:
                raise self._lost("C-FIND", time.monotonic() - last)
            last = time.monotonic()
            category = code_to_category(int(status.Status))
            if category == STATUS_PENDING and answer is not None:
                yield answer
            elif category not in (STATUS_PENDING, STATUS_SUCCESS, STATUS_CANCEL):
                raise self._error(f"C-FIND failed: {describe_status(status, QR_FIND_SERVICE_CLASS_STATUS)}")

    def _announced(self, study_uid: str) -> int | None:
        """How many objects the node says the study holds (None when it does not say); PacsError when
        it does not hold the study."""
        identifier = _study_level(study_uid)
        identifier.NumberOfStudyRelatedInstances = ""
        with self._association([build_context(StudyRootQueryRetrieveInformationModelFind)]) as association:
            answers = list(self._find_answers(association, identifier))
        if not answers:
            raise self._error(f"the node holds no study {study_uid}")
        return study_row(answers[0]).images

    def retrieve(self, study_uid: str, store: LocalStore, *, move: bool = False,
                 progress: ProgressCallback | None = None, should_stop: StopCheck | None = None,
                 listener: "Listener | None" = None) -> RetrieveOutcome:
        """`listener`: the app's running listener for C-MOVE; without one, a temporary listener
        runs on our configured port for the duration of the move. What the node announced (by
        C-FIND first, then in its sub-operation counts) and did not arrive counts as failed, with
        the reason: a final failure status, or the connection lost part way."""
        outcome = RetrieveOutcome(study_uid, announced=self._announced(study_uid))
        identifier = _study_level(study_uid)
        try:
            if move:
                self._move(identifier, store, outcome, progress, should_stop, listener)
            else:
                self._get(identifier, store, outcome, progress, should_stop)
        except PacsError as error:
            if not outcome.files:
                raise
            outcome.settle(error.reason)  # the files kept so far stay kept, and are said
        return outcome

    def _get(self, identifier, store, outcome, progress, should_stop) -> None:
        refusals = []

        def keep(event):
            return store_received(event, store, outcome.files.append, self.node.label, self.local.max_object_bytes,
                                  refusals.append)

        contexts = [build_context(StudyRootQueryRetrieveInformationModelGet)]
        contexts += [build_context(sop_class, syntaxes) for sop_class in KEPT_SOP_CLASSES
                     for syntaxes in RETRIEVE_TRANSFER_SYNTAXES]
        roles = [build_role(sop_class, scp_role=True) for sop_class in KEPT_SOP_CLASSES]
        handlers = [(evt.EVT_C_STORE, keep), (evt.EVT_ABORTED, _discard_unfinished_object)]
        with self._association(contexts, roles, handlers) as association:
            responses = association.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet)
            self._follow("C-GET", association, responses, outcome, progress, should_stop, QR_GET_SERVICE_CLASS_STATUS,
                         refusals)

    def _move(self, identifier, store, outcome, progress, should_stop, listener) -> None:
        def arrived(stored: StoredFile) -> None:
            if stored.study_uid == outcome.study_uid:
                outcome.files.append(stored)

        temporary = listener is None
        listener = listener or Listener(self.local, store, extra_calling_aets=[self.node.ae_title])
        with contextlib.ExitStack() as stack:
            if temporary:
                stack.enter_context(listener)
            stack.enter_context(listener.observing(arrived))
            with self._association([build_context(StudyRootQueryRetrieveInformationModelMove)]) as association:
                responses = association.send_c_move(identifier, self.local.ae_title,
                                                    StudyRootQueryRetrieveInformationModelMove)
                self._follow("C-MOVE", association, responses, outcome, progress, should_stop,
                             QR_MOVE_SERVICE_CLASS_STATUS, [])

    def _follow(self, service, association, responses, outcome, progress, should_stop, statuses, refusals) -> None:
        """Reads C-GET / C-MOVE responses: the announced total and progress from the sub-operation
        counts, Cancel by aborting the association (the node stops sending), a failure as PacsError
        when nothing arrived and as missing objects with its reason otherwise."""
        last = time.monotonic()
        for status, _identifier in responses:
            if not status:
                raise self._lost(service, time.monotonic() - last, part_way=bool(outcome.files))
            last = time.monotonic()
            category = code_to_category(int(status.Status))
            counts = {kind: int(status.get(f"NumberOf{kind}Suboperations") or 0)
                      for kind in ("Completed", "Failed", "Warning", "Remaining")}
            done = counts["Completed"] + counts["Failed"] + counts["Warning"]
            if done + counts["Remaining"] > (outcome.announced or 0):
                outcome.announced = done + counts["Remaining"]
            if category == STATUS_PENDING:
                if progress:
                    progress(done, outcome.announced or 0)
                if should_stop and should_stop():
                    association.abort()
                    outcome.cancelled = True
                    return
                continue
            outcome.failed = counts["Failed"]
            outcome.cancelled = category == STATUS_CANCEL
            words = f"{service} {'failed' if category == STATUS_FAILURE else 'ended'}: {describe_status(status, statuses)}"
            if category == STATUS_FAILURE and not outcome.files:
                raise self._error(words)
            outcome.settle(refusals[0] if refusals else words)
            if progress:
                progress(done, done)

    def send(self, paths: Sequence[Path], *, progress: ProgressCallback | None = None,
             should_stop: StopCheck | None = None) -> list[SendOutcome]:
        files = expand_paths(paths)
        outcomes: dict[Path, SendOutcome] = {}
        pairs: dict[tuple[str, str], None] = {}  # (SOP class, transfer syntax), in order, once each
        sendable = []
        for path in files:
            try:
                header = read_for_sending(path, headers_only=True)
            except ValueError as error:
                outcomes[path] = SendOutcome(path, False, f"not sent: {error}")
                continue
            pairs[(header.SOPClassUID, header.file_meta.TransferSyntaxUID)] = None
            sendable.append(path)
        if sendable:
            # One context per syntax met (an acceptor picks one syntax per context), and an
            # uncompressed one per class for a node that takes none of the compressions.
            contexts = [build_context(sop_class, syntax) for sop_class, syntax in pairs]
            contexts += [build_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
                         for sop_class in dict.fromkeys(sop_class for sop_class, _ in pairs)]
            with self._association(contexts) as association:
                for index, path in enumerate(sendable):
                    if should_stop and should_stop():
                        outcomes[path] = SendOutcome(path, False, "not sent: cancelled")
                    elif not association.is_established:
                        outcomes[path] = SendOutcome(path, False, "not sent: the association was lost")
                    else:
                        outcomes[path] = self._store_one(association, path)
                    if progress:
                        progress(index + 1, len(sendable))
        return [outcomes[path] for path in files]

    def _store_one(self, association: Association, path: Path) -> SendOutcome:
        started = time.monotonic()
        try:
            dataset = read_for_sending(path)
            syntax = dataset.file_meta.TransferSyntaxUID
            accepted = {(context.abstract_syntax, context.transfer_syntax[0])
                        for context in association.accepted_contexts}
            if syntax.is_compressed and (dataset.SOPClassUID, syntax) not in accepted:
                dataset.decompress()  # the node takes no image in this compression: send the pixels uncompressed
            status = association.send_c_store(dataset)
        except ValueError as error:
            return SendOutcome(path, False, f"not sent: {error}")
        except Exception as exc:  # noqa: BLE001 - pynetdicom: e.g. no accepted context for this file's syntax
            return SendOutcome(path, False, f"not sent: {exc}")
        if not status:
            return SendOutcome(path, False, self._lost("C-STORE", time.monotonic() - started).reason)
        category = code_to_category(int(status.Status))
        message = describe_status(status, STORAGE_SERVICE_CLASS_STATUS)
        return SendOutcome(path, category != STATUS_FAILURE, "stored" if int(status.Status) == SUCCESS else message)


def _study_level(study_uid: str) -> Dataset:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    return identifier


def _study_identifier(query: StudyQuery) -> Dataset:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.PatientName = query.patient_name
    identifier.PatientID = query.patient_id
    identifier.StudyDate = query.study_date
    identifier.StudyTime = ""
    identifier.AccessionNumber = query.accession
    identifier.StudyDescription = ""
    identifier.ModalitiesInStudy = list(query.modalities) if query.modalities else ""
    identifier.NumberOfStudyRelatedInstances = ""
    identifier.StudyInstanceUID = ""
    return identifier


def _connection_failure(host: str, port: int, timeout: float, waited: float) -> str:
    """pynetdicom only logs why the TCP connection failed; a second quick try says it in words
    (unless the first one already used the whole timeout)."""
    if waited >= 0.9 * timeout:
        return f"no answer from {host}:{port} within {timeout:g} s (timeout; host down or port filtered?)"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return f"the connection to {host}:{port} was closed before the association request"
    except OSError as exc:
        return _os_error_words(exc, host, port, timeout)


def _os_error_words(exc: OSError, host: str, port: int, timeout: float) -> str:
    if isinstance(exc, socket.gaierror):
        return f"unknown host '{host}'"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused: nothing listens on {host}:{port}"
    if isinstance(exc, TimeoutError):
        return f"no answer from {host}:{port} within {timeout:g} s (timeout)"
    return f"cannot connect to {host}:{port} ({exc.strerror or exc})"


class _PduGuard(socket.socket):
    """A connection (accepted, or made to a node), read through a check of its PDU stream. pynetdicom
    reads a whole PDU of any announced length (up to 4 GiB) before it looks at it, and waits for it
    without end while bytes trickle in: here a PDU announced longer than MAX_PDU_BYTES ends the connection
    at once, and each PDU must arrive whole within `pdu_timeout` seconds."""

    @classmethod
    def wrap(cls, accepted: socket.socket, peer: str, pdu_timeout: float, where: str) -> Self:
        guard = cls(accepted.family, accepted.type, accepted.proto, fileno=accepted.detach())
        guard.settimeout(pdu_timeout)
        guard.peer, guard.pdu_timeout, guard.where = peer, pdu_timeout, where
        guard._header, guard._left, guard._deadline = bytearray(), 0, None
        guard.refusal = ""  # why the guard closed the connection, if it did
        return guard

    def recv(self, size: int, flags: int = 0) -> bytes:
        if self._deadline is None:  # a PDU begins
            self._deadline = time.monotonic() + self.pdu_timeout
        remaining = self._deadline - time.monotonic()
        try:
            readable = remaining > 0 and select.select([self], [], [], remaining)[0]
        except ValueError as exc:  # closed meanwhile by another thread (an abort): pynetdicom expects an OSError
            raise ConnectionAbortedError("the connection was closed") from exc
        if not readable:
            self.refusal = f"no whole PDU within {self.pdu_timeout:g} s"
            LOGGER.warning("%s: closed the connection from %s: %s", self.where, self.peer, self.refusal)
            raise TimeoutError(self.refusal)
        data = super().recv(size, flags)
        self._follow(data)
        return data

    def _follow(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._left:
                step = min(self._left, len(view))
                self._left, view = self._left - step, view[step:]
            else:
                needed = PDU_HEADER_BYTES - len(self._header)
                self._header += view[:needed]
                view = view[needed:]
                if len(self._header) == PDU_HEADER_BYTES:
                    (self._left,) = struct.unpack(">L", self._header[2:])
                    self._header.clear()
                    if self._left > MAX_PDU_BYTES:
                        self.refusal = f"a PDU of {self._left:,} bytes, over the {MAX_PDU_BYTES:,}-byte limit"
                        LOGGER.warning("%s: closed the connection from %s: %s", self.where, self.peer, self.refusal)
                        raise ConnectionAbortedError(self.refusal)
            if not self._left and not self._header:
                self._deadline = None


class _GuardedServer(ThreadedAssociationServer):
    """pynetdicom's server with limits on connections: at most `max_associations` open at once and
    `max_associations_per_address` from one address (refused on connection, before any thread or
    PDU), and every connection read through a _PduGuard."""

    def __init__(self, *args, local: LocalSide, where: str, **kwargs):
        self.local, self.where = local, where
        self._open: list[_PduGuard] = []  # connections accepted; only the server's thread touches it
        super().__init__(*args, **kwargs)

    def get_request(self) -> tuple[socket.socket, tuple]:
        accepted, address = super().get_request()
        return _PduGuard.wrap(accepted, address[0], self.local.timeout_s, self.where), address

    def verify_request(self, request: _PduGuard, client_address) -> bool:
        self._open = [connection for connection in self._open if connection.fileno() != -1]  # closed ones go
        from_there = sum(1 for connection in self._open if connection.peer == request.peer)
        if len(self._open) >= self.local.max_associations:
            reason = f"{len(self._open)} connections are open, the most it holds"
        elif from_there >= self.local.max_associations_per_address:
            reason = f"{from_there} connections from there are open, the most it holds from one address"
        else:
            self._open.append(request)
            return True
        LOGGER.warning("%s: refused a connection from %s: %s", self.where, request.peer, reason)
        return False

    def shutdown(self) -> None:
        """pynetdicom's shutdown also unlists the server from the AE that started it; this one was
        made by the AE, not started by it."""
        socketserver.TCPServer.shutdown(self)
        self.server_close()


def _log_rejected(event, where: str) -> None:
    answer = event.assoc.acceptor.primitive
    reason = answer.reason_str if answer is not None else "rejected"
    LOGGER.warning("%s: refused the association of %s: %s", where, _caller(event.assoc), reason)


class Listener:
    """A C-STORE SCP feeding the local store; off until started. It answers only the calling AE
    titles allowed in `local` (plus `extra_calling_aets`) unless any are allowed, within the
    limits of `local`; every stored file is reported to the observers, one at a time (they are
    called on pynetdicom's threads), and every refusal is logged."""

    def __init__(self, local: LocalSide, store: LocalStore, *, on_stored: StoredCallback | None = None,
                 extra_calling_aets: Sequence[str] = ()):
        self.local = local
        self.store = store
        self.calling_aets = [*local.allowed_calling_aets, *extra_calling_aets]
        self._observers: list[StoredCallback] = [on_stored] if on_stored else []
        self._lock = threading.Lock()  # the observers list, and one notification at a time
        self._server: _GuardedServer | None = None

    @property
    def address(self) -> str:
        return f"{self.local.ae_title}@{self.local.listener_interface}:{self.port}"

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self.local.listener_port

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        where = f"listener {self.address}"
        check_port(self.local.listener_port, where, any_free=True)
        for calling_aet in self.calling_aets:
            check_ae_title(calling_aet, f"{where}: allowed calling AE title")
        if not self.local.allow_any_calling_aet and not self.calling_aets:
            raise PacsError(where, "no calling AE title is allowed: add the sender's AE title to the allowed ones, or allow any")
        ae = _ae(self.local)
        ae.acse_timeout = self.local.association_request_timeout_s
        ae.maximum_associations = self.local.max_associations
        ae.require_calling_aet = [] if self.local.allow_any_calling_aet else self.calling_aets
        contexts = [build_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
                    for context in [*AllStoragePresentationContexts, build_context(Verification)]]
        self.store.clean_incoming()
        handlers = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_ABORTED, _discard_unfinished_object),
                    (evt.EVT_REJECTED, _log_rejected, [where])]
        try:
            self._server = ae.make_server((self.local.listener_interface, self.local.listener_port), contexts=contexts,
                                          evt_handlers=handlers, server_class=_GuardedServer, local=self.local,
                                          where=where)
        except OSError as exc:
            raise PacsError(where, f"cannot listen ({exc.strerror or exc})") from exc
        threading.Thread(target=self._server.serve_forever, name=f"listener {self.port}", daemon=True).start()
        LOGGER.info("listening as %s", self.address)

    def stop(self) -> None:
        """Ends open associations too (a PACS may keep one open for seconds after a C-MOVE)."""
        if self._server is None:
            return
        for association in self._server.active_associations:
            association.abort()
        self._server.shutdown()
        self._server = None
        self.store.clean_incoming()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc_info) -> None:
        self.stop()

    @contextlib.contextmanager
    def observing(self, callback: StoredCallback) -> Iterator[None]:
        with self._lock:
            self._observers.append(callback)
        try:
            yield
        finally:
            with self._lock:
                self._observers.remove(callback)

    def _notify(self, stored: StoredFile) -> None:
        """Under the lock: what parallel senders' files make observers print never interleaves."""
        with self._lock:
            for observer in self._observers:
                observer(stored)

    def _on_store(self, event) -> Dataset:
        return store_received(event, self.store, self._notify, f"listener {self.address}", self.local.max_object_bytes)
