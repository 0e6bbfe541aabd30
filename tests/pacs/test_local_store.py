"""The local store (layout, atomic writes, never overwriting different content, never inside a
source folder) and the PACS settings file (nodes parsed and saved)."""

import numpy as np
import pydicom
import pytest

from xraydesk.pacs.local_store import (
    ALREADY_STORED,
    STORED,
    STORED_BESIDE,
    IncompleteObject,
    LocalStore,
    UnreadableObject,
    default_store_root,
    safe_name,
)
from xraydesk.pacs.nodes import (
    AUTH_BEARER,
    DICOMWEB,
    DIMSE,
    Node,
    PacsError,
    PacsSettings,
    load_settings,
    parse_node,
    save_settings,
    settings_path,
)


def test_store_layout_and_identical_content(store, make_dicom):
    image = make_dicom("a.dcm", StudyInstanceUID="1.2.3", SeriesInstanceUID="1.2.3.4")
    first = store.store_encoded(image.read_bytes())
    sop_uid = pydicom.dcmread(image).SOPInstanceUID
    assert first.path == store.root / "1.2.3" / "1.2.3.4" / f"{sop_uid}.dcm"
    assert (first.outcome, first.path.read_bytes()) == (STORED, image.read_bytes())
    assert store.store_encoded(image.read_bytes()).outcome == ALREADY_STORED
    assert [path.name for path in first.path.parent.iterdir()] == [first.path.name]


def test_different_content_never_overwrites(store, make_dicom):
    image = make_dicom("a.dcm")
    dataset = pydicom.dcmread(image)
    first = store.store_dataset(dataset)
    original_bytes = first.path.read_bytes()
    dataset.PatientName = "Changed^Name"
    beside = store.store_dataset(dataset)
    assert beside.outcome == STORED_BESIDE
    assert beside.path != first.path and beside.path.parent == first.path.parent
    assert first.path.read_bytes() == original_bytes
    assert pydicom.dcmread(beside.path).PatientName == "Changed^Name"
    assert store.store_dataset(dataset).path == beside.path  # the same new content: found, not stored again


def test_refused_objects_leave_nothing_behind(store, make_dicom):
    with pytest.raises(UnreadableObject):
        store.store_encoded(b"not DICOM at all")
    dataset = pydicom.dcmread(make_dicom("a.dcm"))
    del dataset.StudyInstanceUID
    with pytest.raises(IncompleteObject, match="StudyInstanceUID"):
        store.store_dataset(dataset)
    assert [path.name for path in store.root.rglob("*")] == [".incoming"]


def test_a_large_image_cut_short_is_refused_without_reading_it_whole(store, make_dicom):
    image = make_dicom("large.dcm", pixels=np.zeros((1024, 1024), dtype=np.uint16))  # pixel data left in the file
    with pytest.raises(UnreadableObject, match=r"pixel data cut short \(2,096,152 of 2,097,152 bytes\)"):
        store.store_encoded(image.read_bytes()[:-1000])
    assert store.store_encoded(image.read_bytes()).outcome == STORED


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_uids_cannot_escape_the_store(store, make_dicom):
    image = make_dicom("a.dcm", StudyInstanceUID="../../outside", SeriesInstanceUID="..")
    stored = store.store_encoded(image.read_bytes())
    assert store.root in stored.path.parents
    assert safe_name("..") == "unknown" and safe_name("1.2/../3") == "1.2_.._3"


def test_store_refuses_a_source_folder(tmp_path):
    source = tmp_path / "my studies"
    with pytest.raises(PacsError, match="inside the source folder"):
        LocalStore(source / "store", protected_folders=[source])
    assert LocalStore(tmp_path / "elsewhere", protected_folders=[source]).root == tmp_path / "elsewhere"


def test_default_store_is_in_the_user_data_folder(tmp_path):
    assert default_store_root() == tmp_path / "data" / "XRayDesk" / "store"  # XDG_DATA_HOME from conftest


def test_nodes_parse_from_address_url_or_saved_name():
    dimse = parse_node("ORTHANC@pacs.example:4242")
    assert (dimse.kind, dimse.ae_title, dimse.host, dimse.port) == (DIMSE, "ORTHANC", "pacs.example", 4242)
    web = parse_node("https://pacs.example/dicom-web/")
    assert (web.kind, web.url, web.verify_tls) == (DICOMWEB, "https://pacs.example/dicom-web", True)
    saved = PacsSettings(nodes=[Node(name="main", ae_title="MAIN", host="10.0.0.5", port=104)])
    assert parse_node("main", saved).address == "MAIN@10.0.0.5:104"
    for bad in ("nothing", "WAYTOOLONGAETITLE17@host:104", "AET@host:99999"):
        with pytest.raises(PacsError):
            parse_node(bad)


def test_settings_round_trip_privately(tmp_path):
    settings = PacsSettings(nodes=[Node(name="cloud", url="https://pacs/dicom-web", auth=AUTH_BEARER, secret="t")])
    settings.local.allowed_calling_aets = ["MODALITY1"]
    path = save_settings(settings)
    assert path == settings_path() == tmp_path / "config" / "XRayDesk" / "pacs.json"
    assert path.stat().st_mode & 0o077 == 0  # it may hold a password or token
    assert load_settings() == settings
    path.write_text("{broken")
    with pytest.raises(PacsError, match="pacs.json"):
        load_settings()


@pytest.mark.parametrize("planted", ["link", "stale world-readable file"])
def test_settings_never_go_through_a_planted_temporary_file(tmp_path, planted):
    """The temporary file is created anew and private: a link or a stale 0644 file waiting under
    a predictable name (pacs.json.tmp) neither receives the password nor makes the file readable."""
    path = settings_path()
    path.parent.mkdir(parents=True)
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("untouched")
    waiting = path.parent / "pacs.json.tmp"
    if planted == "link":
        waiting.symlink_to(victim)
    else:
        waiting.write_text("stale")
        waiting.chmod(0o644)
    save_settings(PacsSettings(nodes=[Node(name="cloud", url="https://pacs/dicom-web", secret="password")]))
    assert victim.read_text() == "untouched"
    assert path.stat().st_mode & 0o777 == 0o600 and not path.is_symlink()
    assert load_settings().nodes[0].secret == "password"
    assert sorted(item.name for item in path.parent.iterdir()) == ["pacs.json", "pacs.json.tmp"]  # nothing else left


def test_settings_replace_a_link_rather_than_write_through_it(tmp_path):
    path = settings_path()
    path.parent.mkdir(parents=True)
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("untouched")
    path.symlink_to(victim)
    save_settings(PacsSettings())
    assert victim.read_text() == "untouched" and not path.is_symlink()


def test_incoming_leftovers_of_dead_writers_are_cleaned(store):
    store.incoming_path().write_bytes(b"this process's, being written")
    running_writers = store.root / ".incoming" / "1-0123.partial"  # PID 1 always runs
    running_writers.write_bytes(b"being written")
    legacy = store.root / ".incoming" / "0123abcd.partial"  # named before the writer was: its writer is gone
    legacy.write_bytes(b"half an object")
    assert store.clean_incoming() == 1
    assert not legacy.exists() and running_writers.exists() and len(list(legacy.parent.iterdir())) == 2
