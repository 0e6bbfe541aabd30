"""Does the window stay responsive while it talks to the PACS? The app's own PacsController and
SessionController, against a throw-away Orthanc on loopback (as the tests start it): search, then
retrieve a study of every RSNA image by C-GET, C-MOVE to the app's listener and WADO-RS, each time
until the retrieved images are scanned into the browser with thumbnails. A 5 ms timer on the UI
thread measures the longest gap between its ticks (an event-loop stall). Target: no stall > 50 ms.
Run: QT_QPA_PLATFORM=offscreen python bench/bench_pacs_ui.py"""

import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "pacs"))
DATA_DIR = Path(os.environ.get("XRAYDESK_DATA") or REPO_ROOT / ".." / "shared" / "data").resolve()
TICK_MS = 5
PATIENT = "XRAYDESK-BENCH"


class StallMeter:
    """The longest gap between ticks of a TICK_MS timer on the UI thread, since start()."""

    def __init__(self):
        from PyQt5.QtCore import QTimer

        self.timer = QTimer(interval=TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.longest, self._last = 0.0, None

    def start(self) -> None:
        self.longest, self._last = 0.0, time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last - TICK_MS / 1000)
        self._last = now


def wait_until(app, condition, timeout_s: float = 60, on_timeout=lambda: "") -> None:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the PACS operation did not finish: {on_timeout()}")
        app.processEvents()
        time.sleep(0.001)


def search_and_retrieve(app, window, node, move: bool, expected: int) -> float:
    """Seconds from the search to the retrieved study scanned into the browser with its thumbnails."""
    from xraydesk.pacs.types import StudyQuery

    found, retrieved = [], []
    window.pacs.found.connect(found.extend)
    window.pacs.retrieveFinished.connect(retrieved.append)
    started = time.perf_counter()
    window.pacs.search(node, StudyQuery(patient_id=PATIENT, modalities=()))
    wait_until(app, lambda: bool(found))
    window.pacs.retrieve(node, found[:1], move=move)
    wait_until(app, lambda: bool(retrieved) and window.workers.is_idle()
               and len(window.reading.session.image_paths()) == expected, on_timeout=lambda: retrieved)
    seconds = time.perf_counter() - started
    window.pacs.found.disconnect(found.extend)
    window.pacs.retrieveFinished.disconnect(retrieved.append)
    return seconds


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="xraydesk-bench-"))
    os.environ["XDG_CONFIG_HOME"], os.environ["XDG_DATA_HOME"] = str(scratch / "config"), str(scratch / "data")
    from orthanc_server import OrthancServer
    from PyQt5.QtWidgets import QApplication

    from xraydesk.pacs.nodes import LocalSide, PacsSettings
    from xraydesk.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    files = sorted((DATA_DIR / "dicom" / "rsna").glob("*.dcm"))
    with OrthancServer(scratch / "orthanc") as server:
        server.upload_as_one_study(files, PATIENT)
        window = MainWindow()
        window.actions["auto_analyse"].setChecked(False)  # the network alone, not the model
        window.show()
        window.pacs.save_settings(PacsSettings(LocalSide(ae_title=server.our_aet, listener_port=server.our_port),
                                               [server.dimse_node, server.dicomweb_node]))
        window.pacs.set_listening(True)
        wait_until(app, lambda: window.pacs.listener is not None)
        meter = StallMeter()
        print(f"Orthanc 1.10 on loopback; one study of {len(files)} RSNA images; UI tick {TICK_MS} ms")
        for label, node, move in (("C-GET", server.dimse_node, False),
                                  ("C-MOVE to the listener", server.dimse_node, True),
                                  ("WADO-RS", server.dicomweb_node, False)):
            window.studies.open_paths([scratch / "empty"])  # a fresh browser, and a fresh store folder below
            window.pacs.store.root = scratch / "store" / label.split()[0]
            meter.start()
            seconds = search_and_retrieve(app, window, node, move, len(files))
            print(f"{label:<24} search + retrieve + scan + thumbnails {seconds:5.1f} s, "
                  f"longest UI stall {meter.longest * 1000:5.1f} ms (target <= 50 ms)")
        meter.timer.stop()
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
