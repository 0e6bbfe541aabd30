"""The reading model without Qt (xraydesk.reading): the Open rule (Open replaces the studies, the
analyses, read marks, measurements and drafts; Add folder adds), the image on screen and its view, when
an image counts as read, the next unread flagged image, the hanging protocol, the draft report, header
windows, the export scope, recent files and remembered options."""

from pathlib import Path

import numpy as np
import pytest
from fakes import FakeAnalyser, synthetic_analysis

from xraydesk.ai.gate import InputCheck
from xraydesk.ai.words import is_flagged
from xraydesk.imaging import IMAGE, ImageDisplay, ScanEntry, ViewState, Window, XRayImage
from xraydesk.imaging.measurements import Ruler
from xraydesk.imaging.study_keys import StudyKeys
from xraydesk.reading import MemoryStore, Reading
from xraydesk.reading.recent import RECENT_LIMIT


def entry(folder: str, name: str, patient: str = "P1") -> ScanEntry:
    keys = StudyKeys(patient_id=patient, study_uid=f"1.{folder}", study_date="20240105", study=f"1.{folder}")
    return ScanEntry(Path(f"/{folder}/{name}.dcm"), IMAGE, source_format="DICOM", keys=keys)


def display(path: Path, windows: list[Window] = ()) -> ImageDisplay:
    pixels = np.add.outer(np.arange(16), np.arange(16)).astype(np.float32)
    return ImageDisplay(XRayImage(path, pixels, "DICOM", 12, header_windows=list(windows)))


def opened(reading: Reading, *entries: ScanEntry) -> list[Path]:
    for scanned in entries:
        reading.session.add(scanned)
    return [scanned.path for scanned in entries]


@pytest.fixture
def reading() -> Reading:
    return Reading(FakeAnalyser())


def test_open_replaces_the_analyses_read_marks_measurements_and_the_screen_and_a_late_result_is_dropped(reading):
    first = opened(reading, entry("a", "1"), entry("a", "2"))
    cleared, shown = [], []
    reading.analyses_cleared.connect(lambda: cleared.append(True))
    reading.closed.connect(lambda: shown.append(None))
    reading.show(display(first[0]))
    reading.dwelt()
    assert reading.keep(synthetic_analysis(first[0])) and reading.session.is_read(first[0])
    reading.session.measurements.for_image(first[0]).add(Ruler(((1.0, 1.0), (5.0, 1.0))))
    reading.options.set("compare", True)

    reading.session.clear()  # what File ▸ Open does before scanning the new folder
    assert cleared == [True] and shown == [None]
    assert not reading.analyses and reading.current is None and reading.view is None
    assert not reading.session.is_read(first[0]) and not list(reading.session.measurements.for_image(first[0]))
    assert reading.options["compare"] is False
    second = opened(reading, entry("b", "1"))
    assert not reading.keep(synthetic_analysis(first[1]))  # the old folder's worklist, arriving late
    assert reading.keep(synthetic_analysis(second[0]))
    assert list(reading.analyses) == second


def test_add_folder_keeps_what_is_open(reading):
    first = opened(reading, entry("a", "1"))
    reading.keep(synthetic_analysis(first[0]))
    added = opened(reading, entry("b", "1"))  # Add folder, a retrieve or the listener: no clear
    reading.keep(synthetic_analysis(added[0]))
    assert list(reading.analyses) == first + added
    assert [a.path for a in reading.analyses_to_report("all")] == first + added


def test_an_image_is_read_once_it_stays_on_screen_and_is_analysed_on_showing_only_when_wanted(reading):
    paths = opened(reading, entry("a", "1"), entry("a", "2"))
    wanted, shown = [], []
    reading.analysis_wanted.connect(lambda image: wanted.append(image.path))
    reading.analysis_shown.connect(shown.append)
    reading.show(display(paths[1]))
    reading.show(display(paths[0]))  # paged past the first one shown
    reading.dwelt()  # the second one stayed on screen
    assert not reading.session.is_read(paths[1]) and reading.session.is_read(paths[0])
    assert wanted == paths[::-1] and shown == [None, None]
    wanted.clear()
    shown.clear()
    reading.show(display(paths[0]))
    analysis = synthetic_analysis(paths[0])
    reading.keep(analysis)
    assert shown == [None, analysis]  # the image on screen gets its result
    reading.keep(synthetic_analysis(paths[1]))
    assert shown == [None, analysis]  # another image's result is kept, not shown
    reading.show(display(paths[1]))
    assert wanted == [paths[0]]  # analysed already
    reading.options.set("auto_analyse", False)
    reading.show(display(paths[0]))
    reading.toggle_read()  # M: the reader's word, which the time on screen does not overrule
    reading.dwelt()
    assert not reading.session.is_read(paths[0])


def test_next_unread_flagged_follows_the_given_order_and_skips_read_and_unflagged_images(reading):
    paths = opened(reading, *(entry("a", str(index)) for index in range(4)))
    for path, p in zip(paths, (0.9, 0.02, 0.8, 0.7)):
        reading.keep(synthetic_analysis(path, p))
    flagged = [path for path in paths if is_flagged(reading.analyses[path])]
    assert paths[0] in flagged and paths[2] in flagged
    reading.session.set_read(paths[2])
    order = list(reversed(paths))
    assert reading.next_unread_flagged(order) == next(p for p in order if p in flagged and p != paths[2])
    for path in flagged:
        reading.session.set_read(path)
    assert reading.next_unread_flagged(order) is None


