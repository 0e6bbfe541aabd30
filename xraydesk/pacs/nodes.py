"""PACS nodes and our own side of the conversation (no Qt): a node speaks DIMSE (AE title, host,
port) or DICOMweb (a URL, with optional basic or bearer auth). The settings dialog and the CLI
share one JSON file: $XDG_CONFIG_HOME/XRayDesk/pacs.json."""

import json
import os
import re
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

DIMSE = "dimse"
DICOMWEB = "dicomweb"
AUTH_NONE, AUTH_BASIC, AUTH_BEARER = "none", "basic", "bearer"
DEFAULT_TIMEOUT_S = 10.0
MAX_AE_TITLE = 16  # PS3.5: an AE title is at most 16 characters, no backslash or control characters

_DIMSE_ADDRESS = re.compile(r"^(?P<aet>[^@]{1,16})@(?P<host>\[[^\]]+\]|[^:@\s]+):(?P<port>\d{1,5})$")


class PacsError(Exception):
    """A failure worth one line to the user: where (a node or a folder) and the reason in words."""

    def __init__(self, where: str, reason: str):
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass
class Node:
    """A PACS the user talks to. `secret` is the password (basic auth) or the token (bearer)."""

    name: str = ""
    ae_title: str = ""
    host: str = ""
    port: int = 0
    url: str = ""
    auth: str = AUTH_NONE
    username: str = ""
    secret: str = ""
    verify_tls: bool = True
    retrieve_by_move: bool = False  # C-MOVE to our listener instead of C-GET (for a PACS without C-GET)

    @property
    def kind(self) -> str:
        return DICOMWEB if self.url else DIMSE

    @property
    def address(self) -> str:
        return self.url if self.url else f"{self.ae_title}@{self.host}:{self.port}"

    @property
    def label(self) -> str:
        """How errors and logs name the node: 'Main PACS (ORTHANC@pacs:4242)' or just the address."""
        return f"{self.name} ({self.address})" if self.name else self.address

    def check(self) -> None:
        """Raises PacsError when the node cannot be used as given."""
        if self.kind == DICOMWEB:
            if not re.match(r"^https?://[^/\s]+", self.url):
                raise PacsError(self.label, "a DICOMweb URL starts with http:// or https:// and names a host")
            if self.auth not in (AUTH_NONE, AUTH_BASIC, AUTH_BEARER):
                raise PacsError(self.label, f"unknown authentication '{self.auth}' (none, basic or bearer)")
            return
        check_ae_title(self.ae_title, self.label)
        if not self.host:
            raise PacsError(self.label, "no host given")
        check_port(self.port, self.label)


def check_port(port: int, where: str, *, any_free: bool = False) -> None:
    """`any_free`: 0 is allowed too (the system picks a free port to listen on)."""
    if not (0 if any_free else 1) <= port <= 65535:
        raise PacsError(where, f"port {port} is not between {0 if any_free else 1} and 65535")


def check_ae_title(ae_title: str, where: str) -> None:
    if not ae_title.strip() or len(ae_title) > MAX_AE_TITLE or "\\" in ae_title or not ae_title.isprintable():
        raise PacsError(where, f"'{ae_title}' is not an AE title (1-{MAX_AE_TITLE} printable characters, no '\\')")


@dataclass
class LocalSide:
    """Our own side: the AE title we call with, the listener (off unless the user starts it), and
    the limits that keep a hostile or broken peer from exhausting memory, disk or the listener."""

    ae_title: str = "XRAYDESK"
    listener_port: int = 11112
    listener_interface: str = "127.0.0.1"
    allowed_calling_aets: list[str] = field(default_factory=list)
    allow_any_calling_aet: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S  # for any answer; a whole DICOMweb request; each PDU the listener reads
    max_object_mib: int = 256  # a larger received object (C-STORE, WADO-RS part) is refused
    max_find_rows: int = 1000  # a find keeps this many studies and says the rest were cut off
    max_associations: int = 20  # connections the listener holds at once...
    max_associations_per_address: int = 4  # ...and from one address
    association_request_timeout_s: float = 5.0  # a caller must send its association request within this (ARTIM)

    @property
    def max_object_bytes(self) -> int:
        return self.max_object_mib * 1024 * 1024


@dataclass
class PacsSettings:
    local: LocalSide = field(default_factory=LocalSide)
    nodes: list[Node] = field(default_factory=list)

    def node_named(self, name: str) -> Node | None:
        return next((node for node in self.nodes if node.name == name), None)


def settings_path() -> Path:
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "XRayDesk" / "pacs.json"


def load_settings(path: Path | None = None) -> PacsSettings:
    """The saved settings, or the defaults when there is no file yet. A damaged file raises
    PacsError naming it (the dialog can offer to start afresh)."""
    path = path or settings_path()
    if not path.exists():
        return PacsSettings()
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return PacsSettings(
            local=LocalSide(**_known_fields(LocalSide, saved.get("local", {}))),
            nodes=[Node(**_known_fields(Node, node)) for node in saved.get("nodes", [])],
        )
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise PacsError(str(path), f"PACS settings could not be read ({exc})") from exc


def _known_fields(cls, saved: dict) -> dict:
    """Fields a newer or older version wrote are ignored rather than failing the whole file."""
    names = {item.name for item in fields(cls)}
    return {key: value for key, value in saved.items() if key in names}


def save_settings(settings: PacsSettings, path: Path | None = None) -> Path:
    """Written atomically and readable only by the user: the file may hold a password or token. The
    temporary file is new (O_EXCL: never a stale or planted file, never through a symbolic link),
    so 0600 from its creation; os.replace swaps it in, replacing a link at `path` rather than
    writing through it."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(asdict(settings), stream, indent=2)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def parse_node(text: str, settings: PacsSettings | None = None) -> Node:
    """A node from `AET@HOST:PORT`, an http(s) URL, or the name of a saved node."""
    text = text.strip()
    saved = (settings or PacsSettings()).node_named(text)
    if saved is not None:
        node = saved
    elif text.lower().startswith(("http://", "https://")):
        node = Node(url=text.rstrip("/"))
    elif match := _DIMSE_ADDRESS.match(text):
        node = Node(ae_title=match["aet"], host=match["host"].strip("[]"), port=int(match["port"]))
    else:
        raise PacsError(text or "(empty)", "not a saved node, AET@HOST:PORT or an http(s):// URL")
    node.check()
    return node
