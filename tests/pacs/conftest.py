"""The PACS tests' real server: one Orthanc per session on loopback (tests/pacs/orthanc_server.py),
holding the shared RSNA DICOMs and a study of several images. (PACS settings and the default local
store go to temporary folders: tests/conftest.py.)"""

from types import SimpleNamespace

import pytest
from orthanc_server import serve_for_tests

from xraydesk.pacs.local_store import LocalStore
from xraydesk.pacs.nodes import LocalSide

MULTI_IMAGE_PATIENT = "XRAYDESK-MULTI"


@pytest.fixture(scope="session")
def rsna_files(dicom_dir):
    files = sorted((dicom_dir / "rsna").glob("*.dcm"))
    if not files:
        pytest.skip(f"no RSNA DICOM files in {dicom_dir / 'rsna'}")
    return files


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory, rsna_files):
    """Orthanc with the RSNA files uploaded. Attributes: aet, host, dicom_port, http_url,
    dicomweb_url, our_aet, our_port (where C-MOVE results go), dimse_node, dicomweb_node (basic
    auth), rest_get(path), rest_post(path, body), upload(paths), study_uids()."""
    yield from serve_for_tests(tmp_path_factory.mktemp("orthanc"), rsna_files)


@pytest.fixture(scope="session")
def multi_image_study(orthanc, rsna_files) -> SimpleNamespace:
    """A study of several images (copies of RSNA images under new UIDs): .uid, .count."""
    count = 6
    return SimpleNamespace(uid=orthanc.upload_as_one_study(rsna_files[:count], MULTI_IMAGE_PATIENT), count=count)


@pytest.fixture
def local_side(orthanc) -> LocalSide:
    """Our side as Orthanc knows it: AE title XRAYDESK, listener on the port registered for C-MOVE."""
    return LocalSide(ae_title=orthanc.our_aet, listener_port=orthanc.our_port, timeout_s=10)


@pytest.fixture
def store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "store")