def test_next_unread_flagged_goes_on_from_the_image_on_screen_and_comes_round_to_a_film_passed_over(reading):
    paths = opened(reading, *(entry("a", str(index)) for index in range(4)))
    for path in paths:
        reading.keep(synthetic_analysis(path, 0.9))
    reading.show(display(paths[2]))  # unread while on screen: never the next one
    assert reading.next_unread_flagged(paths) == paths[3]
    reading.session.set_read(paths[3])
    assert reading.next_unread_flagged(paths) == paths[0]


def test_the_hanging_protocol_turns_compare_on_when_a_study_with_a_prior_opens(reading):
    def film(folder: str, date: str, view: str) -> ScanEntry:
        keys = StudyKeys(patient_id="P1", study_uid=f"1.{folder}", study_date=date, view_position=view, study=f"1.{folder}")
        return ScanEntry(Path(f"/{folder}/{view}.dcm"), IMAGE, source_format="DICOM", keys=keys)

    prior, current, lateral = opened(reading, film("a", "20240101", "PA"), film("b", "20240105", "PA"),
                                     film("b", "20240105", "LL"))
    reading.show(display(current))
    assert reading.options["compare"] is False  # off until the reader turns the protocol on
    reading.options.set("hanging_protocol", True)
    reading.show(display(prior))  # the first study: no prior to hang
    assert reading.options["compare"] is False
    reading.show(display(current))
    assert reading.options["compare"] is True
    assert reading.session.hanging_prior(current) == (0, prior)  # PA beside PA
    reading.options.set("compare", False)
    reading.show(display(lateral))  # the same study: the reader's choice stands
    assert reading.options["compare"] is False


def test_the_draft_report_is_the_readers_edit_once_made_and_open_clears_it(reading):
    [path] = opened(reading, entry("a", "1"))
    reading.show(display(path))
    analysis = synthetic_analysis(path)
    reading.keep(analysis)
    assert reading.draft_of(analysis)  # the model's own draft
    reading.keep_draft("Edited by the reader.")
    assert reading.draft_of(analysis) == "Edited by the reader."
    reading.session.clear()
    assert reading.draft_of(analysis) != "Edited by the reader."


def test_header_windows_in_turn_presets_and_invert_change_the_view_for_the_canvas(reading):
    [path] = opened(reading, entry("a", "1"))
    windows = [Window(100, 50, label="One"), Window(200, 80, label="Two")]
    reading.show(display(path, windows))
    views = []
    reading.view_changed.connect(views.append)
    reading.follow_view(ViewState(windows[0]))  # as the canvas reports its view
    reading.next_header_window()
    reading.next_header_window()
    reading.set_invert(True)
    reading.window_preset("full_range_window")
    assert [view.window.label for view in views] == ["One", "Two", "One", "One", "Full range"]
    assert views[-1].invert
    reading.follow_view(views[-1])  # the canvas echoing the model's own change
    assert len(views) == 5


def test_the_export_scope_counts_the_open_analyses_and_leaves_refused_images_out_unless_asked(reading):
    paths = opened(reading, entry("a", "positive"), entry("a", "negative"), entry("a", "head-ct"))
    reading.keep(synthetic_analysis(paths[0], 0.95))
    reading.keep(synthetic_analysis(paths[1], 0.02))
    reading.keep(synthetic_analysis(paths[2], check=InputCheck(False, "modality CT is not a chest radiograph")))
    reading.show(display(paths[1]))
    counts = reading.scope_counts(selected=[paths[0]])
    assert counts["all"] == 2 and counts["current"] == 1 and counts["selection"] == 1
    assert reading.refused_count() == 1
    assert [a.path for a in reading.analyses_to_report(selected=[paths[0]])] == [paths[0]]
    assert len(reading.analyses_to_report("all", include_refused=True)) == 3
    assert reading.results_to_send([])[0] == [paths[1]]  # nothing selected: the image on screen


def test_recent_files_and_remembered_options_live_in_the_settings_store(tmp_path):
    store = MemoryStore()
    reading = Reading(FakeAnalyser(), store)
    folders = [tmp_path / f"folder{index}" for index in range(RECENT_LIMIT + 2)]
    for folder in folders:
        reading.recent.remember([folder])
    reading.recent.remember([folders[3]])
    assert reading.recent.paths()[:2] == [str(folders[3]), str(folders[-1])]
    assert len(reading.recent.paths()) == RECENT_LIMIT
    reading.options.set("deidentify_pdf", False)
    reading.options.set("heatmap", False)  # for this session only
    again = Reading(FakeAnalyser(), store)
    assert again.options["deidentify_pdf"] is False and again.options["heatmap"] is True
    assert again.recent.paths() == reading.recent.paths()


def test_an_observer_that_sets_its_option_again_leaves_the_others_seeing_the_newest_value(reading):
    seen = []
    reading.options.observe("compare", lambda on: reading.options.set("compare", False))  # no prior: refused
    reading.options.observe("compare", seen.append)
    reading.options.set("compare", True)
    assert reading.options["compare"] is False and seen == [False, False]
    with pytest.raises(KeyError):
        reading.options.set("no such option", True)
