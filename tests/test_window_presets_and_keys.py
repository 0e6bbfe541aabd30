"""Chest window presets (xraydesk.reading.presets) and the reader's keyboard shortcuts
(xraydesk.ui.key_bindings), without Qt: the presets' windows on CT and on films of any bit depth, edits kept
in the settings, and the rule that one key does one thing."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from xraydesk.imaging import ImageDisplay, ViewState, Window, XRayImage
from xraydesk.imaging.study_keys import StudyKeys
from xraydesk.reading import MemoryStore, Reading
from xraydesk.reading.presets import DEFAULT_PRESETS, ChestPresets
from xraydesk.ui.actions import ACTIONS
from xraydesk.ui.key_bindings import KeyBindings, ShortcutConflict

# 0..99 in bands of 4 rows, as ImageDisplay's statistics (every 4th row) see them: percentile p is 0.99 p.
RAMP = np.repeat(np.arange(100, dtype=np.float32), 4)[:, None] * np.ones((1, 40), np.float32)


def film(pixels: np.ndarray, **fields) -> ImageDisplay:
    return ImageDisplay(XRayImage(Path("/films/a.png"), pixels, "PNG", 8, **fields))


def bounds(window: Window) -> tuple[float, float]:
    return window.center - window.width / 2, window.center + window.width / 2


def test_film_presets_window_percentiles_of_the_image_whatever_its_bit_depth():
    presets = ChestPresets(MemoryStore())
    for scale in (255 / RAMP.max(), 65535 / RAMP.max()):  # the same film at 8 and 16 bits
        display = film(RAMP * scale)
        low, high = bounds(presets.window("mediastinum", display))
        assert (low / scale, high / scale) == pytest.approx((0.5 * 99, 99), rel=0.01)  # 50 % .. 100 %
        lung_low, lung_high = bounds(presets.window("lung", display))
        assert (lung_low / scale, lung_high / scale) == pytest.approx((0.02 * 99, 0.6 * 99), rel=0.01)  # air: dark
        assert presets.window("lung", display) == display.lung_window()
    inverted = film(RAMP, presentation_inverted=True)  # air stored bright: the same tissue, the other end
    assert bounds(presets.window("bone", inverted))[1] == pytest.approx(0.30 * 99, rel=0.01)


def test_ct_gets_absolute_hounsfield_windows_and_default_is_the_images_own():
    presets = ChestPresets(MemoryStore())
    ct = ImageDisplay(XRayImage(Path("/ct/1.dcm"), RAMP - 1024, "DICOM", 12, keys=StudyKeys(modality="CT"),
                                header_windows=[Window(50, 350, label="Header")]))
    assert presets.window("mediastinum", ct) == Window(40, 400, label="Mediastinum")
    assert presets.window("lung", ct) == Window(-600, 1500, label="Lung")
    assert presets.window("default", ct).label == "Header"


def test_edited_presets_are_saved_loaded_and_refused_when_unusable():
    store = MemoryStore()
    lung, mediastinum, bone = ChestPresets(store).all()
    ChestPresets(store).save([lung, replace(mediastinum, ct_center=60.0, film_width=30.0), bone])
    reloaded = ChestPresets(store).get("mediastinum")  # as after a restart: read from the settings
    assert (reloaded.ct_center, reloaded.film_width, reloaded.film_percentiles()) == (60.0, 30.0, (60.0, 90.0))
    broken = replace(bone, film_center=140.0)
    with pytest.raises(ValueError, match="Bone: the film center"):
        ChestPresets(store).save([lung, reloaded, broken])
    assert ChestPresets(store).get("bone") == bone  # nothing saved
    ChestPresets(store).reset()
    assert ChestPresets(store).all() == DEFAULT_PRESETS
    assert ChestPresets(MemoryStore({"window_presets": "{not json"})).all() == DEFAULT_PRESETS


def test_the_reading_applies_a_preset_to_the_view():
    reading = Reading(settings=MemoryStore())
    display = film(RAMP)
    reading.display = display
    reading.follow_view(ViewState(display.default_window()))
    reading.chest_preset("bone")
    assert reading.view.window == reading.chest_presets.window("bone", display)
    assert reading.view.window.label == "Bone"


def test_presets_are_on_keys_1_to_4():
    keys = {spec.id: spec.shortcut for spec in ACTIONS}
    assert [keys[name] for name in ("lung_window", "mediastinum_window", "bone_window", "default_window")] == [
        "1", "2", "3", "4"]


def test_a_key_another_action_has_is_refused_naming_it_and_changes_are_kept():
    store = MemoryStore()
    bindings = KeyBindings(ACTIONS, store)
    with pytest.raises(ShortcutConflict, match="“Invert”"):
        bindings.set("fit", "i")  # case does not matter
    assert bindings.key("fit") == "F"
    with pytest.raises(ShortcutConflict, match="Cancel the measurement"):
        bindings.set("fit", "Esc")
    bindings.set("fit", "Ctrl+9")
    bindings.set("invert", "F")  # F is free now
    reloaded = KeyBindings(ACTIONS, store)  # as after a restart
    assert (reloaded.key("fit"), reloaded.key("invert"), reloaded.holder("F").id) == ("Ctrl+9", "F", "invert")
    reloaded.reset()
    assert (reloaded.key("fit"), reloaded.key("invert")) == ("F", "I")
    assert KeyBindings(ACTIONS, MemoryStore({"shortcuts": "[1, 2]"})).key("fit") == "F"
