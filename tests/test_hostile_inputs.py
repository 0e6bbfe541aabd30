"""Crafted hostile inputs (issue 10) against the scan and the loader: each is refused with a reason,
quickly, and never stops the files around it."""

import os
import threading
import tracemalloc

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import DeflatedExplicitVRLittleEndian

from xraydesk.imaging import (
    ERROR,
    IMAGE,
    ImageLoadError,
    load_image,
    loading,
    render_default,
    scan_paths,
)


def scan_within(paths, seconds: float = 30.0) -> dict:
    """scan_paths in a thread, failing (instead of hanging the run) when it does not end in time."""
    result = {}
    thread = threading.Thread(target=lambda: result.update(entries=scan_paths(paths)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the scan hangs"
    return {entry.path.name: entry for entry in result["entries"]}


def load_reason(path) -> str:
    with pytest.raises(ImageLoadError) as raised:
        load_image(path)
    return raised.value.reason


def test_a_file_linked_to_itself_is_an_error_and_the_scan_goes_on(make_dicom, tmp_path):
    make_dicom("good.dcm")
    (tmp_path / "self.dcm").symlink_to(tmp_path / "self.dcm")
    entries = scan_within([tmp_path])
    assert entries["good.dcm"].kind == IMAGE
    assert (entries["self.dcm"].kind, entries["self.dcm"].reason) == (ERROR, "symbolic link loop")
    assert scan_within([tmp_path / "self.dcm"])["self.dcm"].reason == "symbolic link loop"
    assert load_reason(tmp_path / "self.dcm") == "symbolic link loop"


def test_fifo_and_device_files_are_refused_without_reading_them(make_dicom, tmp_path):
    make_dicom("good.dcm")
    os.mkfifo(tmp_path / "fifo.dcm")
    (tmp_path / "zero.dcm").symlink_to("/dev/zero")
    entries = scan_within([tmp_path])
    assert entries["good.dcm"].kind == IMAGE
    assert entries["fifo.dcm"].reason == "not a regular file (a named pipe (FIFO)); only regular files are read"
    assert entries["zero.dcm"].reason == "not a regular file (a character device); only regular files are read"
    assert all(entries[name].kind == ERROR for name in ("fifo.dcm", "zero.dcm"))
    assert load_reason(tmp_path / "zero.dcm").startswith("not a regular file")


def test_a_file_above_the_size_limit_is_refused_with_its_size(make_dicom, tmp_path, monkeypatch):
    path = make_dicom("big.dcm", np.zeros((1024, 1024), dtype=np.uint16))  # 2 MiB of pixels
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 2**20)
    assert load_reason(path) == "file too large (2 MiB; the limit is 1 MiB)"
    assert scan_within([path])["big.dcm"].reason == "file too large (2 MiB; the limit is 1 MiB)"


@pytest.mark.parametrize("slope", ["NaN", "inf", "-inf", "1e300"])
def test_invalid_rescale_values_are_a_load_error(make_dicom, slope):
    path = make_dicom(f"slope-{slope}.dcm", RescaleSlope=slope, RescaleIntercept="0")
    assert load_reason(path).startswith("invalid rescale values")


def deflated(make_dicom, name: str, pixels: np.ndarray):
    path = make_dicom(name, pixels)
    dataset = pydicom.dcmread(path)
    dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    dataset.save_as(path)
    return path


def test_a_deflated_file_inflates_within_the_cap(make_dicom):
    pixels = np.zeros((256, 256), dtype=np.uint16)
    pixels[10:50, 20:200] = 1000
    image = load_image(deflated(make_dicom, "small.dcm", pixels))
    np.testing.assert_array_equal(image.pixels, pixels)


def test_a_deflate_bomb_is_refused_without_inflating_it(make_dicom, monkeypatch):
    """8 MiB of zeros deflate to ~10 kB; with the cap lowered to 1 MiB, neither the header scan nor
    the loader may hold more than a few MiB (pydicom alone would inflate all 8 MiB)."""
    bomb = deflated(make_dicom, "bomb.dcm", np.zeros((2048, 2048), dtype=np.uint16))
    assert bomb.stat().st_size < 20_000
    monkeypatch.setattr(loading, "MAX_INFLATED_BYTES", 2**20)
    tracemalloc.start()
    try:
        entry = scan_within([bomb])["bomb.dcm"]
        reason = load_reason(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert entry.kind == ERROR and entry.reason.startswith("deflated data set inflates beyond 1 MiB")
    assert reason == entry.reason
    assert peak < 4 * 2**20


@pytest.mark.parametrize("name", ["noise.png", "noise.jpg", "noise.jpeg"])
def test_random_bytes_named_like_an_image_are_an_error(tmp_path, name):
    (tmp_path / name).write_bytes(np.random.default_rng(1).bytes(4096))
    entry = scan_within([tmp_path])[name]
    assert (entry.kind, entry.reason) == (ERROR, "not a DICOM, PNG or JPEG file")


def test_linked_folders_are_scanned_once_and_link_loops_end(make_dicom, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pixels = np.zeros((8, 8), dtype=np.uint8)
    Image.fromarray(pixels).save(elsewhere / "linked.png")
    scanned = tmp_path / "scanned"
    scanned.mkdir()
    Image.fromarray(pixels).save(scanned / "own.png")
    (scanned / "link").symlink_to(elsewhere)
    (scanned / "link again").symlink_to(elsewhere)
    (scanned / "loop").symlink_to(scanned)
    entries = scan_paths([scanned])  # a thread would not help: a loop without protection ends in ELOOP
    assert sorted(entry.path.name for entry in entries) == ["linked.png", "own.png"]
    assert all(entry.kind == IMAGE for entry in entries)


def test_the_same_pixels_at_8_and_16_bits_render_alike(tmp_path):
    """A grey-scale PNG without a window is scaled from the bit depth its values use."""
    pixels = np.random.default_rng(2).integers(0, 256, (64, 64), dtype=np.uint8)
    pixels[0, 0] = 255
    Image.fromarray(pixels).save(tmp_path / "eight.png")
    Image.fromarray(pixels.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    twelve = (pixels.astype(np.uint32) * 4095 // 255).astype(np.uint16)  # 12-bit data in a 16-bit file
    Image.fromarray(twelve).save(tmp_path / "twelve.png")
    eight = render_default(load_image(tmp_path / "eight.png"))
    np.testing.assert_array_equal(eight, pixels)
    np.testing.assert_array_equal(render_default(load_image(tmp_path / "sixteen.png")), pixels)
    assert np.abs(render_default(load_image(tmp_path / "twelve.png")).astype(int) - pixels).max() <= 1
