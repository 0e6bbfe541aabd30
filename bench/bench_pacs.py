"""PACS round trips against a throw-away Orthanc on loopback (started here, as the tests start it):
find latency (median of N), retrieve images/s by C-GET, C-MOVE and WADO-RS (a study of all RSNA
images), and send seconds per image by C-STORE and STOW-RS (copies under new UIDs, so Orthanc really
stores them). Needs Debian's orthanc and orthanc-dicomweb.
Run: python bench/bench_pacs.py [--repeats 20]"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests" / "pacs"))
DATA_DIR = Path(os.environ.get("XRAYDESK_DATA") or REPO_ROOT / ".." / "shared" / "data").resolve()

from orthanc_server import OrthancServer  # the tests' launcher, on the path set above

from xraydesk.pacs.client import client_for
from xraydesk.pacs.dimse import Listener
from xraydesk.pacs.local_store import LocalStore
from xraydesk.pacs.nodes import LocalSide
from xraydesk.pacs.types import StudyQuery


def median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def copies_with_new_uids(files: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    study_uid, series_uid = generate_uid(), generate_uid()
    copies = []
    for path in files:
        dataset = pydicom.dcmread(path)
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study_uid, series_uid
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        copies.append(folder / path.name)
        dataset.save_as(copies[-1])
    return copies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20, help="find queries to take the median of")
    args = parser.parse_args()
    files = sorted((DATA_DIR / "dicom" / "rsna").glob("*.dcm"))
    with tempfile.TemporaryDirectory() as scratch, OrthancServer(Path(scratch) / "orthanc") as server:
        scratch = Path(scratch)
        server.upload(files)
        study_uid = server.upload_as_one_study(files, "BENCH")
        local = LocalSide(ae_title=server.our_aet, listener_port=server.our_port)
        dimse, web = client_for(server.dimse_node, local), client_for(server.dicomweb_node, local)
        print(f"Orthanc 1.10 on loopback; {len(files)} RSNA images (JPEG baseline, ~{files[0].stat().st_size // 1024} KB "
              f"each); retrieve = one study of {len(files)} images into a fresh store\n")
        print(f"{'operation':<52}{'figure':>9}")
        for name, client in (("C-FIND", dimse), ("QIDO-RS", web)):
            seconds = median_seconds(lambda client=client: client.find(StudyQuery()), args.repeats)
            print(f"{name + ' (all CR/DX studies), median':<52}{seconds * 1000:>9.1f} ms")

        def retrieve_rate(label: str, retrieve) -> None:
            rates = []
            for attempt in range(3):
                store = LocalStore(scratch / f"{label}-{attempt}")
                start = time.perf_counter()
                outcome = retrieve(store)
                assert len(outcome.files) == len(files), outcome
                rates.append(len(files) / (time.perf_counter() - start))
            print(f"{label + ', median of 3':<52}{statistics.median(rates):>9.1f} images/s")

        retrieve_rate("retrieve by C-GET", lambda store: dimse.retrieve(study_uid, store))
        retrieve_rate("retrieve by C-MOVE (temporary listener)", lambda store: dimse.retrieve(study_uid, store,
                                                                                                move=True))

        # The app's listener, already running: it stores into its own store, whatever the move's.
        with Listener(local, LocalStore(scratch / "listener"), extra_calling_aets=[server.aet]) as listener:
            retrieve_rate("retrieve by C-MOVE (running listener)",
                          lambda store: dimse.retrieve(study_uid, store, move=True, listener=listener))
        retrieve_rate("retrieve by WADO-RS", lambda store: web.retrieve(study_uid, store))
        for name, client in (("C-STORE", dimse), ("STOW-RS", web)):
            copies = copies_with_new_uids(files, scratch / f"send-{name}")
            start = time.perf_counter()
            outcomes = client.send(copies)
            seconds = (time.perf_counter() - start) / len(copies)
            assert all(outcome.ok for outcome in outcomes), [o.message for o in outcomes if not o.ok]
            print(f"{'send by ' + name + ', per image':<52}{seconds * 1000:>9.1f} ms")


if __name__ == "__main__":
    main()
