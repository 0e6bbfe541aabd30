"""One face for every PACS (no Qt): `client_for(node)` gives an object with echo, find, retrieve
and send whether the node speaks DIMSE or DICOMweb, so the CLI and the UI never ask which. The
query, the result rows and the outcomes are plain data shared by both protocols (xraydesk.pacs.types)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from xraydesk.pacs.local_store import LocalStore
from xraydesk.pacs.nodes import DICOMWEB, LocalSide, Node
from xraydesk.pacs.types import ProgressCallback, RetrieveOutcome, SendOutcome, StopCheck, StudyQuery, StudyRow


class PacsClient(Protocol):
    node: Node

    def echo(self) -> float:
        """Round trip in seconds; raises PacsError naming the node and the reason."""

    def find(self, query: StudyQuery) -> list[StudyRow]: ...

    def retrieve(self, study_uid: str, store: LocalStore, *, move: bool = False,
                 progress: ProgressCallback | None = None, should_stop: StopCheck | None = None) -> RetrieveOutcome:
        """Brings a study into the local store. `move` asks a DIMSE node for C-MOVE to our
        listener instead of C-GET."""

    def send(self, paths: Sequence[Path], *, progress: ProgressCallback | None = None,
             should_stop: StopCheck | None = None) -> list[SendOutcome]:
        """Sends files (folders are expanded); one outcome per file, in order."""


def client_for(node: Node, local: LocalSide | None = None) -> PacsClient:
    local = local or LocalSide()
    if node.kind == DICOMWEB:
        from xraydesk.pacs.dicomweb import DicomWebClient

        return DicomWebClient(node, local)
    from xraydesk.pacs.dimse import DimseClient

    return DimseClient(node, local)
