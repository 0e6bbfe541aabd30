"""The reader's work survives the app (pytest-qt, offscreen, a real Orthanc): a ruler, a CTR, an arrow and
a key-image mark made on a real film are back with the same values when the folder is opened again in a
new window, and after being sent to the PACS, the local store deleted and the study retrieved; with no
Save step anywhere. The same film opened again never has its folder changed."""

import json
import shutil

import numpy as np
import pydicom
import pytest
from fakes import FakeAnalyser
from pacs.orthanc_server import serve_for_tests
from PyQt5.QtCore import Qt
from ui_helpers import WAIT_MS, click, drag, open_and_wait, screen_point, shown_window, wait_for_image

from xraydesk.dicom_results.reading_record import key_series_uid, record_series_uid
from xraydesk.pacs.local_store import default_store_root
from xraydesk.pacs.nodes import LocalSide, PacsSettings
from xraydesk.ui.pacs_dialogs import SendResultsDialog

FILM = "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm"  # 1024 x 1024, Pixel Spacing 0.143 mm
KEY_REASON = "For Teaching"


@pytest.fixture(scope="module")
def film_source(dicom_dir):
    path = dicom_dir / "rsna" / FILM
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory, film_source):
    yield from serve_for_tests(tmp_path_factory.mktemp("orthanc"), [film_source])


@pytest.fixture
def film(film_source, tmp_path):
    """The film alone in a folder of its own (the reader's source folder, never written to)."""
    folder = tmp_path / "reading"
    folder.mkdir()
    return shutil.copy(film_source, folder / FILM)


def reading_window(qtbot, orthanc=None):
    window = shown_window(qtbot, FakeAnalyser())
    if orthanc is not None:
        window.pacs.save_settings(PacsSettings(
            local=LocalSide(ae_title=orthanc.our_aet, listener_port=orthanc.our_port, timeout_s=10),
            nodes=[orthanc.dimse_node]))
    return window


def read_on(qtbot, window, path) -> list[str]:
    """A ruler dragged, a CTR clicked, an arrow with text and the key-image mark (K) on the film shown;
    returns the Measurements panel's lines."""
    canvas, layer = window.canvas, window.measurement_layer
    layer.set_mode("ruler")
    drag(canvas, Qt.LeftButton, screen_point(canvas, 200, 300), screen_point(canvas, 700, 420))
    layer.set_mode("ctr")  # not analysed: nothing to pre-fill from, four clicks
    for point in ((380, 600), (640, 600), (150, 640), (880, 640)):
        click(canvas, screen_point(canvas, *point))
    layer.ask_text = lambda: "look here"
    layer.set_mode("arrow")
    click(canvas, screen_point(canvas, 620, 410))
    click(canvas, screen_point(canvas, 760, 300))
    window.saved_reading.ask_reason = lambda current: KEY_REASON
    window.mark_key_image()
    lines = panel_lines(window)
    assert [line.split()[0] for line in lines] == ["Ruler", "CTR", "Arrow:"]
    assert window.browser.key_image_paths() == [path]
    return lines


def panel_lines(window) -> list[str]:
    return window.measurements_dock.widget().descriptions()


def wait_for_reading(qtbot, window, path, count: int) -> None:
    qtbot.waitUntil(lambda: window.canvas.image is not None and window.canvas.image.path == path
                    and len(panel_lines(window)) == count, timeout=WAIT_MS)


def test_a_reading_is_back_when_the_folder_is_opened_again(qtbot, film):
    first = reading_window(qtbot)
    open_and_wait(qtbot, first, [film.parent])
    wait_for_image(qtbot, first, film)
    lines = read_on(qtbot, first, film)
    measurements = tuple(first.reading.session.measurements.for_image(film))
    header = pydicom.dcmread(film, stop_before_pixels=True)
    study = default_store_root() / header.StudyInstanceUID
    saved = sorted([record_series_uid(header.SOPInstanceUID), key_series_uid(header.SOPInstanceUID)])
    # No Save: written a moment after the last change, the window still open
    qtbot.waitUntil(lambda: sorted(path.parent.name for path in study.rglob("*.dcm")) == saved, timeout=WAIT_MS)
    assert [path.name for path in film.parent.iterdir()] == [FILM]  # the source folder is never written to
    first.close()

    second = reading_window(qtbot)
    open_and_wait(qtbot, second, [film.parent])
    wait_for_reading(qtbot, second, film, 3)
    assert panel_lines(second) == lines
    restored = tuple(second.reading.session.measurements.for_image(film))
    for before, after in zip(measurements, restored):
        assert type(after) is type(before)
        np.testing.assert_allclose(after.points, before.points, atol=1e-4)  # SCOORD holds float32
    assert restored[2].text == "look here"
    assert second.reading.session.key_reason(film) == KEY_REASON
    assert second.browser.key_image_paths() == [film]
    second.close()


