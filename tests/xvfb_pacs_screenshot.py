"""The Query / Retrieve dialog on a real X display, filled from a throw-away Orthanc holding the shared
DICOM chest films: searches every CR/DX study, retrieves the first one and saves a screenshot of the
dialog taken from the X server. Settings and the local store go to a temporary folder. Makes the
README's docs/pacs-query.png:
xvfb-run -a python tests/xvfb_pacs_screenshot.py docs/pacs-query.png ../shared/data/dicom"""

import argparse
import os
import sys
import tempfile
import urllib.error
from pathlib import Path

from pacs.orthanc_server import OrthancServer
from PyQt5.QtCore import Qt
from xvfb_screenshot import settle, wait_until

from xraydesk.pacs.nodes import LocalSide, PacsSettings

DATE_COLUMN = 2
SOURCES = ("rsna", "wg04", "nih", "siim", "canon")  # chest films; the dialog's default filter is CR, DX


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("output", type=Path)
    parser.add_argument("dicom_dir", type=Path, help="the shared data's dicom folder")
    arguments = parser.parse_args()
    files = sorted(path for source in SOURCES for path in (arguments.dicom_dir / source).iterdir()
                   if path.is_file() and path.suffix != ".csv")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["XDG_CONFIG_HOME"] = str(Path(folder) / "config")
        os.environ["XDG_DATA_HOME"] = str(Path(folder) / "data")
        with OrthancServer(Path(folder) / "orthanc", aet="HOSPITAL_PACS") as orthanc:
            for path in files:
                try:
                    orthanc.upload([path])
                except urllib.error.HTTPError as error:  # a file Orthanc will not store is left out of the picture
                    print(f"{path.name}: not uploaded ({error})")
            return screenshot(orthanc, arguments.output)


def screenshot(orthanc: OrthancServer, output: Path) -> int:
    from xraydesk.ui.app import create_application
    from xraydesk.ui.main_window import MainWindow

    app = create_application([])
    window = MainWindow()
    window.actions["auto_analyse"].setChecked(False)
    node = orthanc.dimse_node
    node.name = "Hospital PACS"
    window.pacs.save_settings(PacsSettings(local=LocalSide(ae_title=orthanc.our_aet, listener_port=orthanc.our_port),
                                           nodes=[node]))
    window.resize(1400, 860)
    window.show()
    window.show_pacs_query()
    dialog = window.query_dialog
    dialog.move(window.x() + 120, window.y() + 80)
    dialog.search()
    wait_until(app, lambda: dialog.results.rowCount() > 0)
    dialog.results.sortItems(DATE_COLUMN, Qt.DescendingOrder)  # the dated study with a description first
    dialog.results.selectRow(0)
    dialog.retrieve()
    wait_until(app, lambda: not window.pacs.retrieving and window.canvas.image is not None)
    settle(app)
    dialog.screen().grabWindow(dialog.winId()).save(str(output))
    print(f"{dialog.results.rowCount()} studies listed; {dialog.status.text()}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
