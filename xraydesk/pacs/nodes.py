"""PACS nodes and our own side of the conversation (no Qt): a node speaks DIMSE (AE title, host,
port) or DICOMweb (a URL, with optional basic or bearer auth). The settings dialog and the CLI
share one JSON file: $XDG_CONFIG_HOME/XRayDesk/pacs.json."""

import json
import os
import re
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
        if not 0 < self.port < 65536:
            raise PacsError(self.label, f"port {self.port} is not between 1 and 65535")


def check_ae_title(ae_title: str, where: str) -> None:
    if not ae_title.strip() or len(ae_title) > MAX_AE_TITLE or "\\" in ae_title or not ae_title.isprintable():
        raise PacsError(where, f"'{ae_title}' is not an AE title (1-{MAX_AE_TITLE} printable characters, no '\\')")


@dataclass
class LocalSide:
    """Our own side: the AE title we call with, and the listener (off unless the user starts it)."""

    ae_title: str = "XRAYDESK"
    listener_port: int = 11112
    listener_interface: str = "127.0.0.1"
    allowed_calling_aets: list[str] = field(default_factory=list)
    allow_any_calling_aet: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S


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
    """Written atomically and readable only by the user: the file may hold a password or token."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        json.dump(asdict(settings), stream, indent=2)
    os.replace(temporary, path)
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