def test_a_deletion_is_kept_too(qtbot, film):
    first = reading_window(qtbot)
    open_and_wait(qtbot, first, [film.parent])
    wait_for_image(qtbot, first, film)
    read_on(qtbot, first, film)
    first.close()
    second = reading_window(qtbot)
    open_and_wait(qtbot, second, [film.parent])
    wait_for_reading(qtbot, second, film, 3)
    panel = second.measurements_dock.widget()
    panel.list.selectAll()
    panel.delete_selected()
    second.saved_reading.ask_reason = lambda current: "Not a key image"
    second.mark_key_image()
    second.close()  # what still waits is written as the window closes
    third = reading_window(qtbot)
    open_and_wait(qtbot, third, [film.parent])
    wait_for_image(qtbot, third, film)
    assert panel_lines(third) == [] and third.reading.session.key_reason(film) is None
    third.close()


def test_a_reading_sent_to_the_pacs_comes_back_with_the_study_into_an_empty_store(qtbot, orthanc, film):
    first = reading_window(qtbot, orthanc)
    open_and_wait(qtbot, first, [film.parent])
    wait_for_image(qtbot, first, film)
    lines = read_on(qtbot, first, film)
    first.send_results_to_pacs()  # the image on screen: not analysed, its reading goes alone
    dialog = first.findChild(SendResultsDialog)
    qtbot.mouseClick(dialog.send_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Results of"), timeout=WAIT_MS)
    assert dialog.images.item(0, 1).text() == "sent (measurements, key image)"
    first.close()

    header = pydicom.dcmread(film, stop_before_pixels=True)
    found = orthanc.rest_post("/tools/find", json.dumps({"Level": "Instance", "Expand": True, "Query": {
        "StudyInstanceUID": header.StudyInstanceUID}}))
    assert sorted(orthanc.rest_get(f"/instances/{instance['ID']}/simplified-tags")["Modality"]
                  for instance in found) == ["CR", "KO", "SR"]  # the film, its key-image document, its record
    shutil.rmtree(default_store_root())

    second = reading_window(qtbot, orthanc)
    second.show_pacs_query()
    query = second.query_dialog
    query.patient_id.setText(str(header.PatientID))
    qtbot.mouseClick(query.search_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: query.results.rowCount() == 1, timeout=WAIT_MS)
    query.results.selectRow(0)
    qtbot.mouseClick(query.retrieve_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: second.canvas.image is not None
                    and default_store_root() in second.canvas.image.path.parents, timeout=WAIT_MS)
    retrieved = second.canvas.image.path
    wait_for_reading(qtbot, second, retrieved, 3)
    assert panel_lines(second) == lines
    assert second.reading.session.key_reason(retrieved) == KEY_REASON
    query.close()
    second.close()


def test_a_change_overtaken_by_a_newer_one_is_not_written_over_it(film):
    """The flush as the window closes may write before a worker still holding an older change."""
    from xraydesk.imaging.measurements import Ruler
    from xraydesk.ui.saved_reading import Change, ChangeWriter

    written = []

    class Archive:
        def save_measurements(self, image, measurements):
            written.append(measurements)

    writer = ChangeWriter(Archive)
    older, newer = (Ruler(((0.0, 0.0), (1.0, 1.0))),), (Ruler(((0.0, 0.0), (2.0, 2.0))),)
    assert writer.write({film: Change(newer, number=2)}, lambda path: path) == {film: ""}
    assert writer.write({film: Change(older, number=1)}, lambda path: path) == {film: None}
    assert written == [newer]
